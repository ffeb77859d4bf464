"""What a delivery report of a failed SMS sets in motion: the one place that decides it.

Each provider's module says why its report failed (gateway.kernel.envelopes.FailureCause); here
that cause becomes an action on the outbox row, in the callback's transaction:
- PROVIDER: sent again at once through the next provider of the recipient's route;
- ABSENT: sent again every outbox.absent_retry_minutes, until the SMS expires (then it failed for good);
- RECIPIENT: failed for good.
An SMS failed for good that carried an alert may make the alert escalate at once
(alerts.api.escalate_unreachable). Only a row still `sent` under the reported message id is acted
on, and only for a report stored the first time: a repeated report resends nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.api import escalate_unreachable
from gateway.config import OutboxSettings
from gateway.kernel.envelopes import DeliveryReport, DeliveryState, FailureCause
from gateway.kernel.phones import mask_phone, mask_phones_in
from gateway.metrics import Metrics
from gateway.outbox.reached import delivered_ids
from gateway.outbox.sender import backoff_delay, worth_retrying
from gateway.providers.registry import Providers
from gateway.storage.models import Outbox

log = logging.getLogger(__name__)


class Action(Enum):
    NONE = "none"  # not a failure, a repeated report, or a row no longer waiting on this report
    NEXT_PROVIDER = "next_provider"
    LATER = "later"
    FINAL = "final"


# The decision: a cause -> what happens while the SMS is still worth sending.
ACTIONS: dict[FailureCause, Action] = {
    FailureCause.PROVIDER: Action.NEXT_PROVIDER,
    FailureCause.ABSENT: Action.LATER,
    FailureCause.RECIPIENT: Action.FINAL,
}

# (recipient, kind, provider, attempts) -> the provider of the next try (OutboxSender.provider_for)
NextProvider = Callable[[str, str, str | None, int], str]


@dataclass(frozen=True)
class Redelivered:
    action: Action
    alerts_escalated: tuple[str, ...] = ()

    @property
    def queued(self) -> bool:
        return self.action in (Action.NEXT_PROVIDER, Action.LATER)


NOTHING = Redelivered(Action.NONE)


class Redelivery:
    def __init__(self, settings: OutboxSettings, next_provider: NextProvider, tries_before_failover: int,
                 metrics: Metrics):
        self._settings = settings
        self._next_provider = next_provider
        self._tries = tries_before_failover  # Providers reads anything below 1 as 1
        self._metrics = metrics

    async def act(self, session: AsyncSession, report: DeliveryReport, now: datetime) -> Redelivered:
        """Act on a report just stored for the first time (gateway.storage.delivery.record_delivery
        returned True), in the same transaction, when it says the SMS failed."""
        if report.state is not DeliveryState.FAILED:
            return NOTHING
        row = (await session.execute(select(
            Outbox.id, Outbox.kind, Outbox.recipient, Outbox.provider, Outbox.attempts, Outbox.expires_at,
            Outbox.alert_id).where(Outbox.provider_message_id == report.provider_message_id,
                                   Outbox.status == "sent"))).first()
        if row is None or await delivered_ids(session, [report.provider_message_id]):
            return NOTHING  # gone on to another try, or already on the handset: a late report changes nothing
        cause = report.cause or FailureCause.PROVIDER
        reason = mask_phones_in(f"{report.status}: {report.failure_reason or cause.value}")[:150]
        action, values = self._decide(row, cause, now)
        values.update(last_error=f"not delivered ({reason})"[:200])
        won = await session.execute(update(Outbox).where(Outbox.id == row.id, Outbox.status == "sent").values(
            **values).execution_options(synchronize_session=False))
        if won.rowcount != 1:
            return NOTHING
        self._metrics.redeliveries.labels(cause.value, action.value).inc()
        log.info("SMS %d to %s not delivered (%s): %s", row.id, mask_phone(row.recipient), reason, action.value)
        escalated: tuple[str, ...] = ()
        if action is Action.FINAL and row.alert_id is not None:
            escalated = await escalate_unreachable(session, {row.alert_id}, now)
        return Redelivered(action, escalated)

    def _decide(self, row, cause: FailureCause, now: datetime) -> tuple[Action, dict]:
        """The action and the row's new values; a resend the SMS's expiry (or max_attempts) no longer allows is final."""
        action = ACTIONS[cause]
        attempts = row.attempts
        if action is Action.NEXT_PROVIDER:
            attempts = Providers.failover_attempts(row.attempts, self._tries)
            following = self._next_provider(row.recipient, row.kind, row.provider, attempts)
            delay = 0.0 if following != row.provider else backoff_delay(max(row.attempts, 1), self._settings)
        elif action is Action.LATER:
            delay = self._settings.absent_retry_minutes * 60
        else:
            delay = 0.0
        due = now + timedelta(seconds=delay)
        if action is not Action.FINAL and worth_retrying(row.expires_at, attempts, due, self._settings):
            return action, {"status": "queued", "attempts": attempts, "next_attempt_at": due,
                            "delivery_status": None, "claimed_until": None}
        return Action.FINAL, {"status": "failed"}

