"""Page bodies. Every value from the database is escaped here."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from html import escape

from gateway.dashboard.chart import incident_colour, render_chart
from gateway.dashboard.layout import Texts, template
from gateway.dashboard.queries import (
    AlertLine,
    CommunePoint,
    FailedSms,
    Place,
    ReviewItem,
    SilentFocalPoint,
)
from gateway.dashboard.svgmap import LEVEL_COLOURS, level_colour, render_map
from gateway.kernel.taxonomy import Taxonomy

COUNTRY_NAMES = {"NE": "NIGER", "ML": "MALI"}


def _incident(taxonomy: Taxonomy, incident: str, lang: str) -> str:
    try:
        return escape(taxonomy.by_id(incident).label(lang))
    except KeyError:
        return escape(incident)


def login_body(t: Texts, error: str = "") -> str:
    """The login form; `error` is an already translated and escaped line."""
    return template("login.html").substitute(error=error, user_label=t("User"), password_label=t("Password"),
                                             submit=t("Log in"))


def _level_badge(level: int) -> str:
    return f'<span class="level" style="background:{level_colour(level)}">{level}</span>'


def _reports_details(t: Texts, taxonomy: Taxonomy, alert: AlertLine) -> str:
    rows = "".join(
        f"<tr><td>{escape(r.ref)}</td><td>{t.when(r.received_at)}</td><td><code>{escape(r.reporter)}</code></td>"
        f"<td>{t(r.trust)}</td><td>{_incident(taxonomy, r.incident, t.lang)}</td><td>{r.count or ''}</td>"
        f"<td>{escape(r.village or '')}</td><td>{escape(r.free_text or '')}</td><td>{t(r.status)}</td></tr>"
        for r in alert.reports)
    return (f"<details><summary>{t('{n} report(s)', n=len(alert.reports))}</summary><table><tr>"
            f"<th>{t('Ref')}</th><th>{t('Received')}</th><th>{t('Reporter (pseudonym)')}</th><th>{t('Trust')}</th>"
            f"<th>{t('Incident')}</th><th>{t('Count')}</th><th>{t('Village')}</th><th>{t('Text')}</th>"
            f"<th>{t('Status')}</th></tr>{rows}</table></details>")


def alerts_table(t: Texts, taxonomy: Taxonomy, alerts: list[AlertLine], now: datetime) -> str:
    if not alerts:
        return f"<p>{t('No standing alert.')}</p>"
    rows = []
    for a in alerts:
        acked = (f"{escape(a.acknowledged_by or '?')}<br><small>{t('after {delay}', delay=t.duration(a.time_to_acknowledge))}</small>"
                 if a.acknowledged_at else f'<span class="unacknowledged">{t("not acknowledged")}</span>')
        rows.append(
            f'<tr class="alert-row" data-code="{escape(a.code)}" data-level="{a.level}">'
            f'<td><a href="/dashboard/alerts/{escape(a.code)}"><b>{escape(a.code)}</b></a></td>'
            f"<td>{_level_badge(a.level)}</td>"
            f"<td>{_incident(taxonomy, a.incident, t.lang)}</td>"
            f"<td>{escape(a.commune.name if a.commune else '?')}<br><small>{escape(a.commune.region_name or '') if a.commune else ''}</small></td>"
            f"<td>{t.duration(now - a.opened_at)}<br><small>{t.when(a.opened_at)}</small></td>"
            f"<td>{acked}</td><td>{a.escalation_step}</td><td>{t(a.status)}</td>"
            f"<td>{_reports_details(t, taxonomy, a)}</td></tr>")
    return (f'<table id="alerts"><tr><th>{t("Code")}</th><th>{t("Level")}</th><th>{t("Incident")}</th>'
            f'<th>{t("Commune")}</th><th>{t("Age")}</th><th>{t("Acknowledged by")}</th>'
            f'<th>{t("Escalation step")}</th><th>{t("Status")}</th><th>{t("Reports")}</th></tr>{"".join(rows)}</table>')


def situation_body(t: Texts, taxonomy: Taxonomy, points: list[CommunePoint], alerts: list[AlertLine],
                   delays: list[timedelta], now: datetime, spilled: frozenset[str] = frozenset()) -> str:
    unacknowledged = sum(1 for a in alerts if a.acknowledged_at is None)
    legend = "".join(f'<li><span class="swatch" style="background:{colour}"></span>'
                     f'{t("no alert") if level == 0 else t("level {level}", level=level)}</li>'
                     for level, colour in enumerate(LEVEL_COLOURS))
    legend += (f'<li id="spillover-legend"><span class="swatch hatch-swatch"></span>'
               f'{t("warned by spillover of a neighbouring alert")}</li>')
    legend += f'<li><small>{t("Borders: Natural Earth (public domain).")}</small></li>'
    return (
        f'<div class="summary"><div>{t("Standing alerts")}<b id="standing">{len(alerts)}</b></div>'
        f'<div>{t("Not acknowledged")}<b id="unacknowledged">{unacknowledged}</b></div>'
        f'<div>{t("Median time to acknowledge (30 days)")}<b id="median-tta">{t.median(delays)}</b></div></div>'
        f'<div class="map-wrap">{render_map(points, t("Communes by alert level"), COUNTRY_NAMES, spilled, t("warned by spillover of a neighbouring alert"))}'
        f'<ul class="legend">{legend}</ul></div>'
        f'<h2>{t("Standing alerts")}</h2>{alerts_table(t, taxonomy, alerts, now)}')


def reports_body(t: Texts, taxonomy: Taxonomy, counts: dict[tuple[date, str, str | None], int], regions: list[Place],
                 region: str | None, first_day: date, days: int) -> str:
    incidents = [i.id for i in taxonomy.incidents]
    labels = {i.id: i.label(t.lang) for i in taxonomy.incidents}
    per_day: dict[tuple[date, str], int] = {}
    per_region: dict[tuple[str | None, str], int] = {}
    for (day, incident, region_pcode), n in counts.items():
        per_day[(day, incident)] = per_day.get((day, incident), 0) + n
        per_region[(region_pcode, incident)] = per_region.get((region_pcode, incident), 0) + n
    options = "".join(f'<option value="{escape(r.pcode)}"{" selected" if r.pcode == region else ""}>'
                      f'{escape(r.name)}</option>' for r in regions)
    legend = "".join(f'<li><span class="swatch bar-swatch" style="background:{incident_colour(i)}"></span>'
                     f'{escape(labels[incident])}</li>' for i, incident in enumerate(incidents))
    region_names = {r.pcode: r.name for r in regions}
    used = [i for i in incidents if any(k[1] == i for k in per_region)]
    head = "".join(f"<th>{escape(labels[i])}</th>" for i in used)
    body = "".join(
        f"<tr><td>{escape(region_names.get(rp, rp or '?'))}</td>"
        + "".join(f"<td>{per_region.get((rp, i), 0)}</td>" for i in used) + "</tr>"
        for rp in sorted({k[0] for k in per_region}, key=lambda p: region_names.get(p, p or "")))
    return (
        f'<form method="get"><label>{t("Region")} <select name="region"><option value="">{t("All regions")}</option>'
        f'{options}</select></label> <label>{t("Days")} <input name="days" type="number" min="1" max="90" '
        f'value="{days}"></label> <button type="submit">{t("Show")}</button></form>'
        f'<h2>{t("Reports per day and incident")}</h2><div class="map-wrap">'
        f'{render_chart(per_day, first_day, days, incidents, labels, t("Reports per day and incident"))}'
        f'<ul class="legend">{legend}</ul></div>'
        f'<h2>{t("Reports per region and incident")}</h2>'
        + (f'<table id="per-region"><tr><th>{t("Region")}</th>{head}</tr>{body}</table>' if per_region
           else f"<p>{t('No report in this period.')}</p>"))


def review_body(t: Texts, taxonomy: Taxonomy, items: list[ReviewItem], csrf: str, notice: str | None) -> str:
    labels = [(i.id, i.label(t.lang)) for i in taxonomy.incidents] + [("noise", t("not a report")),
                                                                      ("other", t("other"))]
    options = "".join(f'<option value="{escape(v)}">{escape(label)}</option>' for v, label in labels)
    langs = "".join(f'<option value="{code}">{code}</option>' for code in ("fr", "ha", "dje"))
    rows = "".join(
        f'<tr data-message="{m.message_id}"><td>{t.when(m.received_at)}</td><td><code>{escape(m.sender)}</code></td>'
        f"<td>{escape(m.text)}{_needs(t, m)}</td><td>{escape(m.lang or '')}</td><td>"
        f'<form class="review-form" method="post" action="/dashboard/review/{m.message_id}">'
        f'<input type="hidden" name="csrf" value="{csrf}"><select name="label">{options}</select>'
        + (f'<input name="place" placeholder="{t("place (village or commune)")}" maxlength="80">' if m.needs else "") +
        f'<input name="word" placeholder="{t("unknown word (optional)")}" maxlength="40">'
        f'<select name="word_lang">{langs}</select><button type="submit">{t("Label")}</button></form></td></tr>'
        for m in items)
    shown = f'<p class="notice">{t(notice)}</p>' if notice else ""
    return shown + (f"<p>{t('Texts the parser did not understand. A suggested word goes to the suggestions file for a native speaker to check, not into the lexicon.')}</p>"
                    + (f'<table id="review"><tr><th>{t("Received")}</th><th>{t("Sender (pseudonym)")}</th>'
                       f'<th>{t("Text")}</th><th>{t("Language")}</th><th>{t("Label")}</th></tr>{rows}</table>'
                       if items else f"<p>{t('Nothing to review.')}</p>"))


def _needs(t: Texts, item: ReviewItem) -> str:
    """The flag of a report whose follow-up question went unanswered."""
    return f' <strong class="needs">{t(item.needs)}</strong>' if item.needs else ""


def focal_points_body(t: Texts, silent: list[SilentFocalPoint], days: int, now: datetime) -> str:
    rows = "".join(
        f"<tr><td><code>{escape(s.pseudonym)}</code></td><td>{escape(s.masked_phone)}</td>"
        f"<td>{escape(s.commune or '?')}</td><td>{t.when(s.last_report_at)}</td>"
        f"<td>{t.duration(now - s.last_report_at) if s.last_report_at else t('never reported')}</td></tr>"
        for s in silent)
    return (f"<p>{t('Approved focal points with no report for {days} days or more.', days=days)}</p>"
            + (f'<table id="silent"><tr><th>{t("Pseudonym")}</th><th>{t("Number (masked)")}</th>'
               f'<th>{t("Commune")}</th><th>{t("Last report")}</th><th>{t("Silent for")}</th></tr>{rows}</table>'
               if silent else f"<p>{t('Every focal point reported recently.')}</p>"))


def delivery_body(t: Texts, failures: list[FailedSms], cost: dict[tuple[str, str], tuple[int, float]],
                  sent: int, days: int, logged: int = 0) -> str:
    cost_rows = "".join(f"<tr><td>{t(kind)}</td><td>{n}</td><td>{total:.2f} {escape(currency)}</td></tr>"
                        for (kind, currency), (n, total) in sorted(cost.items()))
    fail_rows = "".join(
        f"<tr><td>{t.when(f.created_at)}</td><td>{t(f.kind)}</td><td>{escape(f.recipient)}</td><td>{t(f.status)}</td>"
        f"<td>{escape(f.delivery_status or '')}</td><td>{escape(f.error or '')}</td></tr>" for f in failures)
    log_only = (f'<p id="logged">{t("{logged} SMS written to the log, not sent: no SMS provider is configured (log-only mode).", logged=logged)}</p>'
                if logged else "")
    return (f"<p>{t('Last {days} days: {sent} SMS sent, {failed} failed or not delivered.', days=days, sent=sent, failed=len(failures))}</p>"
            + log_only +
            f'<h2>{t("SMS cost")}</h2>'
            + (f'<table id="cost"><tr><th>{t("Kind")}</th><th>{t("SMS")}</th><th>{t("Cost")}</th></tr>{cost_rows}</table>'
               if cost else f"<p>{t('No cost reported by the provider.')}</p>")
            + f'<h2>{t("Delivery failures")}</h2>'
            + (f'<table id="failures"><tr><th>{t("Created")}</th><th>{t("Kind")}</th><th>{t("Recipient")}</th>'
               f'<th>{t("Status")}</th><th>{t("Delivery report")}</th><th>{t("Error")}</th></tr>{fail_rows}</table>'
               if failures else f"<p>{t('No failure.')}</p>"))
