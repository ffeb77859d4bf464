"""The outbox: every outbound SMS is a row, written in the transaction that caused it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.kernel.segments import segment_count
from gateway.storage.models import Outbox

PRIORITY_ALERT = 0
PRIORITY_NOTICE = 1
PRIORITY_REPLY = 2


@dataclass(frozen=True)
class OutboundSms:
    dedup_key: str  # idempotency: the same key is queued once, whatever retries happen upstream
    kind: str  # reply, alert, ack_notice, digest
    recipient: str  # E.164
    body: str
    priority: int = PRIORITY_REPLY
    alert_id: int | None = None
    expires_at: datetime | None = None


def _insert_ignoring_duplicates(dialect_name: str):
    return (postgresql.insert if dialect_name == "postgresql" else sqlite.insert)(Outbox)


async def enqueue(session: AsyncSession, messages: list[OutboundSms], now: datetime) -> list[int]:
    """Queue messages; a dedup_key already queued is skipped. Returns ids of new rows."""
    if not messages:
        return []
    rows = [
        {
            "dedup_key": m.dedup_key, "kind": m.kind, "priority": m.priority, "recipient": m.recipient,
            "body": m.body, "segments": segment_count(m.body), "status": "queued", "attempts": 0,
            "next_attempt_at": now, "expires_at": m.expires_at, "alert_id": m.alert_id, "created_at": now,
        }
        for m in messages
    ]
    statement = _insert_ignoring_duplicates(session.bind.dialect.name if session.bind else "sqlite")
    statement = statement.values(rows).on_conflict_do_nothing(index_elements=["dedup_key"]).returning(Outbox.id)
    result = await session.execute(statement)
    return [row[0] for row in result]


def expiry(now: datetime, minutes: int) -> datetime:
    return now + timedelta(minutes=minutes)
