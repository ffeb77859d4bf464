"""CAP messages owed to partner gateways (table partner_deliveries): queued in the transaction that
decides them, like an outbox row; sent and retried by gateway.outbox.partners."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.storage.dialects import conflict_insert, dialect_of
from gateway.storage.models import PartnerDelivery

ALERT, UPDATE, CANCEL = "Alert", "Update", "Cancel"
WAITING = ("queued", "sending")
STATES = (*WAITING, "sent", "failed", "expired", "dropped")


def delivery_key(alert_id: int, partner: str, msg_type: str, level: int, communes: dict[str, int]) -> str:
    """The same message (same communes at the same level) is queued once, whatever retries upstream."""
    named = hashlib.sha256(",".join(sorted(communes)).encode()).hexdigest()[:12]
    return f"{alert_id}:{msg_type}:L{level}:{named}:{partner}"[:120]


async def queue_delivery(session: AsyncSession, *, alert_id: int, partner: str, level: int,
                         communes: dict[str, int], now: datetime, expires_at: datetime | None,
                         msg_type: str | None = None) -> int | None:
    """Queue one CAP message to `partner`; Alert for the first about this alert, Update after.
    None when the same message is already queued (a retried decision)."""
    if msg_type is None:
        earlier = (await session.execute(select(PartnerDelivery.id).where(
            PartnerDelivery.alert_id == alert_id, PartnerDelivery.partner == partner).limit(1))).first()
        msg_type = UPDATE if earlier else ALERT
    result = await session.execute(conflict_insert(dialect_of(session), PartnerDelivery).values(
        dedup_key=delivery_key(alert_id, partner, msg_type, level, communes), alert_id=alert_id, partner=partner,
        msg_type=msg_type, level=level, communes=communes, status="queued", attempts=0, next_attempt_at=now,
        expires_at=expires_at, created_at=now,
    ).on_conflict_do_nothing(index_elements=["dedup_key"]).returning(PartnerDelivery.id))
    return result.scalar_one_or_none()


async def delivery_counts(session: AsyncSession) -> dict[tuple[str, str], int]:
    """How many messages each partner has in each state: (partner, state) -> count."""
    return {(partner, state): n for partner, state, n in await session.execute(
        select(PartnerDelivery.partner, PartnerDelivery.status, func.count()).group_by(
            PartnerDelivery.partner, PartnerDelivery.status))}


async def deliveries_of(session: AsyncSession, alert_id: int) -> list[PartnerDelivery]:
    return list((await session.execute(select(PartnerDelivery).where(PartnerDelivery.alert_id == alert_id)
                                       .order_by(PartnerDelivery.id))).scalars())


async def queue_cancellations(session: AsyncSession, alert_id: int, level: int, now: datetime,
                              expires_at: datetime | None) -> int:
    """The alert is over: what is still waiting for a partner is dropped, and a partner that was
    told anything gets a Cancel naming every commune it was told of. Returns Cancels queued."""
    await session.execute(update(PartnerDelivery).where(
        PartnerDelivery.alert_id == alert_id, PartnerDelivery.status == "queued",
        PartnerDelivery.msg_type != CANCEL).values(status="dropped", last_error="the alert closed first")
        .execution_options(synchronize_session=False))
    told: dict[str, dict[str, int]] = {}
    for row in await deliveries_of(session, alert_id):
        if row.msg_type != CANCEL and row.status in ("sent", "sending"):
            told.setdefault(row.partner, {}).update(row.communes)
    queued = 0
    for partner, communes in sorted(told.items()):
        queued += await queue_delivery(session, alert_id=alert_id, partner=partner, level=level, communes=communes,
                                       now=now, expires_at=expires_at, msg_type=CANCEL) is not None
    return queued
