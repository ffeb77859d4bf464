"""From an inbound SMS to a durable, understood, confirmed record — in one transaction.

The message row (unique on the provider's id), the report, any reporter change and the
reply in the outbox are written together: either all of it is committed or none, and a
provider retry of the same id finds the message and does nothing more.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import replies
from gateway.config import Settings
from gateway.messages import InboundSms
from gateway.parser.result import ParseResult
from gateway.phones import mask_phone, sender_key
from gateway.refs import encode_ref, normalise_ref
from gateway.storage.models import Message, Report, Reporter
from gateway.storage.outbox import PRIORITY_REPLY, OutboundSms, enqueue, expiry, recent_reply_count
from gateway.taxonomy import Taxonomy

log = logging.getLogger(__name__)

TRUST_BY_STATUS = {"approved": "approved", "pending": "pending", "blocked": "blocked"}


@dataclass(frozen=True)
class AckResult:
    """What happened to `OK <code>`; the reply is rendered from it in the member's language."""

    outcome: str  # done, already, unknown, not_member
    code: str
    who: str | None = None


@dataclass(frozen=True)
class IngestOutcome:
    message_id: int | None
    duplicate: bool
    kind: str
    report_id: int | None = None
    report_ref: str | None = None
    reply: str | None = None  # None when nothing is sent back (duplicate, flood)
    reply_status: str | None = None


@dataclass
class IngestContext:
    """Everything the ingest path needs, built once by the application."""

    settings: Settings
    taxonomy: Taxonomy
    parse: Callable[[str, str | None, str | None], ParseResult]  # (text, lang, home) -> result
    commune_name: Callable[[str], str | None]
    acknowledge: Callable[[AsyncSession, str, str, datetime], Awaitable[AckResult]] | None = None
    rescore: Callable[[AsyncSession, int, datetime], Awaitable[None]] | None = None
    key_secret: str = ""
    counters: dict[str, int] = field(default_factory=dict)


def _insert(session: AsyncSession, model):
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


async def store_message(session: AsyncSession, channel: str, sms: InboundSms, now: datetime) -> int | None:
    """Insert the raw message; None when the provider's id was already stored (a retry)."""
    statement = _insert(session, Message).values(
        channel=channel, external_id=sms.external_id, sender=sms.sender, short_code=sms.short_code,
        text=sms.text, received_at=sms.received_at, stored_at=now, link_id=sms.link_id,
        network_code=sms.network_code, kind="unknown", parse={},
    ).on_conflict_do_nothing(index_elements=["channel", "external_id"]).returning(Message.id)
    return (await session.execute(statement)).scalar_one_or_none()


async def find_reporter(session: AsyncSession, phone: str) -> Reporter | None:
    return (await session.execute(select(Reporter).where(Reporter.phone == phone))).scalar_one_or_none()


async def create_report(session: AsyncSession, ctx: IngestContext, *, message_id: int, channel: str,
                        phone: str, reporter: Reporter | None, incident: str, commune: str | None,
                        village: str | None, count: int | None, secondary: list[str], free_text: str | None,
                        lang: str, received_at: datetime) -> Report:
    """Shared by SMS and USSD: the same record, scored the same way."""
    trust = TRUST_BY_STATUS.get(reporter.status, "unknown") if reporter else "unknown"
    report = Report(
        ref=encode_ref(message_id), message_id=message_id, channel=channel,
        reporter_id=reporter.id if reporter else None, sender_key=sender_key(phone, ctx.key_secret),
        trust=trust, incident=incident, secondary=secondary, commune_pcode=commune, village=village,
        count=count, free_text=free_text, lang=lang, status="valid", received_at=received_at,
    )
    session.add(report)
    if reporter is not None:
        reporter.last_report_at = received_at
    await session.flush()
    return report


async def handle_sms(session: AsyncSession, ctx: IngestContext, sms: InboundSms, now: datetime) -> IngestOutcome:
    message_id = await store_message(session, "sms", sms, now)
    if message_id is None:
        return IngestOutcome(None, True, "duplicate")

    reporter = await find_reporter(session, sms.sender)
    lang_hint = reporter.lang if reporter else None
    parsed = ctx.parse(sms.text, lang_hint, reporter.commune_pcode if reporter else None)
    lang = (reporter.lang if reporter and reporter.lang else None) or parsed.lang or "fr"

    outcome_kind = parsed.kind
    report: Report | None = None
    reply_text: str | None
    if parsed.kind == "report" and parsed.incident:
        if reporter is not None and reporter.status == "blocked":
            reply_text = replies.text(lang, replies.BLOCKED)
        else:
            report = await create_report(
                session, ctx, message_id=message_id, channel="sms", phone=sms.sender, reporter=reporter,
                incident=parsed.incident, commune=parsed.commune, village=parsed.village,
                count=parsed.count, secondary=list(parsed.secondary),
                free_text=parsed.free_text or None, lang=lang, received_at=sms.received_at,
            )
            place = parsed.commune_name or (ctx.commune_name(parsed.commune) if parsed.commune else None)
            reply_text = replies.confirmation(lang, ctx.taxonomy, report.ref, parsed.incident, place,
                                              parsed.count, verified=report.trust == "approved")
    elif parsed.kind == "command":
        reply_text = await _run_command(session, ctx, sms, reporter, parsed, lang, now)
    else:
        outcome_kind = "unknown"
        reply_text = replies.text(lang, replies.HELP)

    reply_status = await _queue_reply(session, ctx, sms.sender, message_id, reply_text, now)
    await session.execute(
        update(Message).where(Message.id == message_id).values(
            kind=outcome_kind, command=parsed.command if parsed.kind == "command" else None,
            lang=lang, parse=parsed.to_dict(), reply_status=reply_status,
        )
    )
    return IngestOutcome(message_id, False, outcome_kind, report.id if report else None,
                         report.ref if report else None,
                         reply_text if reply_status == "queued" else None, reply_status)


async def _queue_reply(session: AsyncSession, ctx: IngestContext, phone: str, message_id: int,
                       body: str | None, now: datetime) -> str:
    if not body:
        return "none"
    settings = ctx.settings.gateway
    since = now - timedelta(minutes=settings.reply_window_minutes)
    if await recent_reply_count(session, phone, since) >= settings.reply_limit:
        log.info("reply to %s withheld: more than %d in %d min", mask_phone(phone),
                 settings.reply_limit, settings.reply_window_minutes)
        return "rate_limited"
    await enqueue(session, [OutboundSms(
        dedup_key=f"reply:{message_id}", kind="reply", recipient=phone, body=body, priority=PRIORITY_REPLY,
        expires_at=expiry(now, ctx.settings.outbox.reply_expiry_minutes),
    )], now)
    return "queued"


async def _run_command(session: AsyncSession, ctx: IngestContext, sms: InboundSms, reporter: Reporter | None,
                       parsed: ParseResult, lang: str, now: datetime) -> str:
    command = parsed.command
    if command == "help":
        return replies.text(lang, replies.HELP)
    if command == "language":
        new_lang = parsed.language or lang
        reporter = reporter or await _new_contact(session, sms.sender, now)
        reporter.lang = new_lang
        return replies.text(new_lang, replies.LANGUAGE_SET)
    if command == "register":
        commune = parsed.commune
        if not commune:
            return replies.text(lang, replies.REGISTER_NEEDS_COMMUNE)
        reporter = reporter or await _new_contact(session, sms.sender, now)
        reporter.commune_pcode = commune
        reporter.name = parsed.name or reporter.name
        reporter.lang = lang
        if reporter.status != "approved" and reporter.status != "blocked":
            reporter.status = "pending"
        return replies.text(lang, replies.REGISTER_PENDING, commune=ctx.commune_name(commune) or commune)
    if command == "retract":
        ref = normalise_ref(parsed.report_ref or "")
        return await _retract(session, ctx, sms.sender, ref, lang, now)
    if command == "acknowledge" and ctx.acknowledge is not None:
        code = (parsed.alert_code or "").strip().upper()
        result = await ctx.acknowledge(session, sms.sender, code, now)
        template = {"done": replies.ACK_DONE, "already": replies.ACK_ALREADY,
                    "not_member": replies.ACK_NOT_MEMBER}.get(result.outcome, replies.ACK_UNKNOWN)
        return replies.text(lang, template, code=code or "?", who=result.who or "?")
    return replies.text(lang, replies.HELP)


async def _new_contact(session: AsyncSession, phone: str, now: datetime) -> Reporter:
    """A number that set its language or asked to register: remembered, not approved."""
    reporter = Reporter(phone=phone, status="unregistered", lang="fr", created_at=now)
    session.add(reporter)
    await session.flush()
    return reporter


async def _retract(session: AsyncSession, ctx: IngestContext, phone: str, ref: str, lang: str,
                   now: datetime) -> str:
    key = sender_key(phone, ctx.key_secret)
    report = (await session.execute(
        select(Report).where(Report.ref == ref, Report.sender_key == key)
    )).scalar_one_or_none()
    if report is None:
        return replies.text(lang, replies.RETRACT_UNKNOWN, ref=ref or "?")
    if report.status != "retracted":
        report.status = "retracted"
        if ctx.rescore is not None:
            await ctx.rescore(session, report.id, now)
    return replies.text(lang, replies.RETRACTED, ref=ref)
