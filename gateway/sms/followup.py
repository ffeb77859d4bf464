"""One question back when a report's place is missing, ambiguous or only a kind of place.

The report is stored at once with the status ASKED and no commune, so it is never scored on a
guess; the question is an ordinary reply (it counts against the reply limit and is erased like
one) whose outbox key says which report it asks about. An answer from the same number within
ANSWER_WINDOW that names a place completes that report, which the scorer then scores. Left
unanswered, the report waits in the review queue flagged "needs a place" (gateway.dashboard.queries),
and an operator's label scores it. A report is asked about once: only the message that made it asks.
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
QUESTIONS = (ASK_WHERE, ASK_WHICH)

PLACE_NOUNS = PROJECT_ROOT / "locales" / "place_nouns.toml"
_AMBIGUOUS = "place ambiguous: "
_NO_PLACE = "no place named"

_REPORT_OF_MESSAGE = select(Report).where(Report.message_id == bindparam("message_id"))
_COMPLETE = update(Report.__table__).where(
    Report.__table__.c.id == bindparam("report_id"), Report.__table__.c.status == ASKED).values(
    commune_pcode=bindparam("commune"), village=bindparam("village"), status="valid", scored_at=None)


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


def ask_key(message_id: int) -> str:
    """The question's outbox key: zero-padded so that the newest of a number's questions sorts last."""
    return f"{ASK_PREFIX}{message_id:012d}"


def asked_message(key: str | None) -> int | None:
    return int(key[len(ASK_PREFIX):]) if key and key.startswith(ASK_PREFIX) else None


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
