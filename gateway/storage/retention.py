"""Retention: what could identify a reporter is erased once a message has been stored for the
retention period (counted from the gateway's own `stored_at`, never the provider's date, which a
delayed or hostile callback could set in the past). Erased: the message's number, text, parse, link
id and error; its report's free text and link to the reporter row; the replies sent to the number
(recipient and body); the USSD sessions it dialled (number and typed text). A report keeps its facts
and its pseudonym (sender_key), which cannot be turned back into a number without the pseudonym
secret, kept outside the database. Focal points' reporter rows stay: an admin removes them. A number
that never became a focal point (status unregistered: it reported without registering, or only chose
a language) is forgotten once it has been silent for the retention period."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.storage.models import ERASED, REPLIES_UNERASED, Message, Outbox, Report, Reporter, UssdSession
from gateway.storage.outbox import PENDING


def _unerased_messages_before(cutoff: datetime):
    return select(Message.id).where(Message.stored_at < cutoff, Message.sender.is_not(None))


def erase_reports_before(cutoff: datetime):
    """The free text and reporter link of reports whose message is about to be erased (by message id,
    from a range of ix_messages_unerased); run before erase_senders_before, which ends that range."""
    return (update(Report).where(Report.message_id.in_(_unerased_messages_before(cutoff)))
            .values(free_text=None, reporter_id=None).execution_options(synchronize_session=False))


def erase_senders_before(cutoff: datetime):
    """Messages stored before `cutoff` emptied of number, text, parse, link id and error (a range of
    ix_messages_unerased)."""
    return (update(Message).where(Message.stored_at < cutoff, Message.sender.is_not(None))
            .values(sender=None, text="", parse={}, link_id=None, error=None))


def erase_reply_recipients_before(cutoff: datetime):
    """The numbers and texts of replies created before `cutoff`, once sent or given up (a range of
    ix_outbox_replies_unerased)."""
    return (update(Outbox).where(text(REPLIES_UNERASED), Outbox.created_at < cutoff,
                                 Outbox.status.not_in(PENDING))
            .values(recipient=ERASED, body=""))


def erase_ussd_sessions_before(cutoff: datetime):
    return (update(UssdSession).where(UssdSession.updated_at < cutoff, UssdSession.phone != ERASED)
            .values(phone=ERASED, last_text=""))


def forget_unregistered_before(cutoff: datetime):
    """Rows of numbers that never registered, created and last heard of before `cutoff`, once no
    report links to them (run after erase_reports_before, which unlinks the old reports)."""
    linked = select(Report.id).where(Report.reporter_id == Reporter.id).exists()
    return (delete(Reporter).where(Reporter.status == "unregistered", Reporter.created_at < cutoff,
                                   or_(Reporter.last_report_at.is_(None), Reporter.last_report_at < cutoff),
                                   ~linked)
            .execution_options(synchronize_session=False))


async def anonymise_old_messages(session: AsyncSession, days: int, now: datetime) -> int:
    """Returns how many messages were anonymised."""
    cutoff = now - timedelta(days=days)
    await session.execute(erase_reports_before(cutoff))
    result = await session.execute(erase_senders_before(cutoff))
    await session.execute(erase_reply_recipients_before(cutoff))
    await session.execute(erase_ussd_sessions_before(cutoff))
    await session.execute(forget_unregistered_before(cutoff))
    return result.rowcount or 0
