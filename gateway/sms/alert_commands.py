"""What an `OK <code>` (by SMS or USSD) and a retraction ask of the alert service, with what the
service needs passed in: the rules in force, the gazetteer, the alert expiry, and the metric of the
time from an alert to its acknowledgement. Built once by the application, with the ingest context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import api as alert_service
from alerts.api import AckResult, RuleSet
from gateway.gazetteer.matcher import Gazetteer
from gateway.storage.models import Alert


class RulesInForce(Protocol):
    """The last good rules: a reload replaces them while the gateway runs (gateway.alerting.rules_reload)."""

    rules: RuleSet | None


@dataclass(frozen=True)
class AlertCommands:
    rules_in_force: RulesInForce
    gazetteer: Gazetteer
    alert_expiry: timedelta
    observe_time_to_ack: Callable[[float], None]  # seconds from an alert's opening to its acknowledgement

    async def acknowledge(self, session: AsyncSession, phone: str, code: str, now: datetime) -> AckResult:
        result = await alert_service.acknowledge(session, phone, code, now, gazetteer=self.gazetteer,
                                                 alert_expiry=self.alert_expiry)
        if result.outcome == "done":
            opened = (await session.execute(select(Alert.opened_at).where(Alert.code == result.code))).scalar_one()
            self.observe_time_to_ack((now - opened).total_seconds())
        return result

    async def report_retracted(self, session: AsyncSession, report_id: int, now: datetime) -> str | None:
        """Re-score the alert the retracted report counted for (cancelled if nothing is left of it:
        its code is returned)."""
        return await alert_service.report_retracted(session, self.rules_in_force.rules, report_id, self.gazetteer,
                                                    now, alert_expiry=self.alert_expiry)
