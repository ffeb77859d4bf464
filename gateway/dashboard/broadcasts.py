"""Broadcasts: a short message from the dashboard to the focal points or the committee members of an
area, each person receiving the text of their own language. A plan counts the recipients per
language, the segments of each text and the cost estimate (segments x recipients x the price of one
segment); a broadcast is refused while a needed language has no text, and while the monthly budget
would not cover it. Above `[broadcast] approval_threshold` recipients it waits for the approval of
another operator or admin. Its SMS leave after alerts, notices and replies, and expire."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.config import Settings
from gateway.dashboard.queries import FAILED_DELIVERY
from gateway.dashboard.scope import Scope
from gateway.kernel.i18n import LANGUAGES
from gateway.kernel.segments import measure
from gateway.storage.models import AdminUnit, Broadcast, CommitteeMember, Outbox, Reporter
from gateway.storage.outbox import PRIORITY_BROADCAST, OutboundSms, enqueue
from gateway.storage.spend import STOPPED, month_budget, segment_price

AUDIENCES = ("focal_points", "committees")
STATUSES = ("awaiting_approval", "queued", "cancelled")
DELIVERY = ("pending", "sent", "delivered", "failed", "stopped")
DELIVERED = ("Success", "Delivered")  # a handset's receipt: Africa's Talking's word; the phone's and Kannel's


class BroadcastError(ValueError):
    """Why a broadcast cannot be sent, approved or cancelled, in one line for the operator."""


@dataclass(frozen=True)
class Plan:
    area_pcode: str
    area_name: str
    audience: str
    recipients: dict[str, int]  # language -> how many recipients read it
    texts: dict[str, str]  # language -> the text written for it
    segments: dict[str, int]  # language -> segments of its text
    encodings: dict[str, str]
    price: float  # of one segment
    currency: str
    max_segments: int
    problems: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.recipients.values())

    @property
    def estimate(self) -> float:
        return sum(self.segments.get(lang, 1) * n for lang, n in self.recipients.items()) * self.price

    @property
    def missing(self) -> list[str]:
        """Languages some recipients read that have no text: nobody gets another language's text."""
        return [lang for lang in LANGUAGES if self.recipients.get(lang) and not self.texts.get(lang)]


def estimate_price(settings: Settings) -> float:
    """The price of one segment for estimates: the first provider in `[providers] order` (Africa's
    Talking's price when the order is empty: every configured provider, or the log)."""
    order = list(settings.providers.order)
    return segment_price(settings.costs, order[0] if order else "africastalking")


async def audience(session: AsyncSession, area: str, who: str) -> dict[str, str]:
    """phone -> language of everyone a broadcast to `who` in `area` (and the units inside it) reaches:
    approved focal points, or active committee members; a number on two committees counts once."""
    if who == "focal_points":
        query = (select(Reporter.phone, Reporter.lang).where(Reporter.status == "approved",
                                                             Reporter.commune_pcode.startswith(area, autoescape=True))
                 .order_by(Reporter.id))
    else:
        query = (select(CommitteeMember.phone, CommitteeMember.lang)
                 .where(CommitteeMember.active.is_(True), CommitteeMember.area_pcode.startswith(area, autoescape=True))
                 .order_by(CommitteeMember.id))
    people: dict[str, str] = {}
    for phone, lang in await session.execute(query):
        people.setdefault(phone, lang if lang in LANGUAGES else "fr")
    return people


async def plan(session: AsyncSession, settings: Settings, area: str, who: str, texts: dict[str, str]) -> Plan:
    unit = await session.get(AdminUnit, area)
    if unit is None:
        raise BroadcastError(f"unknown area {area[:20]!r}")
    if who not in AUDIENCES:
        raise BroadcastError(f"audience must be one of {', '.join(AUDIENCES)}")
    counts: dict[str, int] = {}
    for lang in (await audience(session, area, who)).values():
        counts[lang] = counts.get(lang, 0) + 1
    given = {lang: text for lang, text in texts.items() if lang in LANGUAGES and text}
    measured = {lang: measure(text) for lang, text in given.items()}
    limit = settings.broadcast.max_segments
    shown = Plan(area, unit.name, who, counts, given, {lang: m.segments for lang, m in measured.items()},
                 {lang: m.encoding for lang, m in measured.items()}, estimate_price(settings), settings.costs.currency,
                 limit)
    if not shown.total:
        shown.problems.append("nobody to send to: this area has no recipient of this kind")
    for lang in shown.missing:
        shown.problems.append(f"{counts[lang]} recipients read {lang}: write the {lang} text")
    for lang, m in measured.items():
        if m.segments > limit:
            shown.problems.append(f"the {lang} text takes {m.segments} SMS segments; at most {limit}")
    return shown


async def create(session: AsyncSession, settings: Settings, shown: Plan, author: str, now: datetime) -> Broadcast:
    """Store a broadcast that passed its plan: queued now, or waiting for a second person above the
    approval threshold. BroadcastError when the plan has problems or the budget refuses it."""
    if shown.problems:
        raise BroadcastError("; ".join(shown.problems))
    await _check_budget(session, settings, shown.estimate, now)
    row = Broadcast(area_pcode=shown.area_pcode, audience=shown.audience, texts=shown.texts,
                    recipients=shown.total, estimated_cost=shown.estimate, status="awaiting_approval",
                    created_by=author, created_at=now)
    session.add(row)
    await session.flush()
    if not needs_approval(settings, row):
        await _queue(session, settings, row, now)
    return row


def needs_approval(settings: Settings, row: Broadcast) -> bool:
    return row.recipients > settings.broadcast.approval_threshold


async def approve(session: AsyncSession, settings: Settings, row: Broadcast, approver: str, now: datetime) -> int:
    """A second person's approval queues the broadcast; the author cannot approve their own."""
    if row.status != "awaiting_approval":
        raise BroadcastError(f"broadcast {row.id} is {row.status}, not awaiting approval")
    if approver == row.created_by:
        raise BroadcastError("the author of a broadcast cannot approve it: another operator or admin must")
    await _check_budget(session, settings, row.estimated_cost, now)
    row.approved_by, row.approved_at = approver, now
    return await _queue(session, settings, row, now)


async def _check_budget(session: AsyncSession, settings: Settings, estimate: float, now: datetime) -> None:
    """BroadcastError when the month's spend, with the broadcasts queued and not yet sent, leaves no
    room for `estimate`; the budget stays locked until the caller's transaction queues and commits."""
    budget = await month_budget(session, settings.costs, now, reserve_at=estimate_price(settings))
    if refusal := budget.refusal(estimate):
        raise BroadcastError(refusal)


def cancel(row: Broadcast, who: str, now: datetime) -> None:
    if row.status != "awaiting_approval":
        raise BroadcastError(f"broadcast {row.id} is {row.status}: only one awaiting approval can be cancelled")
    row.status, row.cancelled_by, row.cancelled_at = "cancelled", who, now


async def _queue(session: AsyncSession, settings: Settings, row: Broadcast, now: datetime) -> int:
    """One outbox row per recipient in their language, read again now: a person who joined since the
    broadcast was written in a language it has no text for stops it rather than get another's."""
    people = await audience(session, row.area_pcode, row.audience)
    lacking = sorted({lang for lang in people.values() if not row.texts.get(lang)})
    if lacking:
        raise BroadcastError(f"recipients reading {', '.join(lacking)} joined since it was written: "
                             "cancel it and write it again")
    expires = now + timedelta(minutes=settings.broadcast.expiry_minutes)
    queued = await enqueue(session, [OutboundSms(f"broadcast:{row.id}:{phone}", "broadcast", phone, row.texts[lang],
                                                 PRIORITY_BROADCAST, expires_at=expires, broadcast_id=row.id)
                                     for phone, lang in people.items()], now)
    row.status, row.queued_at, row.expires_at = "queued", now, expires
    return len(queued)


async def visible(session: AsyncSession, broadcast_id: int, scope: Scope, lock: bool = False) -> Broadcast | None:
    """`lock`: for a decision, the row locked until the transaction ends (PostgreSQL), so that of two
    approvals or an approval and a cancelling at once, the second reads what the first decided."""
    row = await session.get(Broadcast, broadcast_id, with_for_update=lock)
    return row if row is not None and scope.covers(row.area_pcode) else None


async def listed(session: AsyncSession, scope: Scope, limit: int = 100) -> list[Broadcast]:
    query = select(Broadcast).order_by(Broadcast.id.desc()).limit(limit)
    if (inside := scope.where(Broadcast.area_pcode)) is not None:
        query = query.where(inside)
    return list((await session.execute(query)).scalars())


async def delivery(session: AsyncSession, broadcast_id: int) -> dict[str, int]:
    """How its SMS stand: pending (queued or being sent), sent (no final delivery report yet),
    delivered, failed (refused, expired or a failed delivery report), stopped (the monthly budget
    was reached before they left)."""
    counts = dict.fromkeys(DELIVERY, 0)
    rows = await session.execute(select(Outbox.status, Outbox.delivery_status, func.count())
                                 .where(Outbox.broadcast_id == broadcast_id)
                                 .group_by(Outbox.status, Outbox.delivery_status))
    for status, delivery_status, n in rows:
        if status in ("queued", "sending"):
            counts["pending"] += n
        elif status == STOPPED:
            counts["stopped"] += n
        elif status in ("failed", "expired") or delivery_status in FAILED_DELIVERY:
            counts["failed"] += n
        elif delivery_status in DELIVERED:
            counts["delivered"] += n
        else:
            counts["sent"] += n
    return counts


async def area_names(session: AsyncSession, pcodes: set[str]) -> dict[str, str]:
    if not pcodes:
        return {}
    return dict((await session.execute(select(AdminUnit.pcode, AdminUnit.name)
                                       .where(AdminUnit.pcode.in_(sorted(pcodes))))).all())
