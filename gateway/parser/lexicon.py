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
OVERLAY_NAME = "keywords.local.toml"  # words operators accepted, beside the shipped keywords.toml
COMMANDS = ("help", "language", "register", "acknowledge", "retract")

# What a lexicon phrase is.
INCIDENT, THEFT, LIVESTOCK, COMMAND, NUMBER, CONNECTOR = "incident", "theft", "livestock", "command", "number", "connector"
COUNTED, NEGATION, ALL_CLEAR, TIME = "counted", "negation", "all_clear", "time"
# Sense values of the sections that say on which side of another word a phrase acts.
BEFORE, AFTER, OPEN, CLOSE = "before", "after", "open", "close"


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
    false_friends: dict[str, frozenset[str]]  # lang -> phrase keys that mean something else in it
    not_places: frozenset[str]  # token keys never read as a place alone
    language_names: dict[str, str]  # token key -> fr/ha/dje
    weak: frozenset[str]  # incident phrase keys that are also everyday words (wuta: electricity too)
    weak_numbers: frozenset[str]  # number keys that are also articles or verbs (une, tara)
    multipliers: dict[str, str]  # number key -> BEFORE ("deux cents") or AFTER ("dari biyu")


def load_lexicon(taxonomy: Taxonomy, locales: Path = DEFAULT_LOCALES,
                 languages: tuple[str, ...] = LANGUAGES, overlay: Path | None = None) -> Lexicon:
    """The shipped lexicons, plus the words operators accepted (overlay/<lang>/keywords.local.toml,
    a [words] table of word = incident) kept apart so an upgrade never conflicts with them."""
    phrases: dict[str, list[Sense]] = {}
    spans: dict[str, int] = {}
    false_friends: dict[str, frozenset[str]] = {}
    not_places: set[str] = set()
    language_names: dict[str, str] = {}
    weak: set[str] = set()
    weak_numbers: set[str] = set()
    multipliers: dict[str, str] = {}

    def add(text: str, sense: Sense, path: Path) -> str:
        keys = name_keys(text)
        if not keys:
            raise LexiconError(f"{path}: {text!r} has no letters or digits")
        spans[keys[0]] = max(spans.get(keys[0], 1), len(keys))
        key = "".join(keys)
        senses = phrases.setdefault(key, [])
        if sense not in senses:
            senses.append(sense)
        return key

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
        local = overlay / lang / OVERLAY_NAME if overlay is not None else path
        for word, incident in (_overlay_words(local) if local != path and local.exists() else {}).items():
            if not isinstance(incident, str) or incident not in taxonomy.ids:
                raise LexiconError(f"{local}: {word!r} names an unknown incident {incident!r}")
            add(word, Sense(INCIDENT, incident, lang), local)
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
        numbers = {"".join(name_keys(word)) for word in data.get("numbers", {})}
        for side in (BEFORE, AFTER):
            for word in _words(data.get("multipliers", {}).get(side, []), path, f"multipliers.{side}"):
                multipliers[_number_key(word, numbers, path, "multipliers")] = side
        for word in _words(data.get("weak_numbers", {}).get("words", []), path, "weak_numbers"):
            weak_numbers.add(_number_key(word, numbers, path, "weak_numbers"))
        counted = data.get("counted", {})
        side = counted.get("side", BEFORE)
        if side not in (BEFORE, AFTER):
            raise LexiconError(f"{path}: counted.side must be {BEFORE!r} or {AFTER!r}, not {side!r}")
        for word in _words(counted.get("words", []), path, "counted"):
            add(word, Sense(COUNTED, side, lang), path)
        negation = data.get("negation", {})
        for section, value in ((BEFORE, BEFORE), ("bracket_open", OPEN), ("bracket_close", CLOSE)):
            for word in _words(negation.get(section, []), path, f"negation.{section}"):
                add(word, Sense(NEGATION, value, lang), path)
        for word in _words(negation.get("all_clear", []), path, "negation.all_clear"):
            add(word, Sense(ALL_CLEAR, ALL_CLEAR, lang), path)
        for side in (BEFORE, AFTER):
            for word in _words(data.get("time", {}).get(side, []), path, f"time.{side}"):
                add(word, Sense(TIME, side, lang), path)
        incident_keys = {key for key, senses in phrases.items() if any(s.category == INCIDENT for s in senses)}
        for word in _words(data.get("weak", {}).get("words", []), path, "weak"):
            key = "".join(name_keys(word))
            if key not in incident_keys:
                raise LexiconError(f"{path}: weak.{word} is not an incident word of any language read so far")
            weak.add(key)
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
                   frozenset(not_places), language_names, frozenset(weak), frozenset(weak_numbers), multipliers)


def _overlay_words(path: Path) -> dict[str, object]:
    try:
        with open(path, "rb") as handle:
            words = tomllib.load(handle).get("words", {})
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise LexiconError(f"{path}: {error}") from None
    if not isinstance(words, dict):
        raise LexiconError(f"{path}: [words] must be a table of word = incident")
    return words


def _number_key(word: str, numbers: set[str], path: Path, section: str) -> str:
    key = "".join(name_keys(word))
    if key not in numbers:
        raise LexiconError(f"{path}: {section}: {word!r} is not in this file's [numbers]")
    return key


def _words(value: object, path: Path, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(word, str) for word in value):
        raise LexiconError(f"{path}: {where} must be a list of strings")
    return value
