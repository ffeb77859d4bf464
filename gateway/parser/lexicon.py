"""The SMS lexicons: locales/<lang>/keywords.toml for every language, merged into one index."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from gateway import PROJECT_ROOT
from gateway.gazetteer.normalise import name_keys
from gateway.kernel.taxonomy import Taxonomy

DEFAULT_LOCALES = PROJECT_ROOT / "locales"
LANGUAGES = ("fr", "ha", "dje")
COMMANDS = ("help", "language", "register", "acknowledge", "retract")

# What a lexicon phrase is.
INCIDENT, THEFT, LIVESTOCK, COMMAND, NUMBER, CONNECTOR = "incident", "theft", "livestock", "command", "number", "connector"


class LexiconError(ValueError):
    """A keywords file that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class Sense:
    """One meaning of a phrase in one language: (INCIDENT, "attack"), (NUMBER, 3), ..."""

    category: str
    value: str | int
    lang: str


@dataclass(frozen=True)
class Lexicon:
    phrases: dict[str, tuple[Sense, ...]]  # phrase key (joined token keys) -> senses
    spans: dict[str, int]  # first token key of a multi-word phrase -> most words such a phrase has
    false_friends: dict[str, frozenset[str]]  # lang -> phrase keys that are not keywords in it
    not_places: frozenset[str]  # token keys never read as a place alone
    language_names: dict[str, str]  # token key -> fr/ha/dje


def load_lexicon(taxonomy: Taxonomy, locales: Path = DEFAULT_LOCALES,
                 languages: tuple[str, ...] = LANGUAGES) -> Lexicon:
    phrases: dict[str, list[Sense]] = {}
    spans: dict[str, int] = {}
    false_friends: dict[str, frozenset[str]] = {}
    not_places: set[str] = set()
    language_names: dict[str, str] = {}

    def add(text: str, sense: Sense, path: Path) -> None:
        keys = name_keys(text)
        if not keys:
            raise LexiconError(f"{path}: {text!r} has no letters or digits")
        spans[keys[0]] = max(spans.get(keys[0], 1), len(keys))
        senses = phrases.setdefault("".join(keys), [])
        if sense not in senses:
            senses.append(sense)

    for lang in languages:
        path = locales / lang / "keywords.toml"
        try:
            with open(path, "rb") as handle:
                data = tomllib.load(handle)
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise LexiconError(f"{path}: {error}") from None
        for incident, words in data.get("incidents", {}).items():
            if incident not in taxonomy.ids:
                raise LexiconError(f"{path}: unknown incident {incident!r} (see rules/incidents.toml)")
            for word in _words(words, path, f"incidents.{incident}"):
                add(word, Sense(INCIDENT, incident, lang), path)
        for section, category in ((THEFT, THEFT), (LIVESTOCK, LIVESTOCK), ("connectors", CONNECTOR)):
            for word in _words(data.get(section, {}).get("words", []), path, section):
                add(word, Sense(category, category, lang), path)
        for command, words in data.get("commands", {}).items():
            if command not in COMMANDS:
                raise LexiconError(f"{path}: unknown command {command!r} (expected one of {', '.join(COMMANDS)})")
            for word in _words(words, path, f"commands.{command}"):
                add(word, Sense(COMMAND, command, lang), path)
        for word, value in data.get("numbers", {}).items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise LexiconError(f"{path}: numbers.{word} must be a whole number, not {value!r}")
            add(word, Sense(NUMBER, value, lang), path)
        for target, words in data.get("languages", {}).items():
            if target not in LANGUAGES:
                raise LexiconError(f"{path}: unknown language {target!r} in [languages]")
            for word in _words(words, path, f"languages.{target}"):
                language_names["".join(name_keys(word))] = target
        not_places.update("".join(name_keys(word)) for word in _words(
            data.get("not_places", {}).get("words", []), path, "not_places"))
        false_friends[lang] = frozenset("".join(name_keys(word)) for word in _words(
            data.get("false_friends", {}).get("words", []), path, "false_friends"))
    return Lexicon({key: tuple(senses) for key, senses in phrases.items()}, spans, false_friends,
                   frozenset(not_places), language_names)


def _words(value: object, path: Path, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(word, str) for word in value):
        raise LexiconError(f"{path}: {where} must be a list of strings")
    return value
