"""Retention: reporters' numbers on old messages are erased; the reports stay for analysis
under their pseudonym (sender_key), which cannot be turned back into a number.
The same number is also erased where it was copied: the replies sent to it (outbox) and the
USSD sessions it dialled."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.storage.models import ERASED, REPLIES_UNERASED, Message, Outbox, UssdSession


def erase_senders_before(cutoff: datetime):  # noqa: ANN201
    """The numbers of messages received before `cutoff` erased (a range of ix_messages_unerased)."""
    return (update(Message).where(Message.received_at < cutoff, Message.sender.is_not(None))
            .values(sender=None, link_id=None))


def erase_reply_recipients_before(cutoff: datetime):  # noqa: ANN201
    """The numbers replies were sent to before `cutoff` erased, once sent or given up (a range of
    ix_outbox_replies_unerased)."""
    return (update(Outbox).where(text(REPLIES_UNERASED), Outbox.created_at < cutoff,
                                 Outbox.status.not_in(("queued", "sending")))
            .values(recipient=ERASED))


async def anonymise_old_messages(session: AsyncSession, days: int, now: datetime) -> int:
    """Returns how many messages were anonymised."""
    cutoff = now - timedelta(days=days)
    result = await session.execute(erase_senders_before(cutoff))
    await session.execute(erase_reply_recipients_before(cutoff))
    await session.execute(
        update(UssdSession).where(UssdSession.updated_at < cutoff, UssdSession.phone != ERASED)
        .values(phone=ERASED)
    )
    return result.rowcount or 0
