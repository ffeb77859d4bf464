"""One alert's page: its facts, its timeline (opened, reports, every notification sent or withheld with
its reason, acknowledgement, notes, silences, the outcome) and the forms operators act with. Every
value from the database is escaped here; no phone number is shown."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import api as alerts_api
from gateway.dashboard.layout import Texts
from gateway.dashboard.neighbours_section import NeighbourWarned, neighbours_section, neighbours_warned
from gateway.dashboard.pages import _incident, _level_badge
from gateway.dashboard.scope import Scope
from gateway.kernel.localtime import local, offset_label
from gateway.kernel.phones import mask_phones_in
from gateway.kernel.redact import redact
from gateway.kernel.taxonomy import Taxonomy
from gateway.outbox.reached import Reached, reached_by
from gateway.storage.exports import acknowledgers
from gateway.storage.models import (
    AdminUnit,
    Alert,
    AlertReport,
    CommitteeMember,
    Notification,
    Report,
    Reporter,
)

ACTIVE = ("open", "escalated", "acknowledged")
SILENCE_CHOICES_HOURS = (2, 6, 12, 24, 48, 72, 168)
MAX_SILENCE = timedelta(days=30)


@dataclass(frozen=True)
class Event:
    at: datetime
    what: str  # a msgid
    detail: str  # already escaped HTML
    css: str = ""


@dataclass(frozen=True)
class AreaChoice:
    pcode: str
    name: str
    level: int  # 1 region, 2 department, 3 commune


@dataclass(frozen=True)
class AlertView:
    alert: Alert
    path: tuple[AreaChoice, ...]  # region, department, commune (those the gazetteer knows)
    events: tuple[Event, ...]
    outcome: alerts_api.ActionLine | None
    silences: tuple  # AlertSilence rows standing over this alert
    acknowledged_by: str | None = None  # the member's or the dashboard user's name
    neighbours: tuple[NeighbourWarned, ...] = ()  # the communes it spilled over to, warned here or by a partner
    reached: tuple[Reached, ...] = ()  # each member the alert was sent to, and what became of the SMS


async def area_path(session: AsyncSession, pcode: str) -> tuple[AreaChoice, ...]:
    found = []
    seen = set()
    while pcode and pcode not in seen:
        seen.add(pcode)
        unit = await session.get(AdminUnit, pcode)
        if unit is None:
            break
        found.append(AreaChoice(unit.pcode, unit.name, unit.level))
        pcode = unit.parent_pcode
    return tuple(reversed(found))


async def find_visible_alert(session: AsyncSession, code: str, scope: Scope) -> Alert | None:
    """The alert with this code if the scope covers its commune; otherwise as if it did not exist."""
    alert = await _alert_by_code(session, code)
    return alert if alert is not None and scope.covers(alert.commune_pcode) else None


async def _alert_by_code(session: AsyncSession, code: str) -> Alert | None:
    if not code.isascii() or not code.isalnum() or len(code) > 8:
        return None
    return (await session.execute(select(Alert).where(Alert.code == code.upper()))).scalar_one_or_none()


async def alert_view(session: AsyncSession, t: Texts, taxonomy: Taxonomy, alert: Alert, now: datetime) -> AlertView:
    events = [Event(alert.opened_at, "Alert opened",
                    t("level {level}", level=alert.level) + " — " + _incident(taxonomy, alert.incident, t.lang))]
    for report, name in await session.execute(
            select(Report, Reporter.name).join(AlertReport, AlertReport.report_id == Report.id)
            .outerjoin(Reporter, Reporter.id == Report.reporter_id)
            .where(AlertReport.alert_id == alert.id).order_by(Report.received_at, Report.id)):
        text = redact(report.free_text, name)
        events.append(Event(report.received_at, "Report", (
            f"<b>{escape(report.ref)}</b> <code>{escape(report.sender_key)}</code> "
            f"{_incident(taxonomy, report.incident, t.lang)} {report.count or ''} {escape(report.village or '')} "
            f"{escape(text or '')} ({t(report.status)})")))
    for notification, member_name, role in await session.execute(
            select(Notification, CommitteeMember.name, CommitteeMember.role)
            .outerjoin(CommitteeMember, CommitteeMember.id == Notification.member_id)
            .where(Notification.alert_id == alert.id).order_by(Notification.created_at, Notification.id)):
        who = escape(member_name or role or "—")
        events.append(Event(notification.created_at, "Notification sent" if notification.decision == "sent"
                            else "Notification withheld",
                            f"L{notification.level} → {who}: {escape(notification.reason)}",
                            "withheld" if notification.decision != "sent" else ""))
    if alert.acknowledged_by:
        member = await session.get(CommitteeMember, alert.acknowledged_by)
        events.append(Event(alert.acknowledged_at, "Acknowledged by SMS",
                            escape((member.name or member.role) if member else "?")))
    outcome = None
    for action in await alerts_api.actions_of(session, alert.id):
        detail = escape(action.actor)
        if action.category:
            detail += f" — <b>{t(action.category)}</b>"
        if action.note:
            detail += f": {escape(action.note)}"
        events.append(Event(action.at, {"acknowledged": "Acknowledged on the dashboard", "note": "Note",
                                        "resolved": "Resolved with an outcome", "silenced": "Silenced"}
                            .get(action.action, action.action), detail, action.action))
        if action.action == "resolved":
            outcome = action
    if alert.resolved_at and outcome is None:
        events.append(Event(alert.resolved_at, "Closed", escape(alert.resolution or "")))
    path = await area_path(session, alert.commune_pcode)
    pcodes = {area.pcode for area in path}
    silences = tuple(s for s in await alerts_api.standing_silences(session, now)
                     if s.area_pcode in pcodes and s.incident in (None, alert.incident))
    events.sort(key=lambda e: e.at)
    acknowledged_by = (await acknowledgers(session, [alert])).get(alert.id)
    reached = tuple((await reached_by(session, [alert.id]))[alert.id])
    return AlertView(alert, path, tuple(events), outcome, silences, acknowledged_by, reached=reached,
                     neighbours=await neighbours_warned(session, alert.id))


def _facts(t: Texts, taxonomy: Taxonomy, view: AlertView, now: datetime) -> str:
    a = view.alert
    place = " › ".join(escape(area.name) for area in view.path) or escape(a.commune_pcode)
    rows = [("Code", f'<b id="alert-code">{escape(a.code)}</b>'), ("Level", _level_badge(a.level)),
            ("Incident", _incident(taxonomy, a.incident, t.lang)), ("Commune", place),
            ("Status", f'<span id="alert-status">{t(a.status)}</span>'),
            ("Opened", f"{t.when(a.opened_at)} ({t.duration(now - a.opened_at)})"),
            ("Acknowledged", t.when(a.acknowledged_at) + (f' — <span id="acknowledged-by">'
                                                          f"{escape(view.acknowledged_by)}</span>"
                                                          if view.acknowledged_by else "")), ("Escalation step", str(a.escalation_step)),
            ("Resolved", t.when(a.resolved_at))]
    body = "".join(f"<tr><th>{t(label)}</th><td>{value}</td></tr>" for label, value in rows)
    if view.outcome:
        body += (f'<tr><th>{t("Outcome")}</th><td id="outcome"><b>{t(view.outcome.category)}</b>: '
                 f"{escape(view.outcome.note or '')} <small>({escape(view.outcome.actor)}, "
                 f"{t.when(view.outcome.at)})</small></td></tr>")
    return f'<table class="facts">{body}</table>'


def _timeline(t: Texts, view: AlertView) -> str:
    rows = "".join(f'<tr class="event {e.css}"><td>{t.when(e.at)}</td><td>{t(e.what)}</td><td>{e.detail}</td></tr>'
                   for e in view.events)
    return (f'<h2>{t("Timeline")}</h2><table id="timeline"><tr><th>{t("When")}</th><th>{t("What")}</th>'
            f'<th>{t("Details")}</th></tr>{rows}</table>')


# What became of a member's SMS (gateway.outbox.reached.STATUSES), in the dashboard's words.
REACHED_LABELS = {"delivered": "reached", "sent": "sent", "failed": "failed", "pending": "pending"}


def _reached(t: Texts, view: AlertView) -> str:
    if not view.reached:
        return ""
    rows = "".join(
        f'<tr class="recipient {r.status}"><td>{t(r.role)}</td><td>{escape(r.area_name)}</td>'
        f"<td>{escape(r.name or '—')}</td><td><code>{escape(r.phone)}</code></td>"
        f"<td>{t(REACHED_LABELS[r.status])}{': ' + escape(mask_phones_in(r.why)) if r.why else ''}</td>"
        f"<td>{escape(r.provider or '—')}</td></tr>" for r in view.reached)
    return (f'<h2>{t("Who was reached")}</h2><table id="reached"><tr><th>{t("Role")}</th><th>{t("Area")}</th>'
            f'<th>{t("Name")}</th><th>{t("Phone")}</th><th>{t("Status")}</th><th>{t("Sent through")}</th></tr>'
            f"{rows}</table>")


def _silences(t: Texts, view: AlertView, csrf: str, can_act: bool) -> str:
    if not view.silences:
        return ""
    rows = "".join(
        f'<tr class="silence"><td>{escape(s.area_pcode)}</td><td>{escape(s.incident or "*")}</td>'
        f"<td>{t.when(s.until)}</td><td>{escape(s.reason)}</td><td>{escape(s.created_by)}</td><td>"
        + (f'<form method="post" action="/dashboard/silences/{s.id}/lift"><input type="hidden" name="csrf" '
           f'value="{csrf}"><button type="submit">{t("Lift")}</button></form>' if can_act else "")
        + "</td></tr>" for s in view.silences)
    return (f'<h2>{t("Silences in force")}</h2><table id="silences"><tr><th>{t("Area")}</th><th>{t("Incident")}</th>'
            f'<th>{t("Until")}</th><th>{t("Reason")}</th><th>{t("By")}</th><th></th></tr>{rows}</table>')


def _forms(t: Texts, taxonomy: Taxonomy, view: AlertView, csrf: str, scope: Scope, now: datetime) -> str:
    a = view.alert
    action = f"/dashboard/alerts/{escape(a.code)}"
    hidden = f'<input type="hidden" name="csrf" value="{csrf}">'
    parts = []
    if a.status in ("open", "escalated"):
        parts.append(f'<form id="acknowledge" method="post" action="{action}/acknowledge">{hidden}'
                     f'<button type="submit">{t("Take charge (acknowledge)")}</button></form>')
    categories = "".join(f'<option value="{c}">{t(c)}</option>' for c in alerts_api.RESPONSE_CATEGORIES)
    parts.append(
        f'<form id="resolve" class="action" method="post" action="{action}/resolve">{hidden}<h3>{t("Resolve")}</h3>'
        f'<label>{t("Response")} <select name="category" required><option value="">—</option>{categories}'
        f'</select></label><label>{t("What was done (short note)")} <textarea name="note" maxlength="500" '
        f'rows="2" required></textarea></label><button type="submit">{t("Resolve")}</button></form>')
    areas = "".join(f'<option value="{escape(area.pcode)}">{escape(area.name)} ({t(LEVEL_NAMES[area.level])})</option>'
                    for area in reversed(view.path) if area.level in LEVEL_NAMES and scope.covers(area.pcode))
    durations = "".join(f'<option value="{h}">{t.duration(timedelta(hours=h))}</option>' for h in SILENCE_CHOICES_HOURS)
    here = local(now, t.where)  # the form reads and shows times in the deployment's zone
    parts.append(
        f'<form id="silence" class="action" method="post" action="{action}/silence">{hidden}<h3>{t("Silence")}</h3>'
        f'<p class="hint">{t("Reports are still stored and scored; notifications are withheld until the end.")}</p>'
        f'<label>{t("Area")} <select name="area">{areas}</select></label>'
        f'<label>{t("Incident")} <select name="incident"><option value="{escape(a.incident)}">'
        f'{_incident(taxonomy, a.incident, t.lang)}</option><option value="*">{t("every incident")}</option></select></label>'
        f'<label>{t("For")} <select name="hours"><option value="">—</option>{durations}</select></label>'
        f'<label>{t("or until ({offset})", offset=offset_label(here))} <input type="datetime-local" name="until" '
        f'min="{here:%Y-%m-%dT%H:%M}" max="{here + MAX_SILENCE:%Y-%m-%dT%H:%M}"></label>'
        f'<label>{t("Reason")} <input name="reason" maxlength="200" required></label>'
        f'<button type="submit">{t("Silence")}</button></form>')
    note = (f'<form id="note" class="action" method="post" action="{action}/note">{hidden}<h3>{t("Add a note")}</h3>'
            f'<textarea name="note" maxlength="500" rows="2" required></textarea>'
            f'<button type="submit">{t("Add a note")}</button></form>')
    if a.status not in ACTIVE:
        return note  # a closed alert keeps its timeline open to notes
    return '<div class="actions">' + "".join(parts) + note + "</div>"


LEVEL_NAMES = {1: "region", 2: "department", 3: "commune"}


def alert_body(t: Texts, taxonomy: Taxonomy, view: AlertView, csrf: str, can_act: bool, scope: Scope,
               now: datetime, notice: str | None) -> str:
    shown = f'<p class="notice">{t(notice)}</p>' if notice else ""
    forms = _forms(t, taxonomy, view, csrf, scope, now) if can_act else ""
    export = f'<p><a href="/dashboard/export/alerts.csv">{t("Export alerts (CSV)")}</a></p>'
    return (shown + _facts(t, taxonomy, view, now) + forms + _silences(t, view, csrf, can_act)
            + _reached(t, view) + neighbours_section(t, view.neighbours) + _timeline(t, view) + export)
