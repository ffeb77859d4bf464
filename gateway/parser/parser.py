"""The SMS parser: protocol.md's forgiving report grammar over data-driven lexicons.

    <INCIDENT> [<PLACE>] [<COUNT>] [free text ...]   in any order

Steps, each over the tokens the previous ones left: keywords (longest phrase first),
explicit codes (`#3`), negation, the place (gazetteer), words that are incidents only in a
report's shape, an implicit code (`3`), the count (digits, else number words).
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
    AFTER,
    ALL_CLEAR,
    BEFORE,
    CLOSE,
    COMMAND,
    CONNECTOR,
    COUNTED,
    INCIDENT,
    LANGUAGES,
    LIVESTOCK,
    NEGATION,
    NUMBER,
    OPEN,
    THEFT,
    TIME,
    Lexicon,
    Sense,
)
from gateway.parser.result import COMMAND as COMMAND_KIND
from gateway.parser.result import REPORT, UNKNOWN, ParseResult

log = logging.getLogger(__name__)

MAX_TOKENS = 60  # words beyond this are kept as free text, not interpreted
MAX_COUNT_DIGITS = 5
MAX_COUNT = 99_999  # what five digits can say: number words beyond it are not a count either
LIVESTOCK_REACH = 2  # how many words may separate a theft word from its livestock word
NEGATION_REACH = 2  # how many words may stand between a negation and its incident ("pas eu d' attaque")
BRACKET_REACH = 4  # how far each `ba` of "ba ... ba" may stand from the incident between them
FUZZY_MIN = 8  # an incident keyword this long is also found with one letter missing, extra or wrong
CATTLE_THEFT, KIDNAPPING, ARMED_MEN = "cattle_theft", "kidnapping", "armed_men"
# An armed group's action beats the sighting of armed men named in the same message (protocol.md).
ARMED_GROUP_ACTIONS = frozenset(("attack", "kidnapping", "killing", "cattle_theft"))
_ARGUMENT = re.compile(r"[A-Za-z0-9]{2,12}")
# The shape of an alert code (alerts/store.py: 4 characters, no 0/O or 1/I): "TO" or "OK" before
# anything else is a word of a sentence ("To mun gode"), not an acknowledgement.
_ALERT_CODE = re.compile(r"[2-9A-HJ-NP-Z]{4}")
_GLUED = re.compile(r"([A-Za-z]{1,2})([0-9]{1,5})([A-Za-z]{3,})")  # "a5morts": a, 5, morts
_ELISION = re.compile(r"([dlnjsctm]|qu)['’‘ʼ`´]([^\W_].*)", re.IGNORECASE)  # "d'attaque"
_SENTENCE_BREAK = re.compile(r"[,.;!?\n]")
_DATE_JOINERS = ("/", ":")  # "3/11", "18:30": a date or a time, never a count


class _Hit(NamedTuple):
    start: int
    length: int
    key: str
    senses: tuple[Sense, ...]

    @property
    def tokens(self) -> range:
        return range(self.start, self.start + self.length)

    @property
    def end(self) -> int:
        return self.start + self.length


class _Message:
    """One message's tokens and what has been consumed so far."""

    def __init__(self, text: str, spans: list[tuple[int, int]]) -> None:
        self.text = text
        self.spans = spans
        self.raws = [text[start:end] for start, end in self.spans]
        self.size = min(len(self.spans), MAX_TOKENS)
        self.keys = [token_key(raw) for raw in self.raws[:self.size]]
        self.digits = [raw.isascii() and raw.isdigit() for raw in self.raws]
        self.consumed = [False] * len(self.spans)
        self.not_places: set[int] = set()  # command, theft, livestock, counted... words left over

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

    def between(self, left: int, right: int) -> str:
        """The text between the word ending at `left` and the word starting at `right`."""
        return self.text[self.spans[left][1]:self.spans[right][0]] if left < right else ""

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


class _Marks:
    """What the words around a number or an incident say of it: a counted noun next to a number
    makes it a count, a time word makes it a time, a negation cancels an incident."""

    def __init__(self, message: _Message, hits: list[_Hit]) -> None:
        self.counted_starts: dict[int, str] = {}  # position -> side, where a counted noun starts
        self.counted_ends: dict[int, str] = {}  # position right after a counted noun -> side
        self.time_after: set[int] = set()  # positions where a word such as "h" or "novembre" starts
        self.time_before: set[int] = set()  # positions right after a word such as "karfe"
        self.negators: list[tuple[_Hit, str]] = []
        self.all_clear = False
        for hit in hits:
            for sense in hit.senses:
                category = sense.category
                if category == COUNTED:
                    self.counted_starts[hit.start] = str(sense.value)
                    self.counted_ends[hit.end] = str(sense.value)
                elif category == TIME and sense.value == AFTER:
                    self.time_after.add(hit.start)
                elif category == TIME:
                    self.time_before.add(hit.end)
                elif category == NEGATION:
                    self.negators.append((hit, str(sense.value)))
                elif category == ALL_CLEAR:
                    self.all_clear = True
        self.not_count: set[int] = set()  # digits that are a date, a time, an age or a distance
        digits = message.digits
        for position in range(message.size):
            if not digits[position]:
                continue
            if position + 1 in self.time_after or position in self.time_before:
                self.not_count.add(position)
            if position + 1 < message.size and digits[position + 1] \
                    and message.between(position, position + 1) in _DATE_JOINERS:
                self.not_count.update((position, position + 1))

    def next_to_counted(self, start: int, end: int) -> bool:
        return end in self.counted_starts or start in self.counted_ends

    def negated(self, message: _Message, targets: list[_Hit]) -> set[int]:
        """Start positions of the incident hits a negation cancels."""
        if not self.negators:
            return set()
        negated: set[int] = set()
        opens = [hit for hit, value in self.negators if value == OPEN]
        closes = [hit for hit, value in self.negators if value == CLOSE]
        for target in targets:
            for negator, value in self.negators:
                if value == BEFORE and 0 <= target.start - negator.end <= NEGATION_REACH \
                        and not _SENTENCE_BREAK.search(message.between(negator.end - 1, target.start)):
                    negated.add(target.start)
            if any(0 <= target.start - hit.end < BRACKET_REACH for hit in opens) \
                    and any(0 <= hit.start - target.end < BRACKET_REACH for hit in closes):
                negated.add(target.start)
        return negated


class Parser:
    def __init__(self, gazetteer: Gazetteer, lexicon: Lexicon, taxonomy: Taxonomy) -> None:
        self.gazetteer = gazetteer
        self.lexicon = lexicon
        self.taxonomy = taxonomy
        self._number_keys = frozenset(key for key, senses in lexicon.phrases.items()
                                      if any(sense.category in (NUMBER, CONNECTOR) for sense in senses))
        self._all_false_friends = frozenset().union(*lexicon.false_friends.values())
        self._not_alone = lexicon.not_places | self._number_keys
        # Words that do not stop a message from being a bare report: function words, numbers,
        # counted nouns, times ("wuta gabi 5 cette nuit" is a report; "wuta ta dauke" is not).
        self._function_keys = self._not_alone | frozenset(
            key for key, senses in lexicon.phrases.items()
            if any(sense.category in (COUNTED, TIME) for sense in senses))
        self._counted_side = {sense.lang: str(sense.value) for senses in lexicon.phrases.values()
                              for sense in senses if sense.category == COUNTED}
        self._fuzzy = self._fuzzy_index(lexicon)
        self._fuzzy_keywords = frozenset(self._fuzzy.values())

    @staticmethod
    def _fuzzy_index(lexicon: Lexicon) -> dict[str, str]:
        """Each single-word incident keyword of FUZZY_MIN letters or more, with one letter left
        out, -> the keyword; a variant two keywords share is left out."""
        index: dict[str, str] = {}
        clashes: set[str] = set()
        for key, senses in lexicon.phrases.items():
            if len(key) < FUZZY_MIN or key in lexicon.spans and lexicon.spans[key] > 1 \
                    or not any(sense.category == INCIDENT for sense in senses):
                continue
            for variant in {key[:i] + key[i + 1:] for i in range(len(key))}:
                if index.get(variant, key) != key:
                    clashes.add(variant)
                index[variant] = key
        for variant in clashes:
            del index[variant]
        return index

    def parse(self, text: str, lang: str | None = None, home: str | None = None) -> ParseResult:
        """Never raises: a message the parser cannot handle is 'unknown', kept for review."""
        try:
            return self._parse(str(text), lang, home)
        except Exception:  # noqa: BLE001 - an SMS must never crash the gateway
            log.exception("parser failed on a message of %d characters", len(str(text)))
            return ParseResult(kind=UNKNOWN, lang=lang, notes=("parser error",), free_text=str(text))

    # -- the steps --------------------------------------------------------------------

    def _parse(self, text: str, lang: str | None, home: str | None) -> ParseResult:
        message = _Message(text, self._words(text))
        notes: list[str] = []
        home = self._known_home(home, notes)
        if lang is not None and lang not in LANGUAGES:
            notes.append(f"unknown language {lang}")
            lang = None
        hits = self._scan(message.keys)
        lang, false_friends = self._language(hits, lang)
        if hits and hits[0].start == 0 and not self._names_incident(hits, message):
            command = next((s.value for s in hits[0].senses if s.category == COMMAND), None)
            if command is not None and (command != "acknowledge" or self._acknowledges(message, hits[0])):
                return self._command(str(command), message, hits[0], lang, home, notes)
        return self._report(message, hits, lang, home, notes, false_friends)

    def _words(self, text: str) -> list[tuple[int, int]]:
        """Word spans, with a digit glued inside a word split out ("a5morts") and a French elision
        split off a keyword ("d'attaque"; a name such as N'Konni stays whole)."""
        spans = split_words(text)
        words: list[tuple[int, int]] = []
        for start, end in spans:
            raw = text[start:end]
            if raw.isalpha() and raw.isascii() or raw.isdigit():
                words.append((start, end))
                continue
            glued = _GLUED.fullmatch(raw)
            if glued is not None:
                first, second = start + len(glued.group(1)), start + len(glued.group(1)) + len(glued.group(2))
                words.extend(((start, first), (first, second), (second, end)))
                continue
            elided = _ELISION.fullmatch(raw)
            if elided is not None:
                rest = token_key(elided.group(2))
                if token_key(raw) not in self.lexicon.phrases and (
                        rest in self.lexicon.phrases or rest in self.lexicon.spans):
                    words.extend(((start, start + len(elided.group(1))), (end - len(elided.group(2)), end)))
                    continue
            words.append((start, end))
        return words

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

    def _language(self, hits: list[_Hit], lang: str | None) -> tuple[str | None, frozenset[str]]:
        """The message's language (given, else the one its own words point to), and its false
        friends: words that mean something else in it (Zarma `hari` is water, not an attack)."""
        detected = lang or self._vote(hit for hit in hits if hit.key not in self._all_false_friends)
        false_friends = self.lexicon.false_friends.get(detected or "", frozenset())
        if lang:
            return lang, false_friends
        if any(hit.key in self._all_false_friends for hit in hits):
            detected = self._vote(hit for hit in hits if hit.key not in false_friends)
        return detected, false_friends

    @staticmethod
    def _vote(hits) -> str | None:  # any iterable of hits
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

    @staticmethod
    def _acknowledges(message: _Message, hit: _Hit) -> bool:
        """OK/TO alone (the reply explains the code is missing), or followed by an alert code's shape."""
        after = hit.end
        if after >= message.size:
            return True
        glued = message.glued_run(after)
        code = message.text[message.spans[glued[0]][0]:message.spans[glued[-1]][1]]
        return _ALERT_CODE.fullmatch(code.upper()) is not None

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
                notes: list[str], false_friends: frozenset[str]) -> ParseResult:
        found, weak = self._keyword_incidents(message, hits, lang, false_friends)
        if not found and not weak:
            found = self._fuzzy_incidents(message, lang, notes)
        marks = _Marks(message, hits)
        negated = marks.negated(message, [hit for hit, _ in found] + [hit for hit, _ in weak])
        incidents = [(hit.start, incident) for hit, incident in found if hit.start not in negated]
        weak = [(hit, incident) for hit, incident in weak if hit.start not in negated]
        for position in range(message.size):
            if not message.consumed[position] and message.hashed(position) and (code := self._code(message, position)):
                incidents.append((position, code))
                message.take([position])
        if not incidents and not weak:
            if negated:
                notes.append("negated: not a report")
            elif marks.all_clear:
                notes.append("all is calm: not a report")
            if negated or marks.all_clear or not any(message.digits[:message.size]):
                return ParseResult(kind=UNKNOWN, lang=lang, notes=tuple(notes), free_text=message.text.strip())
        mention = self._place(message, home)
        standing = self._stands(message, weak)
        if weak and standing:
            self._weak_incidents(message, hits, weak, mention, false_friends, marks, incidents)
        self._implicit_code(message, incidents, marks, standing)
        count = self._count(message, hits, marks)
        if not incidents:
            return ParseResult(kind=UNKNOWN, lang=lang, notes=tuple(notes), free_text=message.text.strip())
        incidents.sort()
        primary = incidents[0][1]
        if primary == ARMED_MEN:
            primary = next((incident for _, incident in incidents if incident in ARMED_GROUP_ACTIONS), primary)
        secondary = tuple(dict.fromkeys(incident for _, incident in incidents if incident != primary))
        commune, village, confidence = self._where(mention, home, notes)
        if self._only_codes(hits, incidents):
            confidence -= 0.1
        return ParseResult(
            kind=REPORT, incident=primary, secondary=secondary, commune=commune,
            commune_name=self.gazetteer.commune(commune).name if commune else None, village=village,
            count=count, lang=lang, confidence=round(max(confidence, 0.1), 2), notes=tuple(notes),
            free_text=message.free_text())

    def _keyword_incidents(self, message: _Message, hits: list[_Hit], lang: str | None,
                           false_friends: frozenset[str]) -> tuple[list[tuple[_Hit, str]], list[tuple[_Hit, str]]]:
        """(hit, incident) of keyword hits, and of the words that are incidents only when the
        message stands as a report (wuta, fada; a false friend of the message's language). A theft
        or abduction word next to a livestock word is cattle theft ("SACE SHANU", "enlevement de
        boeufs")."""
        livestock = [hit for hit in hits if any(sense.category == LIVESTOCK for sense in hit.senses)]
        weak_keys = self.lexicon.weak
        found: list[tuple[_Hit, str]] = []
        weak: list[tuple[_Hit, str]] = []
        for hit in hits:
            incident = self._incident_of(hit, lang)
            theft = incident in (KIDNAPPING, CATTLE_THEFT) or any(s.category == THEFT for s in hit.senses)
            if theft and (animals := _next_to(hit, livestock)) is not None:
                message.take(animals.tokens)
                incident = CATTLE_THEFT
            if incident is not None and (hit.key in weak_keys or hit.key in false_friends):
                weak.append((hit, incident))
                message.not_places.update(hit.tokens)
            elif incident is not None:
                message.take(hit.tokens)
                found.append((hit, incident))
            elif any(sense.category not in (NUMBER, CONNECTOR) for sense in hit.senses):
                message.not_places.update(hit.tokens)
        return found, weak

    def _fuzzy_incidents(self, message: _Message, lang: str | None, notes: list[str]) -> list[tuple[_Hit, str]]:
        """When no keyword names an incident: a word one typing error away from a long incident
        keyword ("enlevemnt", "deplacemment")."""
        phrases, index, keywords = self.lexicon.phrases, self._fuzzy, self._fuzzy_keywords
        for position in range(message.size):
            key = message.keys[position]
            if len(key) < FUZZY_MIN - 1 or message.consumed[position] or position in message.not_places \
                    or message.digits[position]:
                continue
            matches = {index[key]} if key in index else set()
            for i in range(len(key)):
                variant = key[:i] + key[i + 1:]
                if variant in keywords:
                    matches.add(variant)
                elif variant in index:
                    matches.add(index[variant])
            if len(matches) == 1:
                keyword = matches.pop()
                hit = _Hit(position, 1, keyword, phrases[keyword])
                incident = self._incident_of(hit, lang)
                if incident is not None:
                    message.take(hit.tokens)
                    notes.append(f"keyword corrected: {message.raws[position]}")
                    return [(hit, incident)]
        return []

    @staticmethod
    def _incident_of(hit: _Hit, lang: str | None) -> str | None:
        senses = [sense for sense in hit.senses if sense.category == INCIDENT]
        if not senses:
            return None
        own = [sense for sense in senses if sense.lang == lang]
        return str((own or senses)[0].value)

    def _stands(self, message: _Message, weak: list[tuple[_Hit, str]]) -> bool:
        """Whether the message is a bare report: nothing left but codes, numbers and function words
        ("3 Takoude 40", "wuta gabi 5 cette nuit"); a sentence ("wuta ta dauke") is not."""
        keys, consumed, digits, function = message.keys, message.consumed, message.digits, self._function_keys
        weak_tokens = {position for hit, _ in weak for position in hit.tokens}
        return not any(keys[p] and not consumed[p] and not digits[p] and keys[p] not in function
                       and p not in weak_tokens for p in range(message.size))

    def _weak_incidents(self, message: _Message, hits: list[_Hit], weak: list[tuple[_Hit, str]],
                        mention: PlaceMention | None, false_friends: frozenset[str], marks: _Marks,
                        incidents: list[tuple[int, str]]) -> None:
        """Weak words in a bare report are its incidents; a false friend only in the protocol's
        whole shape, with its place and its count ("HARI TERA 5" from a Zarma reporter)."""
        has_place = mention is not None and mention.commune is not None
        has_count = any(not message.consumed[p] and message.digits[p] and p not in marks.not_count
                        for p in range(message.size)) or any(
            not message.consumed[hit.start] and any(s.category == NUMBER for s in hit.senses) for hit in hits)
        for hit, incident in weak:
            if hit.key not in false_friends or (has_place and has_count):
                message.take(hit.tokens)
                incidents.append((hit.start, incident))

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

    def _implicit_code(self, message: _Message, incidents: list[tuple[int, str]], marks: _Marks,
                       standing: bool) -> None:
        """A bare number is the incident code when no keyword names one and the message is a bare
        report ("3 Takoude 40"; not "3 personnes disparues"), or when it opens a message that has
        another number for the count ("3 vol 40"). A number next to a counted noun is a count."""
        numbers = [p for p in range(message.size)
                   if not message.consumed[p] and message.is_digits(p) and p not in marks.not_count]
        if not numbers:
            return
        first = numbers[0]
        if marks.next_to_counted(first, first + 1):
            return
        opening = first == 0 and len(numbers) > 1
        if ((not incidents and standing) or opening) and (code := self._code(message, first)):
            incidents.append((first, code))
            message.take([first])

    def _count(self, message: _Message, hits: list[_Hit], marks: _Marks) -> int | None:
        for position in range(message.size):
            if not message.consumed[position] and message.is_digits(position) and position not in marks.not_count:
                if len(message.raws[position]) <= MAX_COUNT_DIGITS:
                    message.take([position])
                    return int(message.raws[position])
        return self._number_words(message, hits, marks)

    def _number_words(self, message: _Message, hits: list[_Hit], marks: _Marks) -> int | None:
        """The first run of number words that is a count: consecutive number words follow each
        language's grammar (see _run_value); a run that is a time ("karfe shida") is not a count,
        nor a lone word that is also an article or a verb outside a counting position ("une
        attaque", "sun tara")."""
        runs: list[list[_Hit]] = []
        current: list[_Hit] = []
        for hit in hits:
            numeric = not message.consumed[hit.start] and any(
                sense.category in (NUMBER, CONNECTOR) for sense in hit.senses)
            if not numeric or (current and hit.start != current[-1].end):
                if current:
                    runs.append(current)
                current = []
            if numeric:
                current.append(hit)
        if current:
            runs.append(current)
        for run in runs:
            numbers = [hit for hit in run if _number_of(hit) is not None]
            if not numbers:
                continue
            if numbers[0].start in marks.time_before or run[-1].end in marks.time_after:
                continue
            if len(numbers) == 1 and numbers[0].key in self.lexicon.weak_numbers \
                    and not self._counting_position(message, numbers[0], marks):
                continue
            value, used = self._run_value(run)
            if value is None or value > MAX_COUNT:
                continue
            for hit in run[:used]:
                message.take(hit.tokens)
            return value
        return None

    def _counting_position(self, message: _Message, hit: _Hit, marks: _Marks) -> bool:
        """Where a weak number word counts: before its counted noun in French ("un mort"); in Hausa
        and Zarma after its counted noun, the incident or the place ("mutane tara", "hari gabi tara")."""
        lang = next(sense.lang for sense in hit.senses if sense.category == NUMBER)
        if self._counted_side.get(lang, BEFORE) == BEFORE:
            return marks.counted_starts.get(hit.end) == BEFORE
        return marks.counted_ends.get(hit.start) == AFTER or (hit.start > 0 and message.consumed[hit.start - 1])

    def _run_value(self, run: list[_Hit]) -> tuple[int | None, int]:
        """A run's value and how many of its hits it used. Smaller numbers after bigger ones add
        up ("vingt cinq", "goma sha biyu", "waranka cindi gu"); a multiplier multiplies the number
        before it ("deux cents") or, in Hausa and Zarma, the one right after it ("dari biyu",
        "zangu hinka"; "dari da biyu" is 102). The run stops where a number is not smaller."""
        multipliers = self.lexicon.multipliers
        total, group, after_multiplier, joined, used = 0, -1, 0, False, 0
        for index, hit in enumerate(run):
            value = _number_of(hit)
            if value is None:
                joined = group >= 0
                continue
            side = multipliers.get(hit.key)
            if group < 0:
                group = value
            elif after_multiplier and not joined and value < after_multiplier:
                group = after_multiplier * value
                side = None
            elif side == BEFORE and value > group:
                if total + group < value:
                    total, group = 0, (total + group) * value
                else:
                    group *= value
            elif value < group:
                total, group = total + group, value
            else:
                break
            after_multiplier = value if side == AFTER else 0
            joined = False
            used = index + 1
        return (total + group if group >= 0 else None), used

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


def _number_of(hit: _Hit) -> int | None:
    for sense in hit.senses:
        if sense.category == NUMBER:
            return int(sense.value)
    return None


def _next_to(hit: _Hit, livestock: list[_Hit]) -> _Hit | None:
    for animals in livestock:
        if animals is hit:
            continue
        gap_after = animals.start - (hit.start + hit.length)
        gap_before = hit.start - (animals.start + animals.length)
        if 0 <= gap_after <= LIVESTOCK_REACH or 0 <= gap_before <= LIVESTOCK_REACH:
            return animals
    return None
