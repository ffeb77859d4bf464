"""Response times per commune as an inline SVG chart: from an alert's first report to the alert, to
its acknowledgement and to its outcome (closed by a person), the median as a bar and the 90th
percentile as a whisker, on a logarithmic time axis (minutes to weeks share one chart)."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.dashboard.layout import Texts
from gateway.dashboard.queries import Place, scoped
from gateway.dashboard.scope import EVERYWHERE, Scope
from gateway.storage.models import Alert, AlertReport, Report

MEASURES = (("alert", "Report to alert", "#364fc7"), ("acknowledged", "Report to acknowledgement", "#e67700"),
            ("outcome", "Report to outcome", "#2b8a3e"))
PERIODS = (30, 90)
WIDTH, LEFT, RIGHT, TOP, ROW, GROUP_GAP, AXIS = 860, 170, 20, 10, 11, 12, 30
TICKS = ((60, "1 min"), (600, "10 min"), (3600, "1 h"), (6 * 3600, "6 h"))
DAY_TICKS = (1, 7, 30)  # in each language's word for days
SHORTEST, LONGEST = 30, 30 * 86400  # seconds at the axis' ends: anything beyond is drawn at the end


@dataclass(frozen=True)
class Delays:
    median: float  # seconds
    p90: float
    n: int


@dataclass(frozen=True)
class CommuneTimes:
    pcode: str
    name: str
    delays: dict[str, Delays]  # measure -> delays; a measure with no alert is absent


def summary(seconds: list[float]) -> Delays:
    """Median and 90th percentile (nearest rank) of a non-empty list."""
    ordered = sorted(seconds)
    return Delays(statistics.median(ordered), ordered[math.ceil(0.9 * len(ordered)) - 1], len(ordered))


async def response_times(session: AsyncSession, known: dict[str, Place], since: datetime,
                         scope: Scope = EVERYWHERE) -> list[CommuneTimes]:
    """Per commune, the alerts opened since `since`: time from the first report to the alert, to the
    acknowledgement and to the outcome (a person closed it: `ewg alerts resolve` or the dashboard)."""
    first_report = (select(AlertReport.alert_id, func.min(Report.received_at).label("first"))
                    .join(Report, Report.id == AlertReport.report_id).group_by(AlertReport.alert_id).subquery())
    rows = await session.execute(scoped(
        select(Alert.commune_pcode, Alert.opened_at, Alert.acknowledged_at, Alert.resolved_at, Alert.resolution,
               first_report.c.first).join(first_report, first_report.c.alert_id == Alert.id)
        .where(Alert.opened_at >= since), Alert.commune_pcode, scope))
    seconds: dict[str, dict[str, list[float]]] = {}
    for pcode, opened, acknowledged, resolved, resolution, first in rows:
        per = seconds.setdefault(pcode, {})
        per.setdefault("alert", []).append(max((opened - first).total_seconds(), 0.0))
        if acknowledged:
            per.setdefault("acknowledged", []).append(max((acknowledged - first).total_seconds(), 0.0))
        if resolved and (resolution or "").startswith("by "):
            per.setdefault("outcome", []).append(max((resolved - first).total_seconds(), 0.0))
    return sorted((CommuneTimes(pcode, known[pcode].name if pcode in known else pcode,
                                {m: summary(v) for m, v in per.items()}) for pcode, per in seconds.items()),
                  key=lambda c: c.name)


def _x(seconds: float) -> float:
    span = math.log(LONGEST) - math.log(SHORTEST)
    share = (math.log(min(max(seconds, SHORTEST), LONGEST)) - math.log(SHORTEST)) / span
    return round(LEFT + share * (WIDTH - LEFT - RIGHT), 1)


def render_response_chart(t: Texts, communes: list[CommuneTimes]) -> str:
    group_h = ROW * len(MEASURES) + GROUP_GAP
    height = TOP + group_h * len(communes) + AXIS
    parts = [f'<svg id="response-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
             f'role="img" aria-label="{t("Time from report to alert, acknowledgement and outcome")}">']
    for seconds, label in (*TICKS, *((days * 86400, t("{days} d", days=days)) for days in DAY_TICKS)):
        x = _x(seconds)
        parts.append(f'<line class="grid" x1="{x}" y1="{TOP}" x2="{x}" y2="{height - AXIS}"/>'
                     f'<text class="grid-label" x="{x}" y="{height - AXIS + 14}" text-anchor="middle">{label}</text>')
    for i, commune in enumerate(communes):
        top = TOP + i * group_h
        parts.append(f'<text class="commune-label" x="{LEFT - 8}" y="{top + ROW * len(MEASURES) / 2 + 3}" text-anchor="end">'
                     f'{escape(commune.name)}</text>')
        for j, (measure, label, colour) in enumerate(MEASURES):
            delays = commune.delays.get(measure)
            if delays is None:
                continue
            y = top + j * ROW
            end, whisker = _x(delays.median), _x(delays.p90)
            tip = (f"{escape(commune.name)} — {t(label)}: {t('median')} {t.duration(timedelta(seconds=delays.median))}, "
                   f"{t('90th percentile')} {t.duration(timedelta(seconds=delays.p90))} ({delays.n})")
            parts.append(f'<rect class="response-bar" data-commune="{escape(commune.pcode)}" data-measure="{measure}" '
                         f'data-median="{round(delays.median)}" data-p90="{round(delays.p90)}" data-n="{delays.n}" '
                         f'x="{LEFT}" y="{y + 1}" width="{round(end - LEFT, 1)}" height="{ROW - 3}" fill="{colour}">'
                         f'<title>{tip}</title></rect>'
                         f'<line class="p90" x1="{end}" y1="{y + ROW / 2 - 1}" x2="{whisker}" y2="{y + ROW / 2 - 1}" '
                         f'stroke="{colour}"/><line class="p90" x1="{whisker}" y1="{y + 1}" x2="{whisker}" '
                         f'y2="{y + ROW - 2}" stroke="{colour}"/>')
    parts.append("</svg>")
    return "".join(parts)


def response_body(t: Texts, communes: list[CommuneTimes], days: int) -> str:
    periods = "".join(f'<option value="{d}"{" selected" if d == days else ""}>{d}</option>' for d in PERIODS)
    legend = "".join(f'<li><span class="swatch bar-swatch" style="background:{colour}"></span>{t(label)}</li>'
                     for _, label, colour in MEASURES)
    head = "".join(f'<th>{t(label)}</th>' for _, label, _ in MEASURES)

    def cell(delays: Delays | None) -> str:
        if delays is None:
            return "<td>—</td>"
        return (f"<td>{t.duration(timedelta(seconds=delays.median))} <small>({t('90th percentile')} "
                f"{t.duration(timedelta(seconds=delays.p90))}, n={delays.n})</small></td>")

    rows = "".join(f'<tr data-commune="{escape(c.pcode)}"><td>{escape(c.name)}</td>'
                   + "".join(cell(c.delays.get(m)) for m, _, _ in MEASURES) + "</tr>" for c in communes)
    form = (f'<form method="get"><label>{t("Days")} <select name="days">{periods}</select></label> '
            f'<button type="submit">{t("Show")}</button></form>')
    if not communes:
        return form + f"<p>{t('No alert in this period.')}</p>"
    return (form + f"<p>{t('Alerts opened in the last {days} days, per commune: the bar is the median, the line reaches the 90th percentile.', days=days)}</p>"
            f'<div class="map-wrap">{render_response_chart(t, communes)}<ul class="legend">{legend}</ul></div>'
            f'<table id="response-times"><tr><th>{t("Commune")}</th>{head}</tr>{rows}</table>')

