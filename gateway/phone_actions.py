"""What a phone can ask of the gateway, by SMS or USSD alike: store a report, register, set its
language, acknowledge an alert, retract a report.

Each channel reads its own envelope (gateway.sms.ingest an InboundSms, gateway.ussd.flow a
UssdHop) and calls these steps with plain values, so a rule of what an action does is written
once. The statements are built once, at import: building one costs more than running it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache

from sqlalchemy import Insert, bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.kernel.i18n import normalise_lang
from gateway.kernel.phones import sender_key
from gateway.kernel.redact import redact
from gateway.sms import replies
from gateway.sms.alert_commands import AlertCommands
from gateway.sms.references import encode_ref, normalise_ref
from gateway.storage.dialects import conflict_insert, dialect_of
from gateway.storage.models import Message, Report, Reporter

NAME_CHARS = 120  # Reporter.name
TRUST_BY_STATUS = {"approved": "approved", "pending": "pending", "blocked": "blocked"}

_MESSAGES, _REPORTS = Message.__table__, Report.__table__
INSERT_REPORTS = insert(_REPORTS).returning(_REPORTS.c.id, _REPORTS.c.message_id)
_REPORTERS_BY_PHONE = select(Reporter).where(Reporter.phone.in_(bindparam("phones", expanding=True)))
_REPORTER_BY_PHONE = select(Reporter).where(Reporter.phone == bindparam("phone"))
_REPORT_BY_REF = select(Report).where(Report.ref == bindparam("ref"))


# --- the raw message behind a report -------------------------------------------------------

@cache
def insert_messages(dialect: str) -> Insert:
    """Raw messages, a provider id already stored (a retry) skipped; their ids and provider ids back."""
    return conflict_insert(dialect, _MESSAGES).on_conflict_do_nothing(index_elements=["channel", "external_id"]).returning(
        _MESSAGES.c.id, _MESSAGES.c.external_id)


async def store_message_rows(session: AsyncSession, rows: Sequence[dict]) -> list[int | None]:
    """Insert message rows (the same keys in each) in one statement; None for a provider id
    already stored, including a second copy within the rows."""
    # executemany form: sent as multi-row INSERTs by SQLAlchemy ("insertmanyvalues")
    stored = {external_id: message_id for message_id, external_id
              in await session.execute(insert_messages(dialect_of(session)), rows)}
    return [stored.pop(row["external_id"], None) for row in rows]


# --- who is asking --------------------------------------------------------------------------

@dataclass(slots=True)
class KnownReporter:
    """A stored reporter as the SQLite batch reads it: what understanding a message needs. An
    action that changes the reporter loads the ORM object instead."""

    id: int
    phone: str
    name: str | None
    commune_pcode: str | None
    lang: str
    status: str
    last_report_at: datetime | None = None  # set by report_row; written with the batch's reports


async def find_reporter(session: AsyncSession, phone: str) -> Reporter | None:
    return (await session.execute(_REPORTER_BY_PHONE, {"phone": phone})).scalar_one_or_none()


async def find_reporters(session: AsyncSession, phones: set[str]) -> dict[str, Reporter]:
    found = await session.execute(_REPORTERS_BY_PHONE, {"phones": list(phones)})
    return {reporter.phone: reporter for reporter in found.scalars()}


async def new_contact(session: AsyncSession, phone: str, now: datetime) -> Reporter:
    """A number that set its language or asked to register: remembered, not approved."""
    reporter = Reporter(phone=phone, status="unregistered", lang="fr", created_at=now)
    session.add(reporter)
    await session.flush()
    return reporter


def blocked(reporter: Reporter | KnownReporter | None) -> bool:
    """A blocked number's reports are refused (it is told so)."""
    return reporter is not None and reporter.status == "blocked"


# --- storing a report -------------------------------------------------------------------------

def report_trust(reporter: Reporter | KnownReporter | None) -> str:
    return TRUST_BY_STATUS.get(reporter.status, "unknown") if reporter else "unknown"


def report_row(*, key_secret: str, message_id: int, channel: str, phone: str,
               reporter: Reporter | KnownReporter | None, incident: str, commune: str | None, village: str | None,
               count: int | None, secondary: list[str], free_text: str | None, lang: str,
               received_at: datetime) -> dict:
    """A report's column values, the same record for SMS and USSD (scored the same way); the
    reporter's last report time is set on the way (written with the batch's reports on SQLite)."""
    if reporter is not None:
        reporter.last_report_at = received_at
    return dict(
        ref=encode_ref(message_id), message_id=message_id, channel=channel,
        reporter_id=reporter.id if reporter else None, sender_key=sender_key(phone, key_secret),
        trust=report_trust(reporter), incident=incident, secondary=secondary, commune_pcode=commune,
        village=village, count=count, free_text=redact(free_text, reporter.name if reporter else None), lang=lang,
        status="valid", received_at=received_at,
    )


# --- registering, setting a language ----------------------------------------------------------

def registration_status(current: str | None) -> str:
    """A registration waits for an administrator, unless the number is already approved or blocked."""
    return current if current in ("approved", "blocked") else "pending"


def register_reporter(reporter: Reporter, *, commune: str, name: str | None, lang: str) -> None:
    """The reporter asks to be a focal point of `commune` (an empty name keeps the stored one)."""
    reporter.commune_pcode = commune
    reporter.name = (name or "")[:NAME_CHARS] or reporter.name
    reporter.lang = normalise_lang(lang)
    reporter.status = registration_status(reporter.status)


def set_language(reporter: Reporter, lang: str) -> None:
    reporter.lang = lang


# --- acknowledging an alert --------------------------------------------------------------------

async def acknowledge_alert(session: AsyncSession, alerts: AlertCommands, phone: str, code: str, lang: str,
                            now: datetime) -> str:
    """`OK <code>` from a committee member: the alert service's outcome, as the reply in `lang`."""
    code = code.strip().upper()
    result = await alerts.acknowledge(session, phone, code, now)
    return replies.acknowledgement(lang, result.outcome, code, result.who)


# --- retracting a report ------------------------------------------------------------------------

class RetractOutcome(StrEnum):
    RETRACTED = "retracted"
    UNKNOWN_REF = "unknown_ref"
    NOT_YOURS = "not_yours"
    ALREADY_RETRACTED = "already_retracted"


@dataclass(frozen=True)
class RetractResult:
    outcome: RetractOutcome
    ref: str
    report_id: int | None = None
    cancelled_alert: str | None = None  # code of an alert withdrawn because no report is left behind it


# (session, report id, now) -> the code of an alert cancelled because no report is left behind it
Rescore = Callable[[AsyncSession, int, datetime], Awaitable[str | None]]


async def retract_report(session: AsyncSession, sender: str, ref: str, now: datetime,
                         rescore: Rescore) -> RetractResult:
    """`FAUX <ref>` from the sender of the report (`sender`: its pseudonymous sender_key); the
    alert it counted for is re-scored by `rescore`."""
    ref = normalise_ref(ref)
    report = (await session.execute(_REPORT_BY_REF, {"ref": ref})).scalar_one_or_none()
    if report is None:
        return RetractResult(RetractOutcome.UNKNOWN_REF, ref)
    if report.sender_key != sender:
        return RetractResult(RetractOutcome.NOT_YOURS, ref)
    if report.status == "retracted":
        return RetractResult(RetractOutcome.ALREADY_RETRACTED, ref, report.id)
    report.status = "retracted"
    return RetractResult(RetractOutcome.RETRACTED, ref, report.id, await rescore(session, report.id, now))
