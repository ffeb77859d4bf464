"""The SMS parser: protocol.md's forgiving report grammar over data-driven lexicons.

    <INCIDENT> [<PLACE>] [<COUNT>] [free text ...]   in any order

Steps, each over the tokens the previous ones left: keywords (longest phrase first),
explicit codes (`#3`), the place (gazetteer), an implicit code (`3`), the count.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import NamedTuple

from gateway.gazetteer.matcher import Gazetteer, PlaceMention
from gateway.gazetteer.normalise import split_words, token_key
from gateway.kernel.taxonomy import Taxonomy
from gateway.parser.lexicon import (
    COMMAND,
    CONNECTOR,
    INCIDENT,
    LANGUAGES,
    LIVESTOCK,
    NUMBER,
    THEFT,
    Lexicon,
    Sense,
)
from gateway.parser.result import COMMAND as COMMAND_KIND
from gateway.parser.result import REPORT, UNKNOWN, ParseResult

log = logging.getLogger(__name__)

MAX_TOKENS = 60  # words beyond this are kept as free text, not interpreted
MAX_COUNT_DIGITS = 5
LIVESTOCK_REACH = 2  # how many words may separate a theft word from its livestock word
CATTLE_THEFT, KIDNAPPING = "cattle_theft", "kidnapping"
_ARGUMENT = re.compile(r"[A-Za-z0-9]{2,12}")


class _Hit(NamedTuple):
    start: int
    length: int
    key: str
    senses: tuple[Sense, ...]

    @property
    def tokens(self) -> range:
        return range(self.start, self.start + self.length)


class _Message:
    """One message's tokens and what has been consumed so far."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.spans = split_words(text)
        self.raws = [text[start:end] for start, end in self.spans]
        self.size = min(len(self.spans), MAX_TOKENS)
        self.keys = [token_key(raw) for raw in self.raws[:self.size]]
        self.digits = [raw.isascii() and raw.isdigit() for raw in self.raws]
        self.consumed = [False] * len(self.spans)
        self.not_places: set[int] = set()  # command, theft or livestock words left over

    def take(self, positions: range | Sequence[int]) -> None:
        for position in positions:
            self.consumed[position] = True

    def glued_run(self, position: int) -> range:
        """The word at `position` with the pieces split off it ("ESQ3" is split like "gabi12"):
        codes such as K7Q2 or 8PZZ must be read whole."""
        end = position + 1
        while end < len(self.spans) and self.spans[end][0] == self.spans[end - 1][1]:
            end += 1
        return range(position, end)

    def is_digits(self, position: int) -> bool:
        return self.digits[position]

    def hashed(self, position: int) -> bool:
        start = self.spans[position][0]
        return start > 0 and self.text[start - 1] == "#"

    def free_text(self, after: int = 0) -> str:
        """Unconsumed words verbatim: runs of them keep their own punctuation."""
        runs, run_start, run_end = [], None, None
        for position in range(after, len(self.spans)):
            if self.consumed[position]:
                if run_start is not None:
                    runs.append(self.text[run_start:run_end])
                    run_start = None
                continue
            start, end = self.spans[position]
            run_start = start if run_start is None else run_start
            run_end = end
        if run_start is not None:
            runs.append(self.text[run_start:run_end])
        return " ".join(runs)


class Parser:
    def __init__(self, gazetteer: Gazetteer, lexicon: Lexicon, taxonomy: Taxonomy) -> None:
        self.gazetteer = gazetteer
        self.lexicon = lexicon
        self.taxonomy = taxonomy
        self._number_keys = frozenset(key for key, senses in lexicon.phrases.items()
                                      if any(sense.category in (NUMBER, CONNECTOR) for sense in senses))
        self._all_false_friends = frozenset().union(*lexicon.false_friends.values())
        self._not_alone = lexicon.not_places | self._number_keys

    def parse(self, text: str, lang: str | None = None, home: str | None = None) -> ParseResult:
        """Never raises: a message the parser cannot handle is 'unknown', kept for review."""
        try:
            return self._parse(str(text), lang, home)
        except Exception:  # noqa: BLE001 - an SMS must never crash the gateway
            log.exception("parser failed on a message of %d characters", len(str(text)))
            return ParseResult(kind=UNKNOWN, lang=lang, notes=("parser error",), free_text=str(text))

    # -- the steps --------------------------------------------------------------------

    def _parse(self, text: str, lang: str | None, home: str | None) -> ParseResult:
        message = _Message(text)
        notes: list[str] = []
        home = self._known_home(home, notes)
        if lang is not None and lang not in LANGUAGES:
            notes.append(f"unknown language {lang}")
            lang = None
        hits = self._scan(message.keys)
        lang, hits = self._language(hits, lang)
        if hits and hits[0].start == 0 and not self._names_incident(hits, message):
            command = next((s.value for s in hits[0].senses if s.category == COMMAND), None)
            if command is not None:
                return self._command(str(command), message, hits[0], lang, home, notes)
        return self._report(message, hits, lang, home, notes)

    def _known_home(self, home: str | None, notes: list[str]) -> str | None:
        if not home:
            return None
        if self.gazetteer.unit(home) is not None:
            return home
        try:
            return self.gazetteer.commune(home).pcode
        except KeyError:
            notes.append(f"unknown home {home}")
            return None

    def _scan(self, keys: Sequence[str]) -> list[_Hit]:
        """Lexicon phrases, left to right, the longest phrase at each position."""
        phrases, spans, hits, position, count = self.lexicon.phrases, self.lexicon.spans, [], 0, len(keys)
        while position < count:
            if not keys[position]:
                position += 1
                continue
            for length in range(min(spans.get(keys[position], 1), count - position), 0, -1):
                key = "".join(keys[position:position + length]) if length > 1 else keys[position]
                senses = phrases.get(key)
                if senses is not None:
                    hits.append(_Hit(position, length, key, senses))
                    position += length
                    break
            else:
                position += 1
        return hits

    def _language(self, hits: list[_Hit], lang: str | None) -> tuple[str | None, list[_Hit]]:
        """The message's language (given, else the one its own words point to), and the hits
        without false friends of that language (Zarma `hari` is water, not an attack)."""
        detected = lang or self._vote(hit for hit in hits if hit.key not in self._all_false_friends)
        false_friends = self.lexicon.false_friends.get(detected or "", frozenset())
        if false_friends:
            hits = [hit for hit in hits if hit.key not in false_friends]
        if lang:
            return lang, hits
        return (self._vote(hits) if any(hit.key in self._all_false_friends for hit in hits) else detected), hits

    @staticmethod
    def _vote(hits) -> str | None:  # noqa: ANN001 - any iterable of hits
        """The language most hits belong to alone; None when none does or two tie. A plain dict,
        not a Counter: most_common runs in Python, and this runs for every text (BENCHMARKS.md)."""
        votes: dict[str, int] = {}
        for hit in hits:
            langs = {sense.lang for sense in hit.senses if sense.category != CONNECTOR}
            if len(langs) == 1:
                only = langs.pop()
                votes[only] = votes.get(only, 0) + 1
        best, best_votes, tied = None, 0, False
        for lang, count in votes.items():
            if count > best_votes:
                best, best_votes, tied = lang, count, False
            elif count == best_votes:
                tied = True
        return None if tied else best

    def _names_incident(self, hits: list[_Hit], message: _Message) -> bool:
        if any(sense.category == INCIDENT for hit in hits for sense in hit.senses):
            return True
        return any(message.hashed(i) and self._code(message, i) for i in range(message.size))

    def _code(self, message: _Message, position: int) -> str | None:
        if not message.is_digits(position) or len(message.raws[position]) > 2:
            return None
        incident = self.taxonomy.by_code(int(message.raws[position]))
        return incident.id if incident is not None else None

    # -- commands ---------------------------------------------------------------------

    def _command(self, command: str, message: _Message, hit: _Hit, lang: str | None, home: str | None,
                 notes: list[str]) -> ParseResult:
        message.take(hit.tokens)
        after = hit.start + hit.length
        fields: dict = {}
        argument = after if after < message.size else None
        if command == "language":
            chosen = self.lexicon.language_names.get(message.keys[argument]) if argument is not None else None
            if chosen is None:
                notes.append("language missing or unknown: fr, ha or dje")
            elif argument is not None:
                message.take([argument])
            fields["language"] = chosen
        elif command in ("acknowledge", "retract"):
            glued = message.glued_run(argument) if argument is not None else range(0)
            code = message.text[message.spans[glued[0]][0]:message.spans[glued[-1]][1]] if glued else None
            if code is None or not _ARGUMENT.fullmatch(code):
                notes.append(f"{command}: code missing")
                code = None
            else:
                message.take(glued)
            fields["alert_code" if command == "acknowledge" else "report_ref"] = code and code.upper()
        elif command == "register":
            fields.update(self._registration(message, after, home, notes))
        free = message.free_text(after)
        if command == "register":
            fields["name"], free = free or None, ""
        return ParseResult(kind=COMMAND_KIND, command=command, lang=lang, confidence=1.0 if not notes else 0.6,
                           notes=tuple(notes), free_text=free, **fields)

    def _registration(self, message: _Message, after: int, home: str | None, notes: list[str]) -> dict:
        keys = message.keys[after:]
        usable, alone = self._place_flags(message, after)
        mention = self.gazetteer.find_place(keys, usable, alone, home)
        if mention is None or mention.commune is None:
            notes.append("register: commune not found" if mention is None else "register: commune ambiguous")
            return {}
        message.take([after + token for token in mention.tokens])
        return {"commune": mention.commune, "commune_name": self.gazetteer.commune(mention.commune).name,
                "village": mention.village}

    # -- reports ----------------------------------------------------------------------

    def _report(self, message: _Message, hits: list[_Hit], lang: str | None, home: str | None,
                notes: list[str]) -> ParseResult:
        incidents = self._keyword_incidents(message, hits, lang)
        for position in range(message.size):
            if not message.consumed[position] and message.hashed(position) and (code := self._code(message, position)):
                incidents.append((position, code))
                message.take([position])
        if not incidents and not any(message.digits[:message.size]):
            return ParseResult(kind=UNKNOWN, lang=lang, notes=tuple(notes), free_text=message.text.strip())
        mention = self._place(message, home)
        self._implicit_code(message, incidents)
        count = self._count(message, hits)
        if not incidents:
            return ParseResult(kind=UNKNOWN, lang=lang, notes=tuple(notes), free_text=message.text.strip())
        incidents.sort()
        primary = incidents[0][1]
        secondary = tuple(dict.fromkeys(incident for _, incident in incidents[1:] if incident != primary))
        commune, village, confidence = self._where(mention, home, notes)
        if self._only_codes(hits, incidents):
            confidence -= 0.1
        return ParseResult(
            kind=REPORT, incident=primary, secondary=secondary, commune=commune,
            commune_name=self.gazetteer.commune(commune).name if commune else None, village=village,
            count=count, lang=lang, confidence=round(max(confidence, 0.1), 2), notes=tuple(notes),
            free_text=message.free_text())

    def _keyword_incidents(self, message: _Message, hits: list[_Hit], lang: str | None) -> list[tuple[int, str]]:
        """(position, incident) of keyword hits; a theft or abduction word next to a livestock
        word is cattle theft ("SACE SHANU", "enlevement de boeufs")."""
        livestock = [hit for hit in hits if any(sense.category == LIVESTOCK for sense in hit.senses)]
        found = []
        for hit in hits:
            incident = self._incident_of(hit, lang)
            theft = incident in (KIDNAPPING, CATTLE_THEFT) or any(s.category == THEFT for s in hit.senses)
            if theft and (animals := _next_to(hit, livestock)) is not None:
                message.take(animals.tokens)
                incident = CATTLE_THEFT
            if incident is not None:
                message.take(hit.tokens)
                found.append((hit.start, incident))
            elif any(sense.category in (COMMAND, THEFT, LIVESTOCK) for sense in hit.senses):
                message.not_places.update(hit.tokens)
        return found

    @staticmethod
    def _incident_of(hit: _Hit, lang: str | None) -> str | None:
        senses = [sense for sense in hit.senses if sense.category == INCIDENT]
        if not senses:
            return None
        own = [sense for sense in senses if sense.lang == lang]
        return str((own or senses)[0].value)

    def _place_flags(self, message: _Message, offset: int = 0) -> tuple[list[bool], list[bool]]:
        """Which tokens a place may use, and which may be a place on their own."""
        positions = range(offset, message.size)
        keys, consumed, blocked = message.keys, message.consumed, message.not_places
        usable = [bool(keys[p]) and not consumed[p] and p not in blocked for p in positions]
        alone = [keys[p] not in self._not_alone and not message.digits[p] for p in positions]
        return usable, alone

    def _place(self, message: _Message, home: str | None) -> PlaceMention | None:
        usable, alone = self._place_flags(message)
        mention = self.gazetteer.find_place(message.keys, usable, alone, home)
        if mention is not None and mention.commune is not None:
            message.take(mention.tokens)
        return mention

    def _implicit_code(self, message: _Message, incidents: list[tuple[int, str]]) -> None:
        """A bare number is the incident code when no keyword names one ("3 Takoude 40"), or
        when it opens a message that has another number for the count ("3 vol 40")."""
        numbers = [p for p in range(message.size) if not message.consumed[p] and message.is_digits(p)]
        if not numbers:
            return
        first = numbers[0]
        opening = first == 0 and len(numbers) > 1
        if (not incidents or opening) and (code := self._code(message, first)):
            incidents.append((first, code))
            message.take([first])

    def _count(self, message: _Message, hits: list[_Hit]) -> int | None:
        for position in range(message.size):
            if not message.consumed[position] and message.is_digits(position):
                if len(message.raws[position]) <= MAX_COUNT_DIGITS:
                    message.take([position])
                    return int(message.raws[position])
        return self._number_words(message, hits)

    @staticmethod
    def _number_words(message: _Message, hits: list[_Hit]) -> int | None:
        """Consecutive number words add up ("vingt cinq", "ashirin da biyar"); a hundred
        multiplies what precedes it ("deux cents")."""
        total, used, previous_end = None, [], None
        for hit in hits:
            if any(message.consumed[p] for p in hit.tokens):
                continue
            value = next((s.value for s in hit.senses if s.category == NUMBER), None)
            joins = any(s.category == CONNECTOR for s in hit.senses)
            if total is not None and previous_end is not None and hit.start != previous_end:
                break
            if value is not None:
                value = int(value)
                if total is None:
                    total = value
                elif value == 100 and total < 100:
                    total *= value
                else:
                    total += value
                used.append(hit)
                previous_end = hit.start + hit.length
            elif joins and total is not None:
                previous_end = hit.start + hit.length
            elif total is not None:
                break
        for hit in used:
            message.take(hit.tokens)
        return total

    def _where(self, mention: PlaceMention | None, home: str | None,
               notes: list[str]) -> tuple[str | None, str | None, float]:
        if mention is not None and mention.commune is not None:
            if mention.errors:
                notes.append(f"place corrected ({mention.errors} typing error{'s' if mention.errors > 1 else ''})")
            return mention.commune, mention.village, 1.0 - 0.1 * mention.errors
        if mention is not None:
            notes.append(f"place ambiguous: {', '.join(mention.candidates)}")
            return None, None, 0.5
        home_unit = self.gazetteer.unit(home) if home else None
        home_commune = home if home_unit is not None and home_unit.level == 3 else None
        if home_commune is not None:
            notes.append("no place named: reporter's commune")
            return home_commune, None, 0.9
        notes.append("no place named")
        return None, None, 0.6

    @staticmethod
    def _only_codes(hits: list[_Hit], incidents: list[tuple[int, str]]) -> bool:
        keyword_positions = {hit.start for hit in hits}
        return not any(position in keyword_positions for position, _ in incidents)


def _next_to(hit: _Hit, livestock: list[_Hit]) -> _Hit | None:
    for animals in livestock:
        if animals is hit:
            continue
        gap_after = animals.start - (hit.start + hit.length)
        gap_before = hit.start - (animals.start + animals.length)
        if 0 <= gap_after <= LIVESTOCK_REACH or 0 <= gap_before <= LIVESTOCK_REACH:
            return animals
    return None
