"""From an inbound SMS to a durable, understood, confirmed record — in one transaction.

The message row (unique on the provider's id), the report, any reporter change and the
reply in the outbox are written together: either all of it is committed or none, and a
provider retry of the same id finds the message and does nothing more.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.config import Settings
from gateway.kernel.envelopes import InboundSms
from gateway.kernel.phones import mask_phone, region_of, sender_key
from gateway.kernel.taxonomy import Taxonomy
from gateway.parser.result import ParseResult
from gateway.phone_actions import (
    INSERT_REPORTS,
    KnownReporter,
    RetractOutcome,
    acknowledge_alert,
    blocked,
    find_reporter,
    find_reporters,
    insert_messages,
    new_contact,
    register_reporter,
    report_row,
    retract_report,
    set_language,
    store_message_rows,
)
from gateway.sms import followup, replies
from gateway.sms.alert_commands import AlertCommands
from gateway.storage import sqlite_batch
from gateway.storage.dialects import dialect_of
from gateway.storage.errors import database_unavailable
from gateway.storage.models import Message, Outbox, Report, Reporter
from gateway.storage.outbox import PRIORITY_REPLY, OutboundSms, expiry, insert_ignoring_duplicates, outbox_row
from gateway.storage.sqlite_driver import OneHandOffConnection

log = logging.getLogger(__name__)

ERROR_CHARS = 200  # Message.error


@dataclass(frozen=True)
class IngestOutcome:
    message_id: int | None
    duplicate: bool
    kind: str
    report_id: int | None = None
    report_ref: str | None = None
    reply: str | None = None  # None when nothing is sent back (duplicate, flood)
    reply_status: str | None = None
    lang: str | None = None  # the language the message was understood and answered in
    review: str | None = None  # why the message waits for review instead of being acted on (messages.error)


@dataclass
class IngestContext:
    """Everything the ingest path needs, built once by the application."""

    settings: Settings
    taxonomy: Taxonomy
    parse: Callable[[str, str | None, str | None], ParseResult]  # (text, lang, home) -> result
    commune_name: Callable[[str], str | None]
    alerts: AlertCommands  # `OK <code>` and the rescoring after a retraction
    key_secret: str = ""
    counters: dict[str, int] = field(default_factory=dict)
    locate: followup.Search | None = None  # the place an answer to a question names


# The hot path's statements are built once: building one and computing its cache key costs more
# CPU than executing it.
_MESSAGES = Message.__table__
UPDATE_OUTCOMES = update(_MESSAGES).where(_MESSAGES.c.id == bindparam("message_id")).values(
    kind=bindparam("o_kind"), command=bindparam("o_command"), lang=bindparam("o_lang"),
    parse=bindparam("o_parse"), reply_status=bindparam("o_reply_status"), error=bindparam("o_error"))
# The reply limit's count and the newest question still open to an answer, from the same rows.
_REPLIES_SINCE = select(
    Outbox.recipient, func.count(case((Outbox.created_at >= bindparam("since"), 1))),
    func.max(case((and_(Outbox.dedup_key.startswith(followup.ASK_PREFIX, autoescape=True),
                        Outbox.created_at >= bindparam("asked_since")), Outbox.dedup_key))),
).where(Outbox.recipient.in_(bindparam("phones", expanding=True)), Outbox.kind == "reply",
        Outbox.created_at >= bindparam("earliest")).group_by(Outbox.recipient)


def message_rows(batch: Sequence[InboundSms], now: datetime, understood: Sequence[dict] | None = None) -> list[dict]:
    """The SMS' message columns. `understood`: per message, columns already known (why a message
    is kept for review), the same keys for every message."""
    return [{
        "channel": "sms", "external_id": sms.external_id, "sender": sms.sender, "short_code": sms.short_code,
        "text": sms.text, "received_at": sms.received_at, "stored_at": now, "link_id": sms.link_id,
        "network_code": sms.network_code, "provider": sms.provider, "kind": "unknown", "parse": {},
        **(understood[n] if understood else {}),
    } for n, sms in enumerate(batch)]


Reporters = dict[str, Reporter | KnownReporter]  # by phone: what a batch knows of its senders


async def _store_and_look_up_on_sqlite(driver: OneHandOffConnection, batch: Sequence[InboundSms], now: datetime,
                                       since: datetime) -> tuple[list[int | None], Reporters, dict[str, int],
                                                                 dict[str, str]]:
    """store_messages, find_reporters and recent_replies in one hand-off to SQLite."""
    message_ids, found, counted = await sqlite_batch.store_and_look_up(
        driver, insert_messages("sqlite"), message_rows(batch, now), sorted({sms.sender for sms in batch}),
        since, followup.answer_deadline(now))
    reporters = {row[1]: KnownReporter(*row) for row in found}
    return message_ids, reporters, *_counted_and_asked(counted)


def _counted_and_asked(rows) -> tuple[dict[str, int], dict[str, str]]:
    """(recipient, replies counted, newest open question's key) rows as two maps."""
    counted, asked = {}, {}
    for recipient, count, key in rows:
        counted[recipient] = int(count)
        if key:
            asked[recipient] = key
    return counted, asked


@dataclass
class _BatchWrites:
    """Rows of one batch written with one statement per table: reports, replies, message outcomes.
    Written before any command runs, so a command sees everything earlier in the batch. With a
    `driver` (SQLite), all of them in one hand-off, with the reporters' last report times."""

    driver: OneHandOffConnection | None = None
    reports: list[dict] = field(default_factory=list)
    replies: list[dict] = field(default_factory=list)  # outbox rows
    outcomes: list[dict] = field(default_factory=list)
    report_ids: dict[int, int] = field(default_factory=dict)  # message id -> report id, once written

    async def write(self, session: AsyncSession) -> None:
        if not (self.reports or self.replies or self.outcomes):
            return  # a command first in its batch, or a batch of retries only: no hand-off for nothing
        if self.driver is not None:
            touched = [{"id": row["reporter_id"], "at": row["received_at"]} for row in self.reports if row["reporter_id"]]
            inserted = await sqlite_batch.write_batch(self.driver, _SQLITE_WRITES, self.reports, self.replies,
                                                      self.outcomes, touched)
        else:
            inserted = await self._write_portably(session)
        self.report_ids.update({message_id: report_id for report_id, message_id in inserted})
        self.reports, self.replies, self.outcomes = [], [], []

    async def _write_portably(self, session: AsyncSession) -> list:
        """Through SQLAlchemy; the reporters' last report times are flushed with their ORM objects."""
        inserted = list(await session.execute(INSERT_REPORTS, self.reports)) if self.reports else []
        if self.replies:
            await session.execute(insert_ignoring_duplicates(dialect_of(session)), self.replies)
        if self.outcomes:
            await session.execute(UPDATE_OUTCOMES, self.outcomes)
        return inserted


_SQLITE_WRITES = {"reports": INSERT_REPORTS, "replies": insert_ignoring_duplicates("sqlite"),
                  "outcomes": UPDATE_OUTCOMES}


@dataclass(frozen=True)
class _Understood:
    message_id: int
    kind: str
    report_ref: str | None
    reply: str | None
    reply_status: str
    lang: str
    review: str | None = None


async def handle_sms_batch(session: AsyncSession, ctx: IngestContext, batch: Sequence[InboundSms],
                           now: datetime) -> list[IngestOutcome]:
    """The SMS of one group commit, in arrival order, each with the same outcome as if handled alone,
    with a few statements for the whole batch instead of a few per message."""
    since = now - timedelta(minutes=ctx.settings.gateway.reply_window_minutes)
    driver = await sqlite_batch.driver_of(session)
    if driver is not None:
        message_ids, reporters, replies_sent, asked = await _store_and_look_up_on_sqlite(driver, batch, now, since)
    else:
        message_ids = await store_messages(session, batch, now)
        phones = {sms.sender for sms, message_id in zip(batch, message_ids, strict=True) if message_id}
        reporters = await find_reporters(session, phones) if phones else {}
        replies_sent, asked = await recent_replies(session, phones, since, now) if phones else ({}, {})
    fresh = [(sms, message_id) for sms, message_id in zip(batch, message_ids, strict=True) if message_id]
    writes = _BatchWrites(driver)
    understood = {message_id: await _understand(session, ctx, sms, message_id, reporters, replies_sent, writes, now,
                                                asked)
                  for sms, message_id in fresh}
    await writes.write(session)
    outcomes = []
    for message_id in message_ids:
        done = understood.get(message_id) if message_id else None
        if done is None:
            outcomes.append(IngestOutcome(None, True, "duplicate"))
            continue
        outcomes.append(IngestOutcome(message_id, False, done.kind, writes.report_ids.get(message_id),
                                      done.report_ref, done.reply, done.reply_status, done.lang, done.review))
    return outcomes


async def ingest_sms_batch(sessions: Callable[[], AsyncSession], ctx: IngestContext, batch: Sequence[InboundSms],
                           now: datetime) -> list[IngestOutcome]:
    """handle_sms_batch in a transaction of its own. A message whose handling raises anything but
    a database outage is still stored, raw, with the error and waits for review: the provider
    would otherwise retry it for hours and then give up, and the report would be lost. A batch that
    raises is retried one message at a time by the group committer, so only the message that
    raises alone is kept this way and the others get their usual outcome."""
    try:
        async with sessions() as session, session.begin():
            return await handle_sms_batch(session, ctx, batch, now)
    except Exception as exc:
        if len(batch) > 1 or database_unavailable(exc):
            raise
        sms, error = batch[0], f"not understood: {type(exc).__name__} raised while handling it"
        # The frames only: an exception's text may quote the message or its number.
        log.error("SMS %s kept for review, %s:\n%s", sms.external_id, error,
                  "".join(traceback.format_tb(exc.__traceback__)).rstrip())
    async with sessions() as session, session.begin():
        return [await keep_for_review(session, sms, now, error)]


async def keep_for_review(session: AsyncSession, sms: InboundSms, now: datetime, error: str) -> IngestOutcome:
    """The raw message stored with why it is not understood (in the review queue: kind unknown,
    no label), no report and no reply; a duplicate if the provider id is already stored."""
    [message_id] = await store_messages(session, [sms], now, [
        {"kind": "unknown", "reply_status": "none", "error": error[:ERROR_CHARS]}])
    if message_id is None:
        return IngestOutcome(None, True, "duplicate")
    return IngestOutcome(message_id, False, "unknown", reply_status="none", review=error[:ERROR_CHARS])


async def store_messages(session: AsyncSession, batch: Sequence[InboundSms], now: datetime,
                         understood: Sequence[dict] | None = None) -> list[int | None]:
    """Insert the raw messages in one statement; None for a provider id already stored (a retry),
    including a second copy within the batch."""
    return await store_message_rows(session, message_rows(batch, now, understood))


async def recent_replies(session: AsyncSession, phones: set[str], since: datetime,
                         now: datetime) -> tuple[dict[str, int], dict[str, str]]:
    """Replies queued to each number since `since` (the reply rate limit), and the key of each
    number's newest question that can still be answered, for a whole batch at once."""
    asked_since = followup.answer_deadline(now)
    counted = await session.execute(_REPLIES_SINCE, {"phones": list(phones), "since": since,
                                                     "asked_since": asked_since, "earliest": min(since, asked_since)})
    return _counted_and_asked(counted)


async def _understand(session: AsyncSession, ctx: IngestContext, sms: InboundSms, message_id: int,
                      reporters: Reporters, replies_sent: dict[str, int], writes: _BatchWrites,
                      now: datetime, asked: dict[str, str]) -> _Understood:
    foreign = _foreign_region(ctx, sms.sender)
    reporter = None if foreign else reporters.get(sms.sender)
    lang_hint = reporter.lang if reporter else None
    parsed = ctx.parse(sms.text, lang_hint, reporter.commune_pcode if reporter else None)
    lang = (reporter.lang if reporter and reporter.lang else None) or parsed.lang or "fr"

    outcome_kind = parsed.kind
    report_ref: str | None = None
    review: str | None = None
    reply_text: str | None
    reply_key = "reply"
    question: followup.Question | None = None
    open_key = None if foreign else asked.get(sms.sender)
    answered = None
    if open_key is not None and parsed.kind == ("report" if followup.asks_what(open_key) else "unknown"):
        answered = await _answer(session, ctx, asked.pop(sms.sender), sms.text, parsed, reporter, lang, writes,
                                 message_id)
    if answered is not None:
        outcome_kind, report_ref, reply_text = "answer", *answered
    elif foreign:
        # Kept, never acted on: no report to score (so it cannot alert) and no command run; a
        # person reviews it. A reply abroad costs more, so it is sent only when configured.
        outcome_kind = "unknown"
        review = f"sender's country ({foreign}) is outside gateway.accepted_regions"
        reply_text = replies.text(lang, replies.HELP) if ctx.settings.gateway.reply_to_foreign else None
    elif parsed.kind == "report" and parsed.incident:
        if blocked(reporter):
            reply_text = replies.text(lang, replies.BLOCKED)
        else:
            question = followup.question_for(parsed)
            row = report_row(
                key_secret=ctx.key_secret, message_id=message_id, channel="sms", phone=sms.sender, reporter=reporter,
                incident=parsed.incident, commune=None if question else parsed.commune,
                village=None if question else parsed.village, count=parsed.count, secondary=list(parsed.secondary),
                free_text=parsed.free_text or None, lang=lang, received_at=sms.received_at,
            )
            writes.reports.append(row)
            report_ref = row["ref"]
            if question is not None:
                row["status"], reply_key = followup.ASKED, followup.ASK_PREFIX
                reply_text = followup.question_text(lang, question, report_ref,
                                                    ctx.taxonomy.by_id(parsed.incident).label(lang), ctx.commune_name)
            else:
                place = parsed.commune_name or (ctx.commune_name(parsed.commune) if parsed.commune else None)
                reply_text = replies.confirmation(lang, ctx.taxonomy, report_ref, parsed.incident, place,
                                                  parsed.count, verified=row["trust"] == "approved")
    elif parsed.kind == "command":
        await writes.write(session)
        reply_text = await _run_command(session, ctx, sms, reporters, parsed, lang, now)
    elif (parsed.kind == "unknown" and reporter is not None and reporter.status == "approved" and ctx.locate
          and (place_only := followup.place_only(ctx.locate, sms.text, reporter.commune_pcode))
          and (place_only[2] is not None or not await followup.waits_for_a_place(session, reporter.id))):
        # A focal point named a place but no incident: kept as a report and asked what happened.
        outcome_kind = "report"
        row = report_row(
            key_secret=ctx.key_secret, message_id=message_id, channel="sms", phone=sms.sender, reporter=reporter,
            incident=followup.UNCLEAR, commune=place_only[0], village=place_only[1], count=place_only[2],
            secondary=[], free_text=None, lang=lang, received_at=sms.received_at,
        )
        row["status"], reply_key = followup.ASKED, followup.WHAT_SUFFIX
        writes.reports.append(row)
        report_ref = row["ref"]
        reply_text = followup.what_question_text(lang, place_only[1] or ctx.commune_name(place_only[0]) or place_only[0])
    else:
        outcome_kind = "unknown"
        reply_text = replies.text(lang, replies.HELP)

    asking = reply_key in (followup.ASK_PREFIX, followup.WHAT_SUFFIX)
    reply_status = _queue_reply(ctx, sms, message_id, reply_text, replies_sent, writes, now,
                                dedup_key=followup.ask_key(message_id, reply_key == followup.WHAT_SUFFIX)
                                if asking else None)
    writes.outcomes.append({
        "message_id": message_id, "o_kind": outcome_kind,
        "o_command": parsed.command if outcome_kind == "command" else None, "o_lang": lang,
        "o_parse": parsed.to_dict(), "o_reply_status": reply_status, "o_error": review,
    })
    return _Understood(message_id, outcome_kind, report_ref, reply_text if reply_status == "queued" else None,
                       reply_status, lang, review)


def _foreign_region(ctx: IngestContext, phone: str) -> str | None:
    """The sender's country when it is outside gateway.accepted_regions (empty: all accepted)."""
    accepted = ctx.settings.gateway.accepted_regions
    if not accepted:
        return None
    region = region_of(phone) or "unknown"
    return None if region in accepted else region


def _queue_reply(ctx: IngestContext, sms: InboundSms, message_id: int, body: str | None,
                 replies_sent: dict[str, int], writes: _BatchWrites, now: datetime,
                 dedup_key: str | None = None) -> str:
    phone = sms.sender
    if not body:
        return "none"
    settings = ctx.settings.gateway
    if replies_sent.get(phone, 0) >= settings.reply_limit:
        log.info("reply to %s withheld: more than %d in %d min", mask_phone(phone),
                 settings.reply_limit, settings.reply_window_minutes)
        return "rate_limited"
    replies_sent[phone] = replies_sent.get(phone, 0) + 1
    row = outbox_row(OutboundSms(
        dedup_key=dedup_key or f"reply:{message_id}", kind="reply", recipient=phone, body=body, priority=PRIORITY_REPLY,
        expires_at=expiry(now, ctx.settings.outbox.reply_expiry_minutes),
    ), now)
    row["provider"] = sms.provider  # a reply leaves through the provider its message came in on
    writes.replies.append(row)
    return "queued"


async def _run_command(session: AsyncSession, ctx: IngestContext, sms: InboundSms,
                       reporters: Reporters, parsed: ParseResult, lang: str, now: datetime) -> str:
    command = parsed.command
    if command == "help":
        return replies.text(lang, replies.HELP)
    if command == "language":
        new_lang = parsed.language or lang
        set_language(await _stored_reporter(session, reporters, sms.sender, now), new_lang)
        return replies.text(new_lang, replies.LANGUAGE_SET)
    if command == "register":
        commune = parsed.commune
        if not commune:
            return replies.text(lang, replies.REGISTER_NEEDS_COMMUNE)
        reporter = await _stored_reporter(session, reporters, sms.sender, now)
        register_reporter(reporter, commune=commune, name=parsed.name, lang=lang)
        return replies.text(lang, replies.REGISTER_PENDING, commune=ctx.commune_name(commune) or commune)
    if command == "retract":
        return await _retract(session, ctx, sms.sender, parsed.report_ref or "", lang, now)
    if command == "acknowledge":
        return await acknowledge_alert(session, ctx.alerts, sms.sender, parsed.alert_code or "", lang, now)
    return replies.text(lang, replies.HELP)


async def _answer(session: AsyncSession, ctx: IngestContext, key: str, text: str, parsed: ParseResult,
                  reporter: Reporter | KnownReporter | None, lang: str, writes: _BatchWrites,
                  message_id: int) -> tuple[str, str] | None:
    """The answer to a question, when `text` names a place (or, asked what happened, an incident)
    and the report still waits: the report completed (handed to the scorer), its reference and
    confirmation. None: not an answer."""
    asked_message = followup.asked_message(key)
    if ctx.locate is None or asked_message is None:
        return None
    await writes.write(session)  # the report may have been asked about earlier in this batch
    report = await followup.waiting_report(session, asked_message)
    if report is None:
        return None
    if followup.asks_what(key):
        return await _answer_what(session, ctx, report, parsed, lang, writes, message_id)
    asked_parse = (await session.get(Message, asked_message)).parse or {}
    place = followup.answered_place(ctx.locate, text, reporter.commune_pcode if reporter else None,
                                    followup.candidates_of(asked_parse))
    if place is None or not await followup.complete(session, report.id, *place):
        return None
    writes.report_ids[message_id] = report.id
    confirmed = replies.confirmation(lang, ctx.taxonomy, report.ref, report.incident, ctx.commune_name(place[0]),
                                     report.count, verified=report.trust == "approved")
    return report.ref, confirmed


async def _answer_what(session: AsyncSession, ctx: IngestContext, report: Report, parsed: ParseResult, lang: str,
                       writes: _BatchWrites, message_id: int) -> tuple[str, str] | None:
    incident = followup.answered_incident(parsed, report.commune_pcode)
    count = report.count if report.count is not None else parsed.count
    if incident is None or not await followup.complete_incident(session, report.id, incident, count):
        return None
    writes.report_ids[message_id] = report.id
    place = report.village or ctx.commune_name(report.commune_pcode)
    confirmed = replies.confirmation(lang, ctx.taxonomy, report.ref, incident, place, count,
                                     verified=report.trust == "approved")
    return report.ref, confirmed


async def _stored_reporter(session: AsyncSession, reporters: Reporters, phone: str, now: datetime) -> Reporter:
    """The number's reporter as an ORM object for a command to change (a new contact if unknown);
    it replaces the batch's KnownReporter so the messages after the command see the change."""
    known = reporters.get(phone)
    if isinstance(known, Reporter):
        return known
    reporter = await find_reporter(session, phone) if known is not None else None
    if reporter is None:
        reporter = await new_contact(session, phone, now)
    reporters[phone] = reporter
    return reporter


async def _retract(session: AsyncSession, ctx: IngestContext, phone: str, ref: str, lang: str,
                   now: datetime) -> str:
    result = await retract_report(session, sender_key(phone, ctx.key_secret), ref, now, ctx.alerts.report_retracted)
    if result.outcome in (RetractOutcome.UNKNOWN_REF, RetractOutcome.NOT_YOURS):
        return replies.text(lang, replies.RETRACT_UNKNOWN, ref=result.ref or "?")
    return replies.text(lang, replies.RETRACTED, ref=result.ref)
