"""Free text as operators may see it: numbers that could be a phone and the reporter's own name
replaced by a marker. Applied before a report's free text is stored and again when it is served,
so rows stored before this rule existed are covered too."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

MARKER = "[…]"
MIN_DIGITS = 7  # fewer digits is a count, a date part or a reference; 7 or more may be a number to call
MIN_NAME_LETTERS = 3  # shorter parts of a name ("de", "Al") are ordinary words too

# A digit group, optionally led by "+" or "(", and further groups joined by at most three spaces,
# dots, dashes or parentheses: "+227 90 12 34 56", "90-12-34-56", "(+227) 90.12.34.56",
# "0022790123456". A slash does not join groups, so a date stays a date.
_NUMBER_LIKE = re.compile(r"[+(]{0,2}\d+(?:[\s.\-()]{1,3}\d+)*\)?")
_WORD = re.compile(r"\w+")
_MARKERS_IN_A_ROW = re.compile(re.escape(MARKER) + r"(?:\s*" + re.escape(MARKER) + ")+")


def _folded(word: str) -> str:
    """A word compared without case or accents: "AÏSSA" and "aissa" are the same name."""
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c)).casefold()


def _name_words(names: Iterable[str | None]) -> set[str]:
    return {_folded(word) for name in names if name for word in _WORD.findall(name)
            if len(word) >= MIN_NAME_LETTERS and not word.isdigit()}


def _hide_number(match: re.Match) -> str:
    token = match.group()
    return MARKER if sum(c.isdigit() for c in token) >= MIN_DIGITS else token


def redact(text: str | None, *names: str | None) -> str | None:
    """`text` without phone-like numbers or any word of `names` (the reporter's registered name)."""
    if not text:
        return text
    hidden = _NUMBER_LIKE.sub(_hide_number, text)
    name_words = _name_words(names)
    if name_words:
        hidden = _WORD.sub(lambda m: MARKER if _folded(m.group()) in name_words else m.group(), hidden)
    return _MARKERS_IN_A_ROW.sub(MARKER, hidden)
