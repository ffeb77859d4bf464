"""An alert nobody in its latest round can receive escalates at once, not after the acknowledgement delay."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import store
from gateway.storage.models import Alert, Notification, Outbox

log = logging.getLogger(__name__)


async def escalate_unreachable(session: AsyncSession, alert_ids: Iterable[int], now: datetime) -> tuple[str, ...]:
    """Of these alerts (one of whose SMS just failed for good), those whose every SMS of the latest
    round (the members its last notification reached for: one committee level) failed for good
    fall due for escalation now; alerts.jobs.run_escalations, the one owner of escalation, takes
    them on its next run. Returns their codes."""
    codes = []
    for alert_id in sorted(set(alert_ids)):
        sent = (Notification.alert_id == alert_id) & (Notification.decision == "sent")
        latest = select(func.max(Notification.created_at)).where(sent).scalar_subquery()
        statuses = (await session.execute(
            select(Outbox.status).join(Notification, Notification.outbox_id == Outbox.id)
            .where(sent, Notification.created_at == latest))).scalars().all()
        if not statuses or any(status != "failed" for status in statuses):
            continue
        code = (await session.execute(
            update(Alert).where(Alert.id == alert_id, Alert.status.in_(store.UNACKNOWLEDGED),
                                Alert.escalation_due_at.is_not(None), Alert.escalation_due_at > now)
            .values(escalation_due_at=now, updated_at=now)
            .returning(Alert.code).execution_options(synchronize_session=False))).scalar_one_or_none()
        if code:
            codes.append(code)
            log.warning("alert %s escalates now: none of the %d members it last notified can be reached",
                        code, len(statuses))
    return tuple(codes)
