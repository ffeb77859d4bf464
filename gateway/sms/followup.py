"""One question back when a report's place is missing, ambiguous or only a kind of place.

The report is stored at once with the status ASKED and no commune, so it is never scored on a
guess; the question is an ordinary reply (it counts against the reply limit and is erased like
one) whose outbox key says which report it asks about. An answer from the same number within
ANSWER_WINDOW that names a place completes that report, which the scorer then scores. Left
unanswered, the report waits in the review queue flagged "needs a place" (gateway.dashboard.queries),
and an operator's label scores it. A report is asked about once: only the message that made it asks.

A focal point's text that is only a place and a count ("GABI 12") is asked what happened instead:
its report waits with the incident UNCLEAR, an answer the parser reads as an incident (a keyword or
a code) completes it, and unanswered it is flagged "needs an incident".
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import PROJECT_ROOT
from gateway.gazetteer.normalise import split_words, token_key
from gateway.kernel.i18n import render
from gateway.kernel.segments import to_gsm7
from gateway.parser.result import ParseResult
from gateway.storage.models import Report

ANSWER_WINDOW = timedelta(minutes=30)
ASKED = "asked"  # reports.status while its question waits for an answer
ASK_PREFIX = "ask:"  # outbox dedup_key of a question: "ask:" and the asking message's id, zero-padded
MAX_CANDIDATES = 3
MAX_CANDIDATE_CHARS = 20  # three names and the question fit one GSM-7 segment

ASK_WHERE = "Report {ref}: {incident}. Where did it happen? Reply with the name of the village or commune."
ASK_WHICH = "Report {ref}: {incident}. Which place: {candidates}? Reply with its name."
ASK_WHAT = ("{place}: what happened there? Reply with the code: 1 attack 2 kidnap 3 cattle theft 4 armed men "
            "5 mine 6 killing 7 displaced 8 fire 9 clash 10 trafficking")
QUESTIONS = (ASK_WHERE, ASK_WHICH, ASK_WHAT)
UNCLEAR = "unclear"  # reports.incident of a report that named a place but no incident, until answered
WHAT_SUFFIX = ":what"  # ends the outbox key of a question asking for the incident
MAX_PLACE_CHARS = 24  # as in a confirmation: the place and the codes fit one GSM-7 segment

PLACE_NOUNS = PROJECT_ROOT / "locales" / "place_nouns.toml"
_AMBIGUOUS = "place ambiguous: "
_NO_PLACE = "no place named"

_REPORT_OF_MESSAGE = select(Report).where(Report.message_id == bindparam("message_id"))
_COMPLETE = update(Report.__table__).where(
    Report.__table__.c.id == bindparam("report_id"), Report.__table__.c.status == ASKED).values(
    commune_pcode=bindparam("commune"), village=bindparam("village"), status="valid", scored_at=None)
_WAITING_FOR_A_PLACE = select(Report.id).where(
    Report.reporter_id == bindparam("reporter_id"), Report.status == ASKED, Report.incident != UNCLEAR).limit(1)
_COMPLETE_INCIDENT = update(Report.__table__).where(
    Report.__table__.c.id == bindparam("report_id"), Report.__table__.c.status == ASKED).values(
    incident=bindparam("incident"), count=bindparam("count"), status="valid", scored_at=None)


@dataclass(frozen=True)
class Question:
    template: str
    candidates: tuple[str, ...] = ()  # commune P-codes the named place may be


@cache
def place_nouns() -> frozenset[str]:
    """Every language's words for a kind of place, as token keys."""
    with PLACE_NOUNS.open("rb") as handle:
        words = tomllib.load(handle)
    return frozenset(token_key(word) for lang_words in words.values() for word in lang_words)


def question_for(parsed: ParseResult) -> Question | None:
    """The question a report needs, if any: which of two or three places, or where (no place at
    all, too many candidates, or a place given only as a kind of place: "a kasuwa")."""
    candidates = candidates_of({"notes": parsed.notes})
    if candidates:
        return Question(ASK_WHICH, candidates) if len(candidates) <= MAX_CANDIDATES else Question(ASK_WHERE)
    if parsed.commune is None:
        return Question(ASK_WHERE)
    named_nothing = any(note.startswith(_NO_PLACE) for note in parsed.notes)
    if named_nothing and _names_a_kind_of_place(parsed.free_text):
        return Question(ASK_WHERE)
    return None


def candidates_of(parse: dict) -> tuple[str, ...]:
    """The candidate communes an asking message's stored parse names (none for a "where" question)."""
    for note in parse.get("notes") or ():
        if note.startswith(_AMBIGUOUS):
            return tuple(note[len(_AMBIGUOUS):].split(", "))
    return ()


def _names_a_kind_of_place(free_text: str) -> bool:
    nouns = place_nouns()
    return any(token_key(free_text[start:end]) in nouns for start, end in split_words(free_text))


def question_text(lang: str, question: Question, ref: str, incident_label: str,
                  commune_name: Callable[[str], str | None]) -> str:
    names = ", ".join(to_gsm7(commune_name(pcode) or pcode)[:MAX_CANDIDATE_CHARS] for pcode in question.candidates)
    return render(lang, question.template, ref=ref, incident=incident_label, candidates=names)


def ask_key(message_id: int, what: bool = False) -> str:
    """The question's outbox key: zero-padded so that the newest of a number's questions sorts last;
    a question for the incident ends with WHAT_SUFFIX, so its answer is told apart without a query."""
    return f"{ASK_PREFIX}{message_id:012d}{WHAT_SUFFIX if what else ''}"


def asked_message(key: str | None) -> int | None:
    return int(key[len(ASK_PREFIX):].removesuffix(WHAT_SUFFIX)) if key and key.startswith(ASK_PREFIX) else None


def asks_what(key: str | None) -> bool:
    return bool(key) and key.endswith(WHAT_SUFFIX)


def place_only(search: Search, text: str, home: str | None) -> tuple[str, str | None, int | None] | None:
    """(commune, village, count) of a text that is a place of the gazetteer and at most one number
    ("GABI 12"), nothing else; None otherwise, so a greeting or a sentence stays not understood."""
    words, count = [], None
    for start, end in split_words(text):
        word = text[start:end]
        if word.isdigit():
            if count is not None:
                return None
            count = int(word)
        else:
            words.append(word)
    found = search(" ".join(words), home) if words else []
    return (found[0][0], found[0][2], count) if found else None


async def waits_for_a_place(session: AsyncSession, reporter_id: int) -> bool:
    """Whether one of the reporter's reports still waits for its place: a bare place name from
    them is then a late answer, left to the operator, not a new report."""
    return (await session.execute(_WAITING_FOR_A_PLACE, {"reporter_id": reporter_id})).first() is not None


def what_question_text(lang: str, place: str) -> str:
    return render(lang, ASK_WHAT, place=to_gsm7(place)[:MAX_PLACE_CHARS])


def answered_incident(parsed: ParseResult, waiting_commune: str | None) -> str | None:
    """The incident an answer to "what happened" names: a report the parser understood (a keyword
    or a code), naming no place or the same place; None: a report of its own, or not an answer."""
    if parsed.kind != "report" or not parsed.incident:
        return None
    no_place = any(note.startswith(_NO_PLACE) for note in parsed.notes)
    return parsed.incident if no_place or parsed.commune in (None, waiting_commune) else None


async def complete_incident(session: AsyncSession, report_id: int, incident: str, count: int | None) -> bool:
    """The waiting report gets its incident and goes to the scorer; False if it no longer waits."""
    done = await session.execute(_COMPLETE_INCIDENT, {"report_id": report_id, "incident": incident, "count": count})
    return bool(done.rowcount)


async def waiting_report(session: AsyncSession, message_id: int) -> Report | None:
    """The report a question was asked about, while it still waits for its place."""
    report = (await session.execute(_REPORT_OF_MESSAGE, {"message_id": message_id})).scalar_one_or_none()
    return report if report is not None and report.status == ASKED else None


Search = Callable[[str, str | None], list[tuple[str, str, str | None]]]  # (text, home) -> [(pcode, name, village)]


def answered_place(search: Search, text: str, home: str | None,
                   candidates: tuple[str, ...]) -> tuple[str, str | None] | None:
    """The (commune, village) an answer names: one of the candidates asked about when it names
    one, else the place the gazetteer finds nearest the reporter's commune; None if none."""
    found = search(text, home)
    if candidates:
        found = [hit for hit in found if hit[0] in candidates] or found
    return (found[0][0], found[0][2]) if found else None


async def complete(session: AsyncSession, report_id: int, commune: str, village: str | None) -> bool:
    """The waiting report gets its place and goes to the scorer; False if it no longer waits."""
    done = await session.execute(_COMPLETE, {"report_id": report_id, "commune": commune, "village": village})
    return bool(done.rowcount)


def answer_deadline(now: datetime) -> datetime:
    """Questions asked after this can still be answered."""
    return now - ANSWER_WINDOW
