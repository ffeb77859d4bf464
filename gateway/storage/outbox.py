"""The outbox: every outbound SMS is a row, written in the transaction that caused it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import Insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.kernel.segments import segment_count
from gateway.storage.dialects import conflict_insert, dialect_of
from gateway.storage.models import Outbox

PRIORITY_ALERT = 0
PRIORITY_NOTICE = 1
PRIORITY_REPLY = 2
PRIORITY_BROADCAST = 3  # after alerts, notices and replies: a broadcast can wait

# What an SMS is for; vigilance is a neighbouring commune's warning of an alert (alerts/spillover.py).
KINDS = ("reply", "alert", "ack_notice", "digest", "broadcast", "vigilance")
STATUSES = ("queued", "sending", "sent", "logged", "failed", "expired", "stopped")
PENDING = ("queued", "sending")  # not yet handed to a provider, or being handed


@dataclass(frozen=True)
class OutboundSms:
    dedup_key: str  # idempotency: the same key is queued once, whatever retries happen upstream
    kind: str  # one of KINDS
    recipient: str  # E.164
    body: str
    priority: int = PRIORITY_REPLY
    alert_id: int | None = None
    expires_at: datetime | None = None
    broadcast_id: int | None = None


def outbox_row(message: OutboundSms, now: datetime) -> dict:
    """The columns of a queued SMS, the same keys for every message: a batch of them is one
    executemany of a statement compiled once, whatever its size."""
    return {
        "dedup_key": message.dedup_key, "kind": message.kind, "priority": message.priority,
        "recipient": message.recipient, "body": message.body, "segments": segment_count(message.body),
        "status": "queued", "attempts": 0, "next_attempt_at": now, "expires_at": message.expires_at,
        "alert_id": message.alert_id, "created_at": now, "broadcast_id": message.broadcast_id,
    }


@cache
def insert_ignoring_duplicates(dialect: str) -> Insert:
    """Outbox rows inserted, a dedup_key already queued skipped; built once per dialect (building
    a statement costs more than running it)."""
    return conflict_insert(dialect, Outbox.__table__).on_conflict_do_nothing(index_elements=["dedup_key"])


async def enqueue(session: AsyncSession, messages: list[OutboundSms], now: datetime) -> list[int]:
    """Queue messages; a dedup_key already queued is skipped. Returns ids of new rows."""
    if not messages:
        return []
    statement = insert_ignoring_duplicates(dialect_of(session))
    result = await session.execute(statement.values([outbox_row(m, now) for m in messages]).returning(Outbox.id))
    return [row[0] for row in result]


def expiry(now: datetime, minutes: int) -> datetime:
    return now + timedelta(minutes=minutes)
