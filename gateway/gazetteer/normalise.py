"""Text normalisation shared by the gazetteer and the SMS parser.

Focal points type fast on basic phones: case, accents, apostrophes, hyphens and repeated
letters ("gaaabi") must not matter. A token's *key* is its comparable form; a multi-word
name's key is the concatenation of its token keys, so "Guidan Sori", "guidan-sori" and
"GUIDANSORI" meet on one key.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Letters that do not decompose to an ASCII base under NFKD (Hausa hooked letters etc.).
_SPECIAL = str.maketrans({
    "ɓ": "b", "Ɓ": "b", "ɗ": "d", "Ɗ": "d", "ƙ": "k", "Ƙ": "k", "ƴ": "y", "Ƴ": "y",
    "œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss", "ŋ": "n", "Ŋ": "n", "ɲ": "ny",
    "ø": "o", "Ø": "o", "đ": "d", "ł": "l",
})
_APOSTROPHES = "'’‘ʼ`´"
_REPEATS = re.compile(r"([a-z])\1+")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_ROMAN = {"i": "1", "ii": "2", "iii": "3", "iv": "4", "v": "5", "vi": "6", "vii": "7", "viii": "8",
          "ix": "9", "x": "10"}
# Token boundaries: anything but letters, digits and in-word apostrophes.
_TOKEN = re.compile(r"[^\W_]+(?:[" + _APOSTROPHES + r"][^\W_]+)*")
_LETTERS_THEN_DIGITS = re.compile(r"([a-z]{3,})(\d+)|(\d+)([a-z]{3,})")


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Lower case ASCII without accents or apostrophes: "Birni N'Konni" -> "birni nkonni"."""
    text = text.translate(_SPECIAL)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    for apostrophe in _APOSTROPHES:
        text = text.replace(apostrophe, "")
    return text.lower()


@lru_cache(maxsize=65536)
def token_key(token: str) -> str:
    """The comparable form of one token: folded, roman numerals as digits, repeats collapsed."""
    folded = _NON_ALNUM.sub("", fold(token))
    roman = _ROMAN.get(folded)
    if roman is not None:
        return roman
    return _REPEATS.sub(r"\1", folded)


def split_words(text: str) -> list[tuple[int, int]]:
    """(start, end) spans of the words of `text`; "gabi12" and "12morts" are two words each."""
    spans: list[tuple[int, int]] = []
    for match in _TOKEN.finditer(text):
        start, end = match.span()
        word = match.group()
        glued = None if word.isalpha() or word.isdigit() else _LETTERS_THEN_DIGITS.fullmatch(word.lower())
        if glued and word.isascii():
            cut = start + len(glued.group(1) or glued.group(3))
            spans.append((start, cut))
            spans.append((cut, end))
        else:
            spans.append((start, end))
    return spans


def name_keys(name: str) -> tuple[str, ...]:
    """The token keys of a name: "Niamey III" -> ("niamey", "3")."""
    return tuple(key for start, end in split_words(name) if (key := token_key(name[start:end])))


def name_key(name: str) -> str:
    return "".join(name_keys(name))
