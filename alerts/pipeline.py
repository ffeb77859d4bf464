"""The notification pipeline, Alertmanager-style: small stages, assembled in one place below,
each either passing or withholding with a reason that is recorded for every recipient."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from alerts.areas import AreaPath
from alerts.routing import Recipient
from alerts.rules import IncidentRule, RuleSet, Silence


class Trigger(StrEnum):
    OPENED = "opened"  # a level was crossed with no alert open
    RAISED = "raised"  # an open alert reached a higher level
    UPDATED = "updated"  # a new report at the same level
    REPEAT = "repeat"  # the repeat job: nobody acknowledged for a repeat interval
    ESCALATED = "escalated"  # the escalation job: nobody acknowledged within the delay


@dataclass(frozen=True)
class OtherAlert:
    """Another alert open in the same commune (for inhibition)."""

    code: str
    incident: str
    level: int


@dataclass(frozen=True)
class Situation:
    code: str
    incident: str
    level: int
    trigger: Trigger
    path: AreaPath
    now: datetime
    acknowledged: bool
    last_notified_at: datetime | None
    others_open: tuple[OtherAlert, ...] = ()
    escalation_step: int = 0


@dataclass(frozen=True)
class Decision:
    send: bool
    reason: str


Stage = Callable[[Situation, RuleSet, IncidentRule], Decision | None]


def withheld_by(silence: Silence, whose: str = "") -> Decision:
    """The decision a silence makes, with its end and reason (the notifications' reason column)."""
    return Decision(False, f"{whose}silenced until {silence.until:%Y-%m-%d %H:%M}: {silence.reason}"[:60])


def silenced(situation: Situation, rules: RuleSet, _rule: IncidentRule) -> Decision | None:
    silence = rules.silence_for(situation.path, situation.incident, situation.now)
    if silence:
        return withheld_by(silence)
    return None


def inhibited(situation: Situation, rules: RuleSet, _rule: IncidentRule) -> Decision | None:
    """A more severe incident open in the commune at this level or above inhibits this one."""
    own = rules.severity.get(situation.incident, 0)
    for other in situation.others_open:
        if rules.severity.get(other.incident, 0) > own and other.level >= situation.level:
            return Decision(False, f"inhibited by {other.code} ({other.incident} L{other.level})")
    return None


def quiet_hours(situation: Situation, rules: RuleSet, _rule: IncidentRule) -> Decision | None:
    if rules.quiet_hours and rules.quiet_hours.active(situation.now, situation.level):
        return Decision(False, f"quiet hours (level {situation.level})")
    return None


# The alert-wide stages, in order; the first that withholds decides for every recipient.
ALERT_STAGES: tuple[Stage, ...] = (silenced, inhibited, quiet_hours)

_FIRST_REASON = {
    Trigger.OPENED: "first notification",
    Trigger.RAISED: "level raised",
    Trigger.UPDATED: "newly routed",
    Trigger.REPEAT: "newly routed",
    Trigger.ESCALATED: "escalation",
}


def dedup(situation: Situation, rule: IncidentRule, sent_level: int | None) -> Decision:
    """Per recipient: a first notification at this level is sent; a recipient who already has
    it gets it again only as a repeat, once the repeat interval has passed and nobody acknowledged."""
    if sent_level is None or sent_level < situation.level:
        return Decision(True, f"{_FIRST_REASON[situation.trigger]} L{situation.level}")
    if situation.trigger not in (Trigger.UPDATED, Trigger.REPEAT):
        return Decision(False, f"already notified at L{sent_level}")
    if situation.acknowledged:
        return Decision(False, "acknowledged: no repeat")
    if situation.last_notified_at and situation.now - situation.last_notified_at < rule.repeat_after:
        return Decision(False, "repeat interval not elapsed")
    return Decision(True, "repeat interval elapsed")


def decide(situation: Situation, rules: RuleSet, rule: IncidentRule, recipients: Iterable[Recipient],
           sent_levels: dict[int, int]) -> list[tuple[Recipient, Decision]]:
    """One decision per recipient. `sent_levels`: member id -> highest level already sent to them."""
    withheld = next((d for stage in ALERT_STAGES if (d := stage(situation, rules, rule)) is not None), None)
    return [
        (recipient, withheld or dedup(situation, rule, sent_levels.get(recipient.member.id)))
        for recipient in recipients
    ]
