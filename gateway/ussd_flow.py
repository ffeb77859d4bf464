"""One USSD hop against the database: load the session, step the menu, perform the
action it asks for (store a report, register, acknowledge, set the language), save.

All in one transaction, with the session row locked on PostgreSQL, so a repeated or
concurrent hop can never store a report twice (the report's message is also unique on
the USSD session id)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.ingest import IngestContext, create_report, find_reporter, store_message
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


async def handle_hop(session: AsyncSession, ctx: IngestContext, search, hop: UssdHop, now: datetime) -> HopAnswer:  # noqa: ANN001
    query = select(UssdSession).where(UssdSession.session_id == hop.session_id)
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await session.execute(query)).scalar_one_or_none()
    if row is not None and row.phone != hop.phone:
        # A session id is the provider's: a different phone on it is not this session.
        log.warning("USSD session %s reused by another number %s", hop.session_id[:24], mask_phone(hop.phone))
        return HopAnswer(Screen("Session error. Please dial again.", final=True), False, True)
    reporter = await find_reporter(session, hop.phone)
    menu_ctx = MenuContext(
        lang=reporter.lang if reporter else None,
        is_registered=bool(reporter and reporter.status in ("approved", "pending")),
        home_pcode=reporter.commune_pcode if reporter else None,
        home_name=ctx.commune_name(reporter.commune_pcode) if reporter and reporter.commune_pcode else None,
        is_committee_member=await _is_member(session, hop.phone),
        search=search,
        taxonomy=ctx.taxonomy,
    )
    stored = ussd_session.StoredSession.from_row(row.last_text, row.state, row.last_screen) if row else None
    result = ussd_session.advance(stored, hop.text, menu_ctx)
    if row is None:
        row = UssdSession(session_id=hop.session_id, phone=hop.phone, service_code=hop.service_code,
                          started_at=now, hops=0)
        session.add(row)
    report_stored = False
    if result.action is not None:
        outcome = await _perform(session, ctx, hop, row, reporter, result.action, now)
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


async def _is_member(session: AsyncSession, phone: str) -> bool:
    found = await session.execute(select(CommitteeMember.id).where(
        CommitteeMember.phone == phone, CommitteeMember.active.is_(True)).limit(1))
    return found.first() is not None


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
