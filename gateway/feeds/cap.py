"""Alerts as CAP 1.2 documents (OASIS Common Alerting Protocol) and an Atom feed of them.

Scope Restricted (security committees and partner early-warning systems), one <info> per
language, category Security, urgency/severity/certainty from the alert level, the commune as
the area with its P-code and a circle around its centre. Reporters never appear.

msgType follows the alert: Alert when it opens, Update for every later state (level, taking in
charge, escalation), Cancel once it is resolved or expired; an Update or Cancel references the
opening message. A message to a partner gateway (partner_cap_xml) names, as its area, the
partner's communes to warn, each a geocode with its ring."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from gateway.kernel.i18n import LANGUAGES, render
from gateway.kernel.taxonomy import Taxonomy
from gateway.outbox.reached import STATUSES, Reached

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM_NS = "http://www.w3.org/2005/Atom"
CAP_MIME = "application/cap+xml"
AREA_RADIUS_KM = 15.0  # communes have no polygons in the gazetteer: a circle around the centre
RESTRICTION = "Security committees and partner early-warning systems only"


@dataclass(frozen=True)
class CapLevel:
    urgency: str
    severity: str
    certainty: str


# One approved report raises level 1 (possible); corroboration or a large count raises level 2 and more.
LEVELS = {1: CapLevel("Immediate", "Moderate", "Possible"), 2: CapLevel("Immediate", "Severe", "Likely"),
          3: CapLevel("Immediate", "Extreme", "Likely")}


def cap_level(level: int) -> CapLevel:
    return LEVELS[max(1, min(level, 3))]


@dataclass(frozen=True)
class CapAlert:
    id: int
    code: str
    incident: str
    level: int
    status: str  # the alert's: open, acknowledged, escalated, resolved, expired
    escalation_step: int
    opened_at: datetime
    updated_at: datetime
    commune_pcode: str
    commune_name: str
    lat: float | None
    lon: float | None
    reports: int  # valid reports behind the alert
    count: int | None  # largest count any report gave
    recipients: tuple[Reached, ...] = ()  # who the alert reached (gateway.outbox.reached)


def cap_time(value: datetime) -> str:
    """CAP's dateTime form: seconds, an explicit offset, never "Z" nor fractions."""
    return value.astimezone(UTC).replace(microsecond=0).isoformat()


def identifier(sender: str, alert: CapAlert) -> str:
    """A new identifier for each state of the alert, as CAP wants for updates."""
    return state_identifier(sender, alert.id, alert.updated_at)


def state_identifier(sender: str, alert_id: int, at: datetime) -> str:
    """The identifier of the alert's state at `at` (its opening: opened_at)."""
    return f"{incident_key(sender, alert_id)}.{int(at.timestamp())}"


def incident_key(sender: str, alert_id: int) -> str:
    """The CAP <incidents> of every message about one alert: what ties its updates together."""
    return f"{sender}.alert.{alert_id}"


CLOSED = ("resolved", "expired")
PARAMETERS = ("ewg:alert_code", "ewg:level", "ewg:incident", "ewg:home_pcode", "ewg:home_name", "ewg:ring")


def msg_type(alert: CapAlert) -> str:
    if alert.status in CLOSED:
        return "Cancel"
    return "Update" if alert.updated_at > alert.opened_at else "Alert"


def reference(sender: str, message_id: str, sent: datetime) -> str:
    """One entry of CAP <references>: sender, identifier and sent of an earlier message."""
    return f"{sender},{message_id},{cap_time(sent)}"


@dataclass(frozen=True)
class PartnerMessage:
    """A message to a partner gateway about one alert (a row of partner_deliveries)."""

    id: int
    msg_type: str  # Alert, Update, Cancel
    level: int
    communes: dict[str, int]  # the partner's communes to warn: P-code -> ring
    sent: datetime  # when it was decided: the same on every retry
    references: tuple[str, ...] = ()  # earlier messages to the same partner about the alert (reference())


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, f"{{{CAP_NS}}}{tag}")
    if text is not None:
        element.text = text
    return element


def _info(root: ET.Element, alert: CapAlert, taxonomy: Taxonomy, lang: str, closed: bool,
          communes: dict[str, int] | None = None) -> None:
    level = cap_level(alert.level)
    incident = taxonomy.by_id(alert.incident).label(lang) if alert.incident in taxonomy.ids else alert.incident
    info = _sub(root, "info")
    _sub(info, "language", lang)
    _sub(info, "category", "Security")
    _sub(info, "event", incident)
    _sub(info, "responseType", "AllClear" if closed else "Monitor")
    for tag, value in (("urgency", level.urgency), ("severity", level.severity), ("certainty", level.certainty)):
        _sub(info, tag, value)
    _sub(info, "audience", render(lang, "Commune, department and region security committees"))
    _sub(info, "effective", cap_time(alert.opened_at))
    _sub(info, "senderName", render(lang, "Early warning gateway"))
    _sub(info, "headline", render(lang, "{incident} in {commune}: level {level} alert {code}", incident=incident,
                                  commune=alert.commune_name, level=alert.level, code=alert.code))
    description = render(lang, "{reports} independent report(s).", reports=alert.reports)
    if alert.count:
        description += " " + render(lang, "Largest count reported: {count}.", count=alert.count)
    _sub(info, "description", description)
    if not closed:
        _sub(info, "instruction", render(lang, "Committee members: reply OK {code} by SMS to take charge.",
                                         code=alert.code))
    for name, value in (("ewg:alert_code", alert.code), ("ewg:level", str(alert.level)),
                        ("ewg:status", alert.status), ("ewg:escalation_step", str(alert.escalation_step)),
                        *_partner_parameters(alert, communes), *_recipient_parameters(alert, communes)):
        parameter = _sub(info, "parameter")
        _sub(parameter, "valueName", name)
        _sub(parameter, "value", value)
    if communes is not None:
        area = _sub(info, "area")
        _sub(area, "areaDesc", render(lang, "Communes near {commune}", commune=alert.commune_name))
        for pcode in sorted(communes):
            geocode = _sub(area, "geocode")
            _sub(geocode, "valueName", "OCHA_PCODE")
            _sub(geocode, "value", pcode)
        return
    area = _sub(info, "area")
    _sub(area, "areaDesc", alert.commune_name)
    if alert.lat is not None and alert.lon is not None:
        _sub(area, "circle", f"{alert.lat:.5f},{alert.lon:.5f} {AREA_RADIUS_KM:g}")
    geocode = _sub(area, "geocode")
    _sub(geocode, "valueName", "OCHA_PCODE")
    _sub(geocode, "value", alert.commune_pcode)


def _partner_parameters(alert: CapAlert, communes: dict[str, int] | None) -> list[tuple[str, str]]:
    """What a partner gateway needs to warn its committees in its own words: the incident's id and
    commune, and each commune's ring ("P-code ring")."""
    if communes is None:
        return []
    return [("ewg:incident", alert.incident), ("ewg:home_pcode", alert.commune_pcode),
            ("ewg:home_name", alert.commune_name),
            *(("ewg:ring", f"{pcode} {ring}") for pcode, ring in sorted(communes.items()))]


def _recipient_parameters(alert: CapAlert, communes: dict[str, int] | None) -> list[tuple[str, str]]:
    """Who was reached, for the feed (never for a partner gateway): the count of each status, then
    one parameter per member, "role; area (P-code); name; status (why); provider", with no number."""
    if communes is not None or not alert.recipients:
        return []
    tally = ", ".join(f"{sum(r.status == status for r in alert.recipients)} {status}" for status in STATUSES)
    lines = [("ewg:reached", tally)]
    for r in alert.recipients:
        why = f" ({_without_numbers(r.why)})" if r.why else ""
        lines.append(("ewg:recipient", f"{r.role}; {r.area_name} ({r.area_pcode}); {_without_numbers(r.name or '-')}; "
                                       f"{r.status}{why}; {r.provider or '-'}"))
    return lines


def _without_numbers(text: str) -> str:
    """Free text with every phone-like number, masked or not, left out."""
    return _NUMBER.sub("…", text)


_NUMBER = re.compile(r"\+?[\d*](?:[ .\-]?[\d*]){3,}")


def _root(sender: str, message_id: str, sent: datetime, kind: str, references: tuple[str, ...],
          alert_id: int) -> ET.Element:
    ET.register_namespace("", CAP_NS)
    root = ET.Element(f"{{{CAP_NS}}}alert")
    _sub(root, "identifier", message_id)
    _sub(root, "sender", sender)
    _sub(root, "sent", cap_time(sent))
    _sub(root, "status", "Actual")
    _sub(root, "msgType", kind)
    _sub(root, "scope", "Restricted")
    _sub(root, "restriction", RESTRICTION)
    if references:
        _sub(root, "references", " ".join(references))
    _sub(root, "incidents", incident_key(sender, alert_id))
    return root


def cap_document(alert: CapAlert, taxonomy: Taxonomy, sender: str) -> ET.Element:
    kind = msg_type(alert)
    opening = state_identifier(sender, alert.id, alert.opened_at)
    references = () if kind == "Alert" else (reference(sender, opening, alert.opened_at),)
    root = _root(sender, identifier(sender, alert), alert.updated_at, kind, references, alert.id)
    for lang in LANGUAGES:
        _info(root, alert, taxonomy, lang, alert.status in CLOSED)
    return root


def partner_message_id(sender: str, alert_id: int, message_id: int) -> str:
    return f"{sender}.spill.{alert_id}.{message_id}"


def partner_cap_xml(alert: CapAlert, message: PartnerMessage, taxonomy: Taxonomy, sender: str) -> bytes:
    """A partner gateway's CAP message: the alert at the level it was decided at, the partner's
    communes to warn as its area; a Cancel is an all-clear."""
    alert = replace(alert, level=message.level)
    root = _root(sender, partner_message_id(sender, alert.id, message.id), message.sent, message.msg_type,
                 message.references, alert.id)
    for lang in LANGUAGES:
        _info(root, alert, taxonomy, lang, message.msg_type == "Cancel", message.communes)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def cap_xml(alert: CapAlert, taxonomy: Taxonomy, sender: str) -> bytes:
    return ET.tostring(cap_document(alert, taxonomy, sender), encoding="utf-8", xml_declaration=True)


# The alert's state in words, so that a feed entry's summary reads in one language.
STATUS_LINES = {"open": "State: open.", "acknowledged": "State: taken in charge.", "escalated": "State: escalated.",
                "resolved": "State: closed.", "expired": "State: expired."}


def summary(lang: str, alert: CapAlert) -> str:
    status = render(lang, STATUS_LINES[alert.status]) if alert.status in STATUS_LINES else alert.status
    return f"{status} {render(lang, '{reports} independent report(s).', reports=alert.reports)}"


def atom_feed(alerts: list[CapAlert], taxonomy: Taxonomy, sender: str, base_url: str, now: datetime) -> bytes:
    """An Atom feed with one entry per alert, each linking to its CAP document."""
    ET.register_namespace("", ATOM_NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        if text is not None:
            element.text = text
        return element

    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    sub(feed, "id", f"urn:ewg:{sender}:cap")
    sub(feed, "title", render("fr", "Early warning gateway") + " — CAP")
    sub(feed, "updated", cap_time(max((a.updated_at for a in alerts), default=now)))
    author = sub(feed, "author")
    sub(author, "name", sender)
    sub(feed, "link", rel="self", type="application/atom+xml", href=f"{base_url}/feeds/cap.atom")
    for alert in alerts:
        entry = sub(feed, "entry")
        sub(entry, "id", f"urn:ewg:{identifier(sender, alert)}")
        incident = taxonomy.by_id(alert.incident).label("fr") if alert.incident in taxonomy.ids else alert.incident
        sub(entry, "title", render("fr", "{incident} in {commune}: level {level} alert {code}", incident=incident,
                                   commune=alert.commune_name, level=alert.level, code=alert.code))
        sub(entry, "updated", cap_time(alert.updated_at))
        sub(entry, "published", cap_time(alert.opened_at))
        sub(entry, "link", rel="alternate", type=CAP_MIME, href=f"{base_url}/feeds/cap/{alert.id}.xml")
        sub(entry, "category", term=alert.incident)
        sub(entry, "summary", summary("fr", alert))
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
