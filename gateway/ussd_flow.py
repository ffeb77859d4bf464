"""USSD hops against the database: load each session, step the menu, perform the
action it asks for (store a report, register, acknowledge, set the language), save.

Concurrent hops share one transaction (group commit, as SMS do), with the session rows
locked on PostgreSQL, so a repeated or concurrent hop can never store a report twice (the
report's message is also unique on the USSD session id)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.ingest import IngestContext, create_report, find_reporter, find_reporters, store_message
from gateway.messages import InboundSms, UssdEnd, UssdHop
from gateway.phones import mask_phone
from gateway.storage.models import CommitteeMember, Message, Reporter, UssdSession
from gateway.ussd import session as ussd_session
from gateway.ussd.actions import (
    Acknowledge,
    AckResult,
    ActionFailed,
    Register,
    ReportStored,
    SetLanguage,
    SubmitReport,
)
from gateway.ussd.screens import Screen
from gateway.ussd.state import MenuContext

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HopAnswer:
    screen: Screen
    report_stored: bool
    duplicate: bool


async def handle_hops(session: AsyncSession, ctx: IngestContext, search, hops: Sequence[UssdHop],  # noqa: ANN001
                      now: datetime) -> list[HopAnswer]:
    """The hops of one group commit, in arrival order: their sessions, reporters and committee
    membership read in three queries, each hop then stepped as if handled alone."""
    rows = await _session_rows(session, {hop.session_id for hop in hops})
    phones = {hop.phone for hop in hops}
    reporters = await find_reporters(session, phones)
    members = set((await session.execute(select(CommitteeMember.phone).where(
        CommitteeMember.phone.in_(phones), CommitteeMember.active.is_(True)))).scalars())
    return [await _handle_hop(session, ctx, search, hop, rows, reporters, hop.phone in members, now) for hop in hops]


async def _session_rows(session: AsyncSession, session_ids: set[str]) -> dict[str, UssdSession]:
    query = select(UssdSession).where(UssdSession.session_id.in_(session_ids))
    if session.bind.dialect.name == "postgresql":  # a repeated hop on another replica waits for this one
        query = query.order_by(UssdSession.session_id).with_for_update()
    return {row.session_id: row for row in (await session.execute(query)).scalars()}


async def _handle_hop(session: AsyncSession, ctx: IngestContext, search, hop: UssdHop,  # noqa: ANN001
                      rows: dict[str, UssdSession], reporters: dict[str, Reporter], is_member: bool,
                      now: datetime) -> HopAnswer:
    row = rows.get(hop.session_id)
    if row is not None and row.phone != hop.phone:
        # A session id is the provider's: a different phone on it is not this session.
        log.warning("USSD session %s reused by another number %s", hop.session_id[:24], mask_phone(hop.phone))
        return HopAnswer(Screen("Session error. Please dial again.", final=True), False, True)
    reporter = reporters.get(hop.phone)
    menu_ctx = MenuContext(
        lang=reporter.lang if reporter else None,
        is_registered=bool(reporter and reporter.status in ("approved", "pending")),
        home_pcode=reporter.commune_pcode if reporter else None,
        home_name=ctx.commune_name(reporter.commune_pcode) if reporter and reporter.commune_pcode else None,
        is_committee_member=is_member,
        search=search,
        taxonomy=ctx.taxonomy,
    )
    stored = ussd_session.StoredSession.from_row(row.last_text, row.state, row.last_screen) if row else None
    result = ussd_session.advance(stored, hop.text, menu_ctx)
    if row is None:
        row = UssdSession(session_id=hop.session_id, phone=hop.phone, service_code=hop.service_code,
                          started_at=now, hops=0)
        session.add(row)
        rows[hop.session_id] = row
    report_stored = False
    if result.action is not None:
        outcome = await _perform(session, ctx, hop, row, reporter, result.action, now)
        if isinstance(result.action, Register | SetLanguage):  # later hops of this batch see the change
            reporters[hop.phone] = await find_reporter(session, hop.phone)
        report_stored = isinstance(outcome, ReportStored)
        if isinstance(result.action, SubmitReport | Acknowledge):
            result = ussd_session.complete(result, menu_ctx, outcome)
    if not result.duplicate:
        saved = result.stored.to_row()
        row.last_text, row.state, row.last_screen = saved["last_text"], saved["state"], saved["last_screen"]
        row.hops = (row.hops or 0) + 1
        row.updated_at = now
        if result.screen.final and row.end_reason is None:
            row.end_reason = "completed"
    return HopAnswer(result.screen, report_stored, result.duplicate)


async def _perform(session: AsyncSession, ctx: IngestContext, hop: UssdHop, row: UssdSession,
                   reporter: Reporter | None, action, now: datetime):  # noqa: ANN001, ANN202
    if isinstance(action, SubmitReport):
        if reporter is not None and reporter.status == "blocked":
            return ActionFailed()
        text = f"USSD {action.incident} {action.commune_pcode} {action.village or ''} {action.count or ''}".strip()
        message_id = await store_message(session, "ussd", InboundSms(
            external_id=hop.session_id, sender=hop.phone, short_code=hop.service_code, text=text,
            received_at=now, network_code=hop.network_code), now)
        if message_id is None:  # this session already stored its report
            return ActionFailed()
        report = await create_report(
            session, ctx, message_id=message_id, channel="ussd", phone=hop.phone, reporter=reporter,
            incident=action.incident, commune=action.commune_pcode, village=action.village, count=action.count,
            secondary=[], free_text=None, lang=action.lang, received_at=now)
        await session.execute(update(Message).where(Message.id == message_id).values(kind="report", lang=action.lang))
        row.report_id = report.id
        return ReportStored(report.ref)
    if isinstance(action, Register):
        from gateway.storage.reporters import upsert_reporter

        status = reporter.status if reporter and reporter.status in ("approved", "blocked") else "pending"
        await upsert_reporter(session, hop.phone, name=action.name, commune=action.commune_pcode,
                              lang=action.lang, status=status, now=now)
        return None
    if isinstance(action, SetLanguage):
        if reporter is None:
            reporter = Reporter(phone=hop.phone, status="unregistered", created_at=now)
            session.add(reporter)
        reporter.lang = action.lang
        return None
    if isinstance(action, Acknowledge):
        from gateway import replies

        if ctx.acknowledge is None:
            return ActionFailed()
        result = await ctx.acknowledge(session, hop.phone, action.code, now)
        return AckResult(replies.acknowledgement(action.lang, result.outcome, action.code, result.who))
    return None


async def record_session_end(session: AsyncSession, event: UssdEnd, now: datetime) -> bool:
    row = (await session.execute(select(UssdSession).where(UssdSession.session_id == event.session_id))).scalar_one_or_none()
    if row is None:
        return False
    row.ended_at = row.ended_at or now
    if row.end_reason in (None, "abandoned"):
        row.end_reason = "completed" if row.report_id else (event.status or "ended")[:40]
    return True
