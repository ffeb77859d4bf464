"""Reports over time as an inline SVG stacked bar chart: one bar per day, one colour per incident."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from html import escape

INCIDENT_COLOURS = ("#c92a2a", "#862e9c", "#e67700", "#364fc7", "#5f3dc4", "#212529", "#0b7285", "#d9480f",
                    "#2b8a3e", "#a61e4d")
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 860, 280, 40, 40, 12


def incident_colour(index: int) -> str:
    return INCIDENT_COLOURS[index % len(INCIDENT_COLOURS)]


def render_chart(counts: dict[tuple[date, str], int], first_day: date, days: int, incidents: list[str],
                 labels: dict[str, str], title: str) -> str:
    """counts: (day, incident) -> reports. `incidents` fixes the stacking order and the colours."""
    per_day: dict[date, int] = defaultdict(int)
    for (day, _), n in counts.items():
        per_day[day] += n
    top = max(per_day.values(), default=0) or 1
    plot_h = HEIGHT - BOTTOM - TOP
    step = (WIDTH - LEFT - 10) / days
    bar_w = max(step * 0.7, 2)
    parts = [f'<svg id="reports-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'role="img" aria-label="{escape(title)}">']
    for tick in sorted({0, top // 2, top}):
        y = round(TOP + plot_h - tick / top * plot_h, 1)
        parts.append(f'<line class="grid" x1="{LEFT}" y1="{y}" x2="{WIDTH - 10}" y2="{y}"/>'
                     f'<text class="grid-label" x="{LEFT - 4}" y="{y + 4}" text-anchor="end">{tick}</text>')
    for i in range(days):
        day = first_day + timedelta(days=i)
        x = round(LEFT + i * step + (step - bar_w) / 2, 1)
        base = TOP + plot_h
        for index, incident in enumerate(incidents):
            n = counts.get((day, incident), 0)
            if not n:
                continue
            h = n / top * plot_h
            base -= h
            parts.append(f'<rect class="bar" data-day="{day.isoformat()}" data-incident="{escape(incident)}" '
                         f'data-count="{n}" x="{x}" y="{round(base, 1)}" width="{round(bar_w, 1)}" '
                         f'height="{round(h, 1)}" fill="{incident_colour(index)}">'
                         f'<title>{day.isoformat()} {escape(labels.get(incident, incident))}: {n}</title></rect>')
        if days <= 16 or i % 2 == 0:
            parts.append(f'<text class="grid-label" x="{round(x + bar_w / 2, 1)}" y="{HEIGHT - BOTTOM + 14}" '
                         f'text-anchor="middle">{day.strftime("%d/%m")}</text>')
    parts.append("</svg>")
    return "".join(parts)
