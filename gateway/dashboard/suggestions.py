"""Lexicon words proposed from the review queue. They go to a suggestions file, never into
locales/<lang>/keywords.toml: an operator accepts or rejects each one from the dashboard (a
[[decision]] appended to the same file), and an accepted word is one line of the overlay
<lexicon_overlay_dir>/<lang>/keywords.local.toml, which the parser reads after the shipped lexicon."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from gateway.parser.lexicon import OVERLAY_NAME

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


@dataclass(frozen=True)
class Pending:
    """A suggestion not yet accepted or rejected; `index` is its place in the file (from 1), which only grows."""

    index: int
    word: str
    lang: str
    incident: str
    message_id: int


def resolve(settings_path: str, base_dir: Path) -> Path:
    path = Path(settings_path)
    return path if path.is_absolute() else base_dir / path


def _read(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise SuggestionError(f"{path.name} cannot be read: {error}") from None


def pending(path: Path) -> list[Pending]:
    """The suggestions without a [[decision]], each word once per language (the first one asked)."""
    data = _read(path)
    decided = {d.get("index") for d in data.get("decision", []) if isinstance(d, dict)}
    found, seen = [], set()
    for index, entry in enumerate(data.get("suggestion", []), start=1):
        if index in decided or not isinstance(entry, dict):
            continue
        item = Pending(index, str(entry.get("word", "")), str(entry.get("lang", "")), str(entry.get("incident", "")),
                       int(entry.get("message_id", 0)))
        if (item.word.casefold(), item.lang) not in seen:
            seen.add((item.word.casefold(), item.lang))
            found.append(item)
    return found


def decide(path: Path, index: int, verdict: str, by: str, at: datetime) -> Pending | None:
    """Records an accept or reject of a pending suggestion, and of its duplicates (same word and
    language); None when it is not pending. The file is only appended to."""
    data = _read(path)
    decided = {d.get("index") for d in data.get("decision", []) if isinstance(d, dict)}
    entries = [e if isinstance(e, dict) else {} for e in data.get("suggestion", [])]
    if not 0 < index <= len(entries) or index in decided:
        return None
    chosen = entries[index - 1]
    item = Pending(index, str(chosen.get("word", "")), str(chosen.get("lang", "")), str(chosen.get("incident", "")),
                   int(chosen.get("message_id", 0)))
    same = [i for i, e in enumerate(entries, start=1) if i not in decided
            and str(e.get("word", "")).casefold() == item.word.casefold() and e.get("lang") == item.lang]
    with path.open("a", encoding="utf-8") as handle:
        for i in same:
            handle.write(f"\n[[decision]]\nindex = {i}\nverdict = {_toml_string(verdict)}\nby = {_toml_string(by)}\n"
                         f"at = {at.isoformat()}\n")
    return item


def accept_word(overlay_dir: Path, item: Pending, by: str, at: datetime) -> bool:
    """Appends the word as one `"word" = "incident"` line to overlay_dir/<lang>/keywords.local.toml,
    with who accepted it and when; False when the file already holds the word."""
    word = checked_word(item.word)
    path = overlay_dir / item.lang / OVERLAY_NAME
    if word.casefold() in {key.casefold() for key in _read(path).get("words", {})}:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    is_new = not path.exists()
    with path.open("a", encoding="utf-8") as handle:
        if is_new:
            handle.write("# Words accepted from the dashboard's lexicon suggestions, read after keywords.toml.\n"
                         "# Operators may edit this file; the gateway reloads it when a word is accepted.\n"
                         "[words]\n")
        handle.write(f"{_toml_string(word)} = {_toml_string(item.incident)}  # accepted by {by} at {at.isoformat()}, "
                     f"message {item.message_id}\n")
    return True
