"""Delivery reports: kept as events, and folded into the outbox row they concern."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.kernel.envelopes import DeliveryReport, DeliveryState
from gateway.storage.dialects import conflict_insert, dialect_of
from gateway.storage.models import DeliveryEvent, Outbox


async def record_delivery(session: AsyncSession, report: DeliveryReport, now: datetime) -> bool:
    """Store the event once (a retried callback is a no-op); returns True if it was new."""
    statement = conflict_insert(dialect_of(session), DeliveryEvent).values(
        provider_message_id=report.provider_message_id, status=report.status[:24],
        network_code=report.network_code, failure_reason=(report.failure_reason or None) and report.failure_reason[:60],
        retry_count=report.retry_count, received_at=now,
    ).on_conflict_do_nothing().returning(DeliveryEvent.id)
    new = (await session.execute(statement)).scalar_one_or_none() is not None
    if new and report.state is not DeliveryState.UNKNOWN:
        row = Outbox.provider_message_id == report.provider_message_id
        if report.state is DeliveryState.IN_FLIGHT:
            # Networks may send "submitted" and the handset's receipt at once, in either order: an
            # in-flight report never overwrites what is already known.
            row = row & Outbox.delivery_status.is_(None)
        await session.execute(update(Outbox).where(row).values(delivery_status=report.status[:24]))
    return new
