"""Alert texts per recipient language, from locales/<lang>/LC_MESSAGES/alerts.po.

Only facts about the alert go in: code, level, incident label, commune name, counts. Nothing
about a reporter is ever an input here, so no text can carry a reporter's number or name.
Variable values are folded to GSM-7 and bounded so every text fits in two SMS segments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from alerts.pipeline import Trigger
from gateway.kernel.i18n import render
from gateway.kernel.localtime import zone_of
from gateway.kernel.segments import to_gsm7
from gateway.kernel.taxonomy import Taxonomy, load_taxonomy

MAX_PLACE_CHARS = 40
MAX_MEMBER_CHARS = 30

ALERT_TEMPLATES = {
    Trigger.OPENED: "ALERT {code} L{level}: {incident} in {commune}. {reports} independent report(s).{count} "
                    "Reply OK {code} to take charge.",
    Trigger.RAISED: "ALERT {code} raised to L{level}: {incident} in {commune}. {reports} independent "
                    "report(s).{count} Reply OK {code} to take charge.",
    Trigger.UPDATED: "REMINDER {code} L{level}: {incident} in {commune}, not yet taken in charge. {reports} "
                     "independent report(s).{count} Reply OK {code}.",
    Trigger.REPEAT: "REMINDER {code} L{level}: {incident} in {commune}, not yet taken in charge. {reports} "
                    "independent report(s).{count} Reply OK {code}.",
    Trigger.ESCALATED: "ESCALATION {code} L{level}: {incident} in {commune}, not taken in charge for {minutes} "
                       "min. {reports} independent report(s).{count} Reply OK {code}.",
}
COUNT_PART = " Count: {count}."  # an incident COUNT_PARTS does not name
VICTIMS = " {count} victims."
# What each incident's count counts, in the words a committee member reads: the one place it is said.
COUNT_PARTS = {
    "attack": VICTIMS, "kidnapping": " {count} people abducted.", "cattle_theft": " {count} animals stolen.",
    "armed_men": " {count} armed men.", "explosive": VICTIMS, "killing": " {count} dead.",
    "displacement": " {count} families displaced.", "arson": " {count} houses burnt.", "communal_clash": VICTIMS,
    "trafficking": " {count} people involved.",
}
# When the alert's newest report reached the gateway, in the commune's local time: an alert SMS may
# arrive hours after it was queued.
REPORTED_PART = " Reported {day} at {time}."
ACK_NOTICE = "{code} taken in charge by {member}."
CANCELLED = "ALERT {code} cancelled: the report of {incident} in {commune} was withdrawn."
RESOLVED = "ALERT {code} closed: {incident} in {commune}."
SOMEONE = "a committee member"
NIGER_TIME = zone_of("NE")


@dataclass(frozen=True)
class AlertFacts:
    code: str
    level: int
    incident: str  # incident id
    commune_name: str
    reports: int  # independent reporters
    count: int | None = None  # largest count reported
    minutes: int = 0  # for escalation: how long it went unacknowledged
    reported_at: datetime | None = None  # when its newest report was received (aware)


def _place(name: str) -> str:
    return to_gsm7(name)[:MAX_PLACE_CHARS].strip()


def _member(name: str | None, lang: str) -> str:
    return to_gsm7(name).strip()[:MAX_MEMBER_CHARS] if name and name.strip() else render(lang, SOMEONE)


local_time_of = zone_of  # the rule's owner is gateway.kernel.localtime


def alert_text(lang: str, trigger: Trigger, facts: AlertFacts, taxonomy: Taxonomy | None = None,
               local_time: tzinfo = NIGER_TIME) -> str:
    incident = (taxonomy or load_taxonomy()).by_id(facts.incident).label(lang)
    details = count_part(lang, facts.incident, facts.count) + reported_part(lang, facts.reported_at, local_time)
    return render(lang, ALERT_TEMPLATES[trigger], code=facts.code, level=facts.level, incident=incident,
                  commune=_place(facts.commune_name), reports=facts.reports, count=details, minutes=facts.minutes)


def count_part(lang: str, incident: str, count: int | None) -> str:
    """The largest count reported, with what it counts for this incident ("12 morts")."""
    return render(lang, COUNT_PARTS.get(incident, COUNT_PART), count=count) if count else ""


def reported_part(lang: str, reported_at: datetime | None, local_time: tzinfo = NIGER_TIME) -> str:
    if reported_at is None:
        return ""
    local = reported_at.astimezone(local_time)
    return render(lang, REPORTED_PART, day=local.strftime("%d/%m"), time=local.strftime("%H:%M"))


def ack_notice_text(lang: str, code: str, member_name: str | None) -> str:
    return render(lang, ACK_NOTICE, code=code, member=_member(member_name, lang))


def closing_text(lang: str, facts: AlertFacts, cancelled: bool, taxonomy: Taxonomy | None = None) -> str:
    incident = (taxonomy or load_taxonomy()).by_id(facts.incident).label(lang)
    return render(lang, CANCELLED if cancelled else RESOLVED, code=facts.code, incident=incident,
                  commune=_place(facts.commune_name))

