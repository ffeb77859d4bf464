"""Closing an alert and describing a change: shared by the service and the timed jobs."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import store
from alerts.config import AlertConfig
from alerts.outcomes import AlertChange, ChangeKind
from alerts.spillover import tell_partners_closed
from alerts.texts import AlertFacts, closing_text
from gateway.storage.models import Alert
from gateway.storage.outbox import PRIORITY_NOTICE, OutboundSms, enqueue

log = logging.getLogger(__name__)


def change_of(alert: Alert, kind: ChangeKind, previous: int, sent: int = 0, withheld: int = 0) -> AlertChange:
    return AlertChange(alert.id, alert.code, alert.commune_pcode, alert.incident, kind, alert.level, previous,
                       sent, withheld)


async def close_alert(session: AsyncSession, config: AlertConfig, alert: Alert, now: datetime, resolution: str,
                      *, cancelled: bool = False, tell_members: bool = True) -> bool:
    """Resolve an active alert (conditional update: safe when two replicas try); optionally tell the
    members who were notified. False when it was already closed."""
    closed = await session.execute(
        update(Alert).where(Alert.id == alert.id, Alert.status.in_(store.ACTIVE))
        .values(status="resolved", resolved_at=now, resolution=resolution[:40], escalation_due_at=None,
                updated_at=now)
        .execution_options(synchronize_session=False))
    if closed.rowcount != 1:
        return False
    await session.refresh(alert)
    await tell_partners_closed(session, alert, now, config.alert_expiry)
    if tell_members:
        facts = AlertFacts(alert.code, alert.level, alert.incident, config.gazetteer.name(alert.commune_pcode), 0)
        await enqueue(session, [
            OutboundSms(dedup_key=f"close:{alert.id}:{m.phone}", kind="ack_notice", recipient=m.phone,
                        body=closing_text(m.lang, facts, cancelled, config.taxonomy), priority=PRIORITY_NOTICE,
                        alert_id=alert.id, expires_at=now + config.alert_expiry)
            for m in await store.notified_members(session, alert.id)
        ], now)
    log.info("alert %s resolved: %s", alert.code, resolution)
    return True
