"""Lexicon words proposed from the review queue. They go to a suggestions file, never into
locales/<lang>/keywords.toml: a person who knows the language decides what becomes a keyword."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

WORD = re.compile(r"^[^\W\d_][\w' -]{0,39}$")


class SuggestionError(ValueError):
    """A word that cannot be suggested; the message says why."""


@dataclass(frozen=True)
class Suggestion:
    word: str
    lang: str
    incident: str
    message_id: int
    by: str
    at: datetime


def _toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def checked_word(word: str) -> str:
    word = word.strip()
    if not WORD.match(word):
        raise SuggestionError("a word is letters, spaces, hyphens or apostrophes, at most 40 characters")
    return word


def append_suggestion(path: Path, suggestion: Suggestion) -> None:
    word = checked_word(suggestion.word)
    path.parent.mkdir(parents=True, exist_ok=True)
    is_new = not path.exists()
    with path.open("a", encoding="utf-8") as handle:
        if is_new:
            handle.write("# Lexicon words suggested from the dashboard's review queue, to be checked by a\n"
                         "# native speaker before being added to locales/<lang>/keywords.toml.\n")
        handle.write(f"\n[[suggestion]]\nword = {_toml_string(word)}\nlang = {_toml_string(suggestion.lang)}\n"
                     f"incident = {_toml_string(suggestion.incident)}\nmessage_id = {suggestion.message_id}\n"
                     f"by = {_toml_string(suggestion.by)}\nat = {suggestion.at.isoformat()}\n")
