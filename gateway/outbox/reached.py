"""Who an alert reached: each committee member it was sent to, with the fate of their SMS.

The one reading of it for the alert page and the CAP feed. A member is listed once, with their
latest SMS of the alert, or `delivered` as soon as any of them was."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.kernel.envelopes import DeliveryState
from gateway.kernel.phones import mask_phone
from gateway.providers import africastalking, android, kannel
from gateway.storage.models import AdminUnit, CommitteeMember, DeliveryEvent, Notification, Outbox

# The providers' words for an SMS on the handset, as delivery events keep them.
DELIVERED_WORDS = frozenset(
    {word for word, state in africastalking.DELIVERY_STATES.items() if state is DeliveryState.DELIVERED}
    | {android.DELIVERY_STATUS[event] for event, state in android.DELIVERY_EVENTS.items()
       if state is DeliveryState.DELIVERED}
    | {word for word, state in kannel.DLR_TYPES.values() if state is DeliveryState.DELIVERED})
STATUSES = ("delivered", "sent", "failed", "pending")


@dataclass(frozen=True)
class Reached:
    role: str
    area_pcode: str
    area_name: str
    name: str | None
    phone: str  # masked
    status: str  # one of STATUSES
    why: str | None  # a failure's reason (numbers in it already masked)
    provider: str | None  # the provider that last took the SMS; None before any try


def sms_status(status: str, delivered: bool) -> str:
    """An outbox row's fate in one word of STATUSES; `delivered`: a report said it reached the handset."""
    if delivered:
        return "delivered"
    if status in ("sent", "logged"):
        return "sent"
    if status in ("failed", "expired"):
        return "failed"
    return "pending"


async def delivered_ids(session: AsyncSession, provider_message_ids: Iterable[str | None]) -> set[str]:
    """Those of these SMS a report said reached the handset, whatever a later report says."""
    ids = sorted({one for one in provider_message_ids if one})
    if not ids:
        return set()
    return set((await session.execute(select(DeliveryEvent.provider_message_id).where(
        DeliveryEvent.provider_message_id.in_(ids), DeliveryEvent.status.in_(sorted(DELIVERED_WORDS))))).scalars())


async def reached_by(session: AsyncSession, alert_ids: Iterable[int]) -> dict[int, list[Reached]]:
    """alert id -> its recipients, the most local area first, then by name."""
    ids = sorted(set(alert_ids))
    if not ids:
        return {}
    rows = (await session.execute(
        select(Notification.alert_id, Notification.member_id, CommitteeMember, AdminUnit.name, AdminUnit.level,
               Outbox.status, Outbox.provider_message_id, Outbox.last_error, Outbox.provider)
        .join(Outbox, Outbox.id == Notification.outbox_id)
        .join(CommitteeMember, CommitteeMember.id == Notification.member_id)
        .outerjoin(AdminUnit, AdminUnit.pcode == CommitteeMember.area_pcode)
        .where(Notification.alert_id.in_(ids), Notification.decision == "sent")
        .order_by(Notification.created_at, Notification.id))).all()
    delivered = await delivered_ids(session, (row.provider_message_id for row in rows))
    found: dict[tuple[int, int], tuple[int, Reached]] = {}  # (alert, member) -> (area level, what became of it)
    for alert_id, member_id, member, area_name, area_level, status, message_id, last_error, provider in rows:
        word = sms_status(status, message_id in delivered)
        earlier = found.get((alert_id, member_id))
        if earlier is not None and earlier[1].status == "delivered":
            continue  # reached once is reached
        found[alert_id, member_id] = (area_level or 0, Reached(
            member.role, member.area_pcode, area_name or member.area_pcode, member.name, mask_phone(member.phone),
            word, last_error if word == "failed" else None, provider))
    by_alert: dict[int, list[Reached]] = {alert_id: [] for alert_id in ids}
    for (alert_id, _), (_, reached) in sorted(found.items(), key=lambda item: (
            -item[1][0], item[1][1].area_name, item[1][1].name or "")):
        by_alert[alert_id].append(reached)
    return by_alert
