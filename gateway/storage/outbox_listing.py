"""The outbox as operators read it (`ewg outbox`): newest first, numbers masked, never a body."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.kernel.phones import mask_phone, mask_phones_in
from gateway.storage.models import Outbox
from gateway.storage.outbox import PENDING


async def outbox_rows(session: AsyncSession, *, statuses: tuple[str, ...] = (), kind: str | None = None,
                      provider: str | None = None, since: datetime | None = None, limit: int = 50) -> list[dict]:
    query = select(Outbox).order_by(Outbox.created_at.desc(), Outbox.id.desc()).limit(limit)
    if statuses:
        query = query.where(Outbox.status.in_(statuses))
    if kind:
        query = query.where(Outbox.kind == kind)
    if provider:
        query = query.where(Outbox.provider == provider)
    if since:
        query = query.where(Outbox.created_at >= since)
    return [
        {"id": row.id, "created_at": row.created_at.isoformat(), "kind": row.kind,
         "recipient": mask_phone(row.recipient), "status": row.status, "delivery": row.delivery_status,
         "provider": row.provider, "attempts": row.attempts,
         "next_attempt_at": row.next_attempt_at.isoformat() if row.status in PENDING else None,
         "segments": row.segments, "error": mask_phones_in(row.last_error) if row.last_error else None}
        for row in (await session.execute(query)).scalars()
    ]
