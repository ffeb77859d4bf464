"""Retention: reporters' numbers on old messages are erased; the reports stay for analysis
under their pseudonym (sender_key), which cannot be turned back into a number."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.storage.models import Message


async def anonymise_old_messages(session: AsyncSession, days: int, now: datetime) -> int:
    cutoff = now - timedelta(days=days)
    result = await session.execute(
        update(Message).where(Message.received_at < cutoff, Message.sender.is_not(None))
        .values(sender=None, link_id=None)
    )
    return result.rowcount or 0
