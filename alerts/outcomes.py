"""What the alert service hands back to its callers (ingest, SMS commands, CLI, HTTP)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class AckOutcome(StrEnum):
    ACKNOWLEDGED = "done"
    UNKNOWN_CODE = "unknown_code"
    NOT_MEMBER = "not_member"  # the number is on no committee of the alert's commune, department or region
    ALREADY_ACKNOWLEDGED = "already"
    CLOSED = "closed"  # resolved or expired
    NOTED = "noted"  # a member of a neighbouring commune's committee acknowledged a vigilance for that commune


@dataclass(frozen=True)
class AckResult:
    outcome: AckOutcome
    code: str
    lang: str  # the acknowledging member's language (fr when not a member)
    who: str | None = None  # the name of who took charge (this member, or the earlier one)
    notified: int = 0  # other members told who took charge


class ChangeKind(StrEnum):
    OPENED = "opened"
    RAISED = "raised"
    UPDATED = "updated"
    ESCALATED = "escalated"
    REPEATED = "repeated"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


@dataclass(frozen=True)
class AlertChange:
    alert_id: int
    code: str
    commune: str
    incident: str
    kind: ChangeKind
    level: int
    previous_level: int
    sent: int  # notifications queued
    withheld: int  # notifications withheld (reasons in the notifications table)


@dataclass(frozen=True)
class ReplayedAlert:
    commune: str
    incident: str
    opened_at: datetime
    level: int  # highest level reached
    raised_at: tuple[tuple[int, datetime], ...]  # (level, when) for each crossing
    report_ids: tuple[int, ...]
    reporters: int
    resolved_at: datetime | None  # when the quiet period would have closed it (None: still open at `until`)

    def to_dict(self) -> dict:
        return {"commune": self.commune, "incident": self.incident, "opened_at": self.opened_at.isoformat(),
                "level": self.level, "raised_at": [[level, at.isoformat()] for level, at in self.raised_at],
                "report_ids": list(self.report_ids), "reporters": self.reporters,
                "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None}


@dataclass(frozen=True)
class SilentReporter:
    reporter_id: int
    commune: str | None
    last_report_at: datetime | None
    days_silent: int
