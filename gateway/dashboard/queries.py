"""What the dashboard shows, read from the database as frozen rows. Reporters appear only as
their pseudonym (Report.sender_key); phone numbers only masked."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import api as alerts_api
from gateway.dashboard.scope import EVERYWHERE, Scope
from gateway.kernel.localtime import local
from gateway.kernel.phones import mask_phone, mask_phones_in, sender_key
from gateway.kernel.redact import redact
from gateway.sms import followup
from gateway.storage.exports import acknowledgers
from gateway.storage.models import (
    AdminUnit,
    Alert,
    AlertReport,
    Message,
    Outbox,
    Report,
    Reporter,
    Spillover,
)

ACTIVE = ("open", "escalated", "acknowledged")  # as alerts.store.ACTIVE: an alert that still stands
FAILED_DELIVERY = ("Failed", "Rejected", "AbsentSubscriber", "Expired", "InsufficientCredit", "UserInBlacklist",
                   "DeliveryFailure")


@dataclass(frozen=True)
class Place:
    pcode: str
    name: str
    country: str
    region_pcode: str | None
    region_name: str | None
    lat: float | None
    lon: float | None


@dataclass(frozen=True)
class CommunePoint:
    place: Place
    level: int  # highest level of the commune's standing alerts, 0 when none
    alert_codes: tuple[str, ...]


@dataclass(frozen=True)
class ReportLine:
    ref: str
    received_at: datetime
    incident: str
    reporter: str  # pseudonym
    trust: str
    count: int | None
    village: str | None
    free_text: str | None
    status: str


@dataclass(frozen=True)
class AlertLine:
    id: int
    code: str
    level: int
    incident: str
    status: str
    commune: Place | None
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None  # committee member's name or role, never a reporter
    escalation_step: int
    reports: tuple[ReportLine, ...]

    @property
    def time_to_acknowledge(self) -> timedelta | None:
        return self.acknowledged_at - self.opened_at if self.acknowledged_at else None


@dataclass(frozen=True)
class ReviewItem:
    message_id: int
    received_at: datetime
    text: str
    lang: str | None
    sender: str  # pseudonym
    needs: str | None = None  # what the report lacks ("a place"); None for a text not understood


@dataclass(frozen=True)
class SilentFocalPoint:
    pseudonym: str
    masked_phone: str
    commune: str | None
    last_report_at: datetime | None


@dataclass(frozen=True)
class FailedSms:
    created_at: datetime
    kind: str
    recipient: str  # masked
    status: str
    delivery_status: str | None
    error: str | None


async def places(session: AsyncSession) -> dict[str, Place]:
    """Every commune with its region (through the department), keyed by P-code."""
    units = {u.pcode: u for u in (await session.execute(select(AdminUnit))).scalars()}

    def region_of(unit: AdminUnit) -> AdminUnit | None:
        while unit is not None and unit.level > 1:
            unit = units.get(unit.parent_pcode) if unit.parent_pcode else None
        return unit

    out = {}
    for unit in units.values():
        if unit.level == 3:
            region = region_of(unit)
            out[unit.pcode] = Place(unit.pcode, unit.name, unit.country, region.pcode if region else None,
                                    region.name if region else None, unit.lat, unit.lon)
    return out


def scoped(query: Select, column, scope: Scope) -> Select:  # a P-code column
    """The query kept to the scope's areas."""
    inside = scope.where(column)
    return query if inside is None else query.where(inside)


async def commune_points(session: AsyncSession, known: dict[str, Place], scope: Scope = EVERYWHERE) -> list[CommunePoint]:
    standing: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for pcode, level, code in await session.execute(scoped(
            select(Alert.commune_pcode, Alert.level, Alert.code).where(Alert.status.in_(ACTIVE)),
            Alert.commune_pcode, scope)):
        standing[pcode].append((level, code))
    return [CommunePoint(place, max((lv for lv, _ in standing[pcode]), default=0),
                         tuple(code for _, code in sorted(standing[pcode], reverse=True)))
            for pcode, place in sorted(known.items())
            if place.lat is not None and place.lon is not None and scope.covers(pcode)]


async def spilled_communes(session: AsyncSession, scope: Scope = EVERYWHERE) -> frozenset[str]:
    """Communes whose committee a standing alert's spillover warned (level 0: decided, nobody warned yet)."""
    rows = await session.execute(scoped(
        select(Spillover.commune_pcode).join(Alert, Alert.id == Spillover.alert_id)
        .where(Alert.status.in_(ACTIVE), Spillover.level > 0), Spillover.commune_pcode, scope))
    return frozenset(rows.scalars())


async def standing_alerts(session: AsyncSession, known: dict[str, Place], limit: int = 200,
                          scope: Scope = EVERYWHERE) -> list[AlertLine]:
    alerts = list((await session.execute(scoped(
        select(Alert).where(Alert.status.in_(ACTIVE)).order_by(Alert.level.desc(), Alert.opened_at).limit(limit),
        Alert.commune_pcode, scope))).scalars())
    reports: dict[int, list[ReportLine]] = defaultdict(list)
    acknowledged_by: dict[int, str] = {}
    if alerts:
        ids = [a.id for a in alerts]
        for alert_id, r, name in await session.execute(
                select(AlertReport.alert_id, Report, Reporter.name).join(Report, Report.id == AlertReport.report_id)
                .outerjoin(Reporter, Reporter.id == Report.reporter_id)
                .where(AlertReport.alert_id.in_(ids)).order_by(Report.received_at)):
            reports[alert_id].append(ReportLine(r.ref, r.received_at, r.incident, r.sender_key, r.trust, r.count,
                                                r.village, redact(r.free_text, name), r.status))
        acknowledged_by = await acknowledgers(session, alerts)
    return [AlertLine(a.id, a.code, a.level, a.incident, a.status, known.get(a.commune_pcode), a.opened_at,
                      a.acknowledged_at, acknowledged_by.get(a.id),
                      a.escalation_step, tuple(reports[a.id]))
            for a in alerts]


async def acknowledge_delays(session: AsyncSession, since: datetime, scope: Scope = EVERYWHERE) -> list[timedelta]:
    """Alert-to-acknowledgement delays of alerts opened since `since`: the alert-response gap."""
    rows = await session.execute(scoped(select(Alert.opened_at, Alert.acknowledged_at).where(
        Alert.opened_at >= since, Alert.acknowledged_at.is_not(None)), Alert.commune_pcode, scope))
    return [acked - opened for opened, acked in rows]


async def daily_report_counts(session: AsyncSession, known: dict[str, Place], since: datetime,
                              region: str | None = None, scope: Scope = EVERYWHERE,
                              where: tzinfo = UTC) -> dict[tuple[date, str, str | None], int]:
    """(day, incident, region P-code) -> number of valid reports received that day (a day of the zone `where`)."""
    counts: Counter = Counter()
    for received_at, incident, pcode in await session.execute(scoped(
            select(Report.received_at, Report.incident, Report.commune_pcode)
            .where(Report.received_at >= since, Report.status == "valid"), Report.commune_pcode, scope)):
        place = known.get(pcode) if pcode else None
        region_pcode = place.region_pcode if place else None
        if region is None or region_pcode == region:
            counts[(local(received_at, where).date(), incident, region_pcode)] += 1
    return dict(counts)


NEEDS_A_PLACE = "needs a place"
NEEDS_AN_INCIDENT = "needs an incident"  # the report named a place but no incident


async def review_queue(session: AsyncSession, pseudonym_secret: str, limit: int = 100,
                       scope: Scope = EVERYWHERE, now: datetime | None = None) -> list[ReviewItem]:
    """Texts not understood, and (given `now`) the reports whose follow-up question went
    unanswered, flagged as needing a place; numbers and the sender's registered name hidden like
    free text. A scoped user sees the texts of registered senders of the scope only (a text names
    no place)."""
    waiting = Report.status == followup.ASKED
    shown = or_(Message.kind == "unknown", waiting) if now is not None else Message.kind == "unknown"
    query = (select(Message, Reporter.name, waiting.label("needs_place"), Report.incident)
             .outerjoin(Reporter, Reporter.phone == Message.sender)
             .outerjoin(Report, Report.message_id == Message.id)
             .where(shown, Message.review_label.is_(None)))
    if now is not None:  # a question still open to its answer is not the operator's yet
        query = query.where(or_(Report.id.is_(None), Report.status != followup.ASKED,
                                Message.stored_at <= followup.answer_deadline(now)))
    rows = await session.execute(scoped(
        query.order_by(Message.received_at.desc(), Message.id.desc()).limit(limit), Reporter.commune_pcode, scope))
    return [ReviewItem(m.id, m.received_at, redact(m.text, name), m.lang,
                       sender_key(m.sender, pseudonym_secret) if m.sender else "anonymised",
                       _needs(needs_place, incident))
            for m, name, needs_place, incident in rows]


def _needs(waiting: bool, incident: str | None) -> str | None:
    if not waiting:
        return None
    return NEEDS_AN_INCIDENT if incident == followup.UNCLEAR else NEEDS_A_PLACE


async def silent_focal_points(session: AsyncSession, now: datetime, days: int,
                              pseudonym_secret: str, scope: Scope = EVERYWHERE) -> list[SilentFocalPoint]:
    """The focal points the `ewg_silent_focal_points` metric counts (alerts' rule: silent since the
    last report, or since registration for one who never reported), kept to the scope."""
    silent = [s for s in await alerts_api.silent_reporters(session, days, now) if scope.covers(s.commune)]
    people = {r.id: (r, name) for r, name in await session.execute(
        select(Reporter, AdminUnit.name).outerjoin(AdminUnit, AdminUnit.pcode == Reporter.commune_pcode)
        .where(Reporter.id.in_([s.reporter_id for s in silent])))} if silent else {}
    silent.sort(key=lambda s: (s.last_report_at is not None, s.last_report_at or now, s.reporter_id))
    return [SilentFocalPoint(sender_key(people[s.reporter_id][0].phone, pseudonym_secret),
                             mask_phone(people[s.reporter_id][0].phone), people[s.reporter_id][1], s.last_report_at)
            for s in silent if s.reporter_id in people]


def _outbox_in(query: Select, scope: Scope) -> Select:
    """A scoped user sees the SMS of the alerts of the scope only (a reply names no area)."""
    if scope.everywhere:
        return query
    return scoped(query.join(Alert, Alert.id == Outbox.alert_id), Alert.commune_pcode, scope)


async def failed_sms(session: AsyncSession, since: datetime, limit: int = 200,
                     scope: Scope = EVERYWHERE) -> list[FailedSms]:
    rows = (await session.execute(_outbox_in(
        select(Outbox).where(Outbox.created_at >= since, or_(Outbox.status.in_(("failed", "expired")),
                                                            Outbox.delivery_status.in_(FAILED_DELIVERY)))
        .order_by(Outbox.created_at.desc()).limit(limit), scope))).scalars()
    # last_error is masked when written; masked again here for rows written before that rule
    return [FailedSms(o.created_at, o.kind, mask_phone(o.recipient), o.status, o.delivery_status,
                      mask_phones_in(o.last_error) if o.last_error else o.last_error) for o in rows]


async def sms_cost(session: AsyncSession, since: datetime,
                   scope: Scope = EVERYWHERE) -> dict[tuple[str, str], tuple[int, float]]:
    """(kind, currency) -> (SMS with a cost, total). Africa's Talking reports cost as "XOF 25.0000"."""
    totals: dict[tuple[str, str], tuple[int, float]] = {}
    for kind, cost in await session.execute(_outbox_in(
            select(Outbox.kind, Outbox.cost).where(Outbox.created_at >= since, Outbox.cost.is_not(None))
            .order_by(Outbox.kind, Outbox.id), scope)):
        currency, _, amount = cost.strip().partition(" ")
        try:
            value = float(amount)
        except ValueError:
            continue  # "0" or an unknown format: nothing billed we can add up
        n, total = totals.get((kind, currency), (0, 0.0))
        totals[(kind, currency)] = (n + 1, total + value)
    return totals


async def label_message(session: AsyncSession, message_id: int, label: str, incidents: frozenset[str] = frozenset(),
                        place: str | None = None) -> bool:
    """Label a text not understood, or a report that needs a place: an incident label with a place
    (the operator's `place`, else the commune the reporter's number stands for) sends that report
    to the scorer; "noise" withdraws it."""
    message = await session.get(Message, message_id)
    if message is None:
        return False
    if message.kind != "unknown":
        report = await followup.waiting_report(session, message_id)
        if report is None:
            return False
        if label in incidents:
            report.incident = label
            commune = place or (message.parse or {}).get("commune") or report.commune_pcode
            if commune:
                await followup.complete(session, report.id, commune, None if place else report.village)
        elif label == "noise":
            report.status = "retracted"
    message.review_label = label
    return True


async def sent_count(session: AsyncSession, since: datetime, scope: Scope = EVERYWHERE) -> tuple[int, int]:
    """(SMS handed to a provider, SMS only written to the log): log-only mode sends nothing."""
    counts = dict((await session.execute(_outbox_in(
        select(Outbox.status, func.count()).where(Outbox.created_at >= since, Outbox.status.in_(("sent", "logged")))
        .group_by(Outbox.status), scope))).all())
    return counts.get("sent", 0), counts.get("logged", 0)
