"""USSD hops against the database: load each session, step the menu, perform the
action it asks for (store a report, register, acknowledge, set the language), save.

Concurrent hops share one transaction (group commit, as SMS do), with the session rows
locked on PostgreSQL, so a repeated or concurrent hop can never store a report twice (the
report's message is also unique on the USSD session id)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, literal, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.kernel.envelopes import UssdEnd, UssdHop, UssdScreen
from gateway.kernel.phones import mask_phone
from gateway.phone_actions import (
    INSERT_REPORTS,
    acknowledge_alert,
    blocked,
    find_reporter,
    find_reporters,
    new_contact,
    register_reporter,
    report_row,
    set_language,
    store_message_rows,
)
from gateway.sms.ingest import IngestContext
from gateway.storage.models import CommitteeMember, Reporter, UssdSession
from gateway.ussd import session as ussd_session
from gateway.ussd.actions import (
    Acknowledge,
    AckReply,
    Action,
    ActionFailed,
    Register,
    ReportStored,
    SetLanguage,
    SubmitReport,
)
from gateway.ussd.memory import SESSIONS_BY_ID, Caller, LiveSession, LiveSessions, save_session_rows
from gateway.ussd.state import MenuContext, PlaceSearch

# Built once (see gateway.phone_actions): the statements of every USSD hop that reads or stores.
_ACTIVE_MEMBERS = select(CommitteeMember.phone, CommitteeMember.lang).where(
    CommitteeMember.phone.in_(bindparam("phones", expanding=True)), CommitteeMember.active.is_(True))
_CALLER_FACTS = union_all(
    select(Reporter.phone, Reporter.lang, Reporter.status, Reporter.commune_pcode, literal(False))
    .where(Reporter.phone.in_(bindparam("phones", expanding=True))),
    select(CommitteeMember.phone, CommitteeMember.lang, null(), null(), literal(True)).where(
        CommitteeMember.phone.in_(bindparam("phones", expanding=True)), CommitteeMember.active.is_(True)))
_SESSIONS_LOCKED = SESSIONS_BY_ID.order_by(UssdSession.session_id).with_for_update()

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HopAnswer:
    screen: UssdScreen
    report_stored: bool
    duplicate: bool
    sms_queued: bool = False  # an acknowledgement told the other notified members


async def handle_hops(session: AsyncSession, ctx: IngestContext, search: PlaceSearch, hops: Sequence[UssdHop],
                      now: datetime) -> list[HopAnswer]:
    """The hops of one group commit, in arrival order: their sessions, reporters and committee
    membership read in three queries, each hop then stepped as if handled alone."""
    rows = await _session_rows(session, {hop.session_id for hop in hops})
    phones = {hop.phone for hop in hops}
    reporters = await find_reporters(session, phones)
    members: dict[str, str | None] = {}
    for phone, lang in await session.execute(_ACTIVE_MEMBERS, {"phones": list(phones)}):
        members[phone] = members.get(phone) or lang
    return [await _handle_hop(session, ctx, search, hop, rows, reporters, members, now) for hop in hops]


async def _session_rows(session: AsyncSession, session_ids: set[str]) -> dict[str, UssdSession]:
    # on PostgreSQL a repeated hop on another replica waits for this one
    query = _SESSIONS_LOCKED if session.bind.dialect.name == "postgresql" else SESSIONS_BY_ID
    return {row.session_id: row for row in (await session.execute(query, {"ids": list(session_ids)})).scalars()}


async def _handle_hop(session: AsyncSession, ctx: IngestContext, search: PlaceSearch, hop: UssdHop,
                      rows: dict[str, UssdSession], reporters: dict[str, Reporter], members: dict[str, str | None],
                      now: datetime) -> HopAnswer:
    row = rows.get(hop.session_id)
    if row is not None and row.phone != hop.phone:
        return _reused_session(hop)
    reporter = reporters.get(hop.phone)
    menu_ctx = _menu_context(ctx, search, caller_of(reporter, hop.phone in members, members.get(hop.phone)))
    stored = ussd_session.StoredSession.from_row(row.last_text, row.state, row.last_screen) if row else None
    result = ussd_session.advance(stored, hop.text, menu_ctx)
    if row is None:
        row = UssdSession(session_id=hop.session_id, phone=hop.phone, service_code=hop.service_code,
                          started_at=now, hops=0)
        session.add(row)
        rows[hop.session_id] = row
    report_stored = False
    if result.action is not None:
        outcome, report_id = await _perform(session, ctx, hop, reporter, result.action, now)
        if report_id is not None:
            row.report_id = report_id
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
    return HopAnswer(result.screen, report_stored, result.duplicate, isinstance(result.action, Acknowledge))


def _reused_session(hop: UssdHop) -> HopAnswer:
    # A session id is the provider's: a different phone on it is not this session.
    log.warning("USSD session %s reused by another number %s", hop.session_id[:24], mask_phone(hop.phone))
    return HopAnswer(UssdScreen("Session error. Please dial again.", final=True), False, True)


def caller_of(reporter: Reporter | None, is_member: bool, member_lang: str | None = None) -> Caller:
    """A member with no reporter row is greeted in the language of their committee registration."""
    if reporter is None:
        return Caller(lang=member_lang, status=None, home_pcode=None, is_member=is_member)
    return Caller(lang=reporter.lang, status=reporter.status, home_pcode=reporter.commune_pcode, is_member=is_member)


async def load_callers(session: AsyncSession, phones: set[str]) -> dict[str, Caller]:
    """The reporter facts and committee membership of each phone, in one statement."""
    facts: dict[str, tuple] = {}
    members: dict[str, str | None] = {}  # a member's language: the menu speaks it without asking first
    for phone, lang, status, home, is_member in await session.execute(_CALLER_FACTS, {"phones": list(phones)}):
        if is_member:
            members[phone] = members.get(phone) or lang
        else:
            facts[phone] = (lang, status, home)
    return {phone: Caller(*facts.get(phone, (members.get(phone), None, None)), is_member=phone in members)
            for phone in phones}


def _menu_context(ctx: IngestContext, search: PlaceSearch, caller: Caller) -> MenuContext:
    return MenuContext(
        lang=caller.lang,
        # a committee member is known too: registering as a focal point stays possible by SMS
        is_registered=caller.status in ("approved", "pending") or caller.is_member,
        home_pcode=caller.home_pcode,
        home_name=ctx.commune_name(caller.home_pcode) if caller.home_pcode else None,
        is_committee_member=caller.is_member,
        search=search,
        taxonomy=ctx.taxonomy,
    )


# --- sessions kept in memory (gateway.ussd.memory) -----------------------------------------

@dataclass(frozen=True)
class LiveAction:
    """A hop whose menu step asks for an action: performed and committed with its session row."""
    hop: UssdHop
    live: LiveSession
    result: ussd_session.HopResult
    menu_ctx: MenuContext


@dataclass(frozen=True)
class ActionDone:
    result: ussd_session.HopResult
    report_id: int | None
    caller: Caller | None  # the caller's facts after a registration or a language change


async def answer_from_memory(store: LiveSessions, ctx: IngestContext, search: PlaceSearch, hop: UssdHop,
                             now: datetime,
                             commit: Callable[[LiveAction], Awaitable[ActionDone]]) -> HopAnswer:
    """One hop against its session in memory; only a hop with an action waits for a commit. The
    hops of one session are taken one at a time, so a doubled hop is then a repeat."""
    live = store.entry(hop, now)
    async with live.lock:
        if not live.loaded:
            await store.load(live)
        if live.phone != hop.phone:
            return _reused_session(hop)
        menu_ctx = _menu_context(ctx, search, live.caller)
        result = ussd_session.advance(live.stored, hop.text, menu_ctx)
        report_id = None
        action = result.action
        if action is not None:
            done = await commit(LiveAction(hop, live, result, menu_ctx))
            result, report_id = done.result, done.report_id
            if done.caller is not None:
                live.caller = done.caller
        live.apply(result, now, report_id)
        return HopAnswer(result.screen, report_id is not None, result.duplicate, isinstance(action, Acknowledge))


async def perform_actions(session: AsyncSession, ctx: IngestContext, items: Sequence[LiveAction],
                          now: datetime) -> list[ActionDone]:
    """The actions of one group commit, each with its session row; memory is left untouched
    (the batch may be retried item by item), the caller applies the results after the commit.
    Reports are written with one statement per table for the whole batch."""
    reporters = await find_reporters(session, {item.hop.phone for item in items})
    stored = await _store_reports(session, ctx, [(item.hop, item.result.action) for item in items
                                                 if isinstance(item.result.action, SubmitReport)], reporters, now)
    done, rows = [], []
    for item in items:
        hop, action, result = item.hop, item.result.action, item.result
        if isinstance(action, SubmitReport):
            outcome, report_id = stored[hop.session_id]
        else:
            outcome, report_id = await _perform(session, ctx, hop, reporters.get(hop.phone), action, now)
        caller = None
        if isinstance(action, Register | SetLanguage):
            reporters[hop.phone] = await find_reporter(session, hop.phone)
            caller = caller_of(reporters[hop.phone], item.live.caller.is_member if item.live.caller else False)
        if isinstance(action, SubmitReport | Acknowledge):
            result = ussd_session.complete(result, item.menu_ctx, outcome)
        rows.append(item.live.row_after(result, now, report_id))
        done.append(ActionDone(result, report_id, caller))
    await save_session_rows(session, rows)
    return done


async def _store_reports(session: AsyncSession, ctx: IngestContext, submits: Sequence[tuple[UssdHop, SubmitReport]],
                         reporters: dict[str, Reporter], now: datetime) -> dict[str, tuple[object, int | None]]:
    """SubmitReport actions by session id: (ReportStored, report id), or (ActionFailed, None) for a
    blocked number or a session that already stored its report. One statement per table for all."""
    outcomes: dict[str, tuple[object, int | None]] = {}
    wanted = []
    for hop, action in submits:
        if blocked(reporters.get(hop.phone)):
            outcomes[hop.session_id] = (ActionFailed(), None)
        else:
            wanted.append((hop, action))
    if not wanted:
        return outcomes
    message_ids = await store_message_rows(session, [_report_message_row(hop, action, now) for hop, action in wanted])
    report_rows = []
    for (hop, action), message_id in zip(wanted, message_ids, strict=True):
        if message_id is None:  # this session already stored its report
            outcomes[hop.session_id] = (ActionFailed(), None)
            continue
        report_rows.append(report_row(
            key_secret=ctx.key_secret, message_id=message_id, channel="ussd", phone=hop.phone, reporter=reporters.get(hop.phone),
            incident=action.incident, commune=action.commune_pcode, village=action.village, count=action.count,
            secondary=[], free_text=None, lang=action.lang, received_at=now))
    if report_rows:
        inserted = dict((message_id, report_id) for report_id, message_id
                        in await session.execute(INSERT_REPORTS, report_rows))
        by_message = {row["message_id"]: row for row in report_rows}
        for (hop, _), message_id in zip(wanted, message_ids, strict=True):
            if message_id is not None:
                outcomes[hop.session_id] = (ReportStored(by_message[message_id]["ref"]), inserted[message_id])
    return outcomes


def _report_message_row(hop: UssdHop, action: SubmitReport, now: datetime) -> dict:
    """The report's raw message, unique on the USSD session: a session stores one report."""
    text = f"USSD {action.incident} {action.commune_pcode} {action.village or ''} {action.count or ''}".strip()
    return {"channel": "ussd", "external_id": hop.session_id, "sender": hop.phone, "short_code": hop.service_code,
            "text": text, "received_at": now, "stored_at": now, "link_id": None, "network_code": hop.network_code,
            "kind": "report", "parse": {}, "lang": action.lang}


async def _perform(session: AsyncSession, ctx: IngestContext, hop: UssdHop, reporter: Reporter | None,
                   action: Action, now: datetime) -> tuple[object, int | None]:
    """The action's outcome, and the id of the report it stored (None when it stored none)."""
    if isinstance(action, SubmitReport):
        reporters = {hop.phone: reporter} if reporter is not None else {}
        return (await _store_reports(session, ctx, [(hop, action)], reporters, now))[hop.session_id]
    if isinstance(action, Register | SetLanguage):
        reporter = reporter if reporter is not None else await new_contact(session, hop.phone, now)
        if isinstance(action, Register):
            register_reporter(reporter, commune=action.commune_pcode, name=action.name, lang=action.lang)
        else:
            set_language(reporter, action.lang)
        return None, None
    if isinstance(action, Acknowledge):
        return AckReply(await acknowledge_alert(session, ctx.alerts, hop.phone, action.code, action.lang, now)), None
    return None, None


async def record_session_end(session: AsyncSession, event: UssdEnd,
                             now: datetime) -> tuple[datetime, str | None] | None:
    """The session's end time and reason as recorded; None for a session never seen."""
    row = (await session.execute(select(UssdSession).where(UssdSession.session_id == event.session_id))).scalar_one_or_none()
    if row is None:
        return None
    row.ended_at = row.ended_at or now
    if row.end_reason in (None, "abandoned"):
        row.end_reason = "completed" if row.report_id else (event.status or "ended")[:40]
    return row.ended_at, row.end_reason
