"""The commune map as inline SVG: an equirectangular projection of the gazetteer's points,
coloured by alert level, with a graticule and country and region labels (no tiles, no polygons)."""

from __future__ import annotations

import math
from collections import defaultdict
from html import escape

from gateway.dashboard.queries import CommunePoint

LEVEL_COLOURS = ("#5c7f4f", "#f2a900", "#e8590c", "#c92a2a")  # no alert, level 1, 2, 3 and above
WIDTH, MARGIN = 860, 36


def level_colour(level: int) -> str:
    return LEVEL_COLOURS[max(0, min(level, len(LEVEL_COLOURS) - 1))]


class Projection:
    def __init__(self, points: list[CommunePoint]):
        lats = [p.place.lat for p in points] or [0.0]
        lons = [p.place.lon for p in points] or [0.0]
        self.west, self.east = min(lons) - 0.6, max(lons) + 1.6  # room for labels east of the points
        self.south, self.north = min(lats) - 0.6, max(lats) + 0.6
        self.kx = math.cos(math.radians((self.south + self.north) / 2))  # keeps distances roughly true
        span_x = (self.east - self.west) * self.kx or 1.0
        self.scale = (WIDTH - 2 * MARGIN) / span_x
        self.height = round((self.north - self.south) * self.scale + 2 * MARGIN)

    def xy(self, lat: float, lon: float) -> tuple[float, float]:
        return (round(MARGIN + (lon - self.west) * self.kx * self.scale, 1),
                round(MARGIN + (self.north - lat) * self.scale, 1))


def _graticule(proj: Projection) -> list[str]:
    parts = []
    for lon in range(math.ceil(proj.west), math.floor(proj.east) + 1, 2):
        x, _ = proj.xy(proj.north, lon)
        parts.append(f'<line class="grid" x1="{x}" y1="{MARGIN}" x2="{x}" y2="{proj.height - MARGIN}"/>'
                     f'<text class="grid-label" x="{x}" y="{proj.height - MARGIN + 14}">{lon}°</text>')
    for lat in range(math.ceil(proj.south), math.floor(proj.north) + 1, 2):
        _, y = proj.xy(lat, proj.west)
        parts.append(f'<line class="grid" x1="{MARGIN}" y1="{y}" x2="{WIDTH - MARGIN}" y2="{y}"/>'
                     f'<text class="grid-label" x="{MARGIN - 4}" y="{y + 4}" text-anchor="end">{lat}°</text>')
    return parts


def _centres(points: list[CommunePoint], key) -> dict[str, tuple[float, float]]:
    groups: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for point in points:
        name = key(point)
        if name:
            groups[name].append((point.place.lat, point.place.lon))
    return {name: (sum(a for a, _ in c) / len(c), sum(o for _, o in c) / len(c)) for name, c in groups.items()}


def render_map(points: list[CommunePoint], title: str, country_names: dict[str, str]) -> str:
    proj = Projection(points)
    parts = [f'<svg id="commune-map" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {proj.height}" '
             f'role="img" aria-label="{escape(title)}">',
             f'<rect class="sea" x="0" y="0" width="{WIDTH}" height="{proj.height}"/>', *_graticule(proj)]
    for country, (lat, lon) in _centres(points, lambda p: p.place.country).items():
        x, y = proj.xy(lat, lon)
        parts.append(f'<text class="country-label" x="{x}" y="{y}">{escape(country_names.get(country, country))}</text>')
    for region, (lat, lon) in _centres(points, lambda p: p.place.region_name).items():
        x, y = proj.xy(lat, lon)
        parts.append(f'<text class="region-label" x="{x}" y="{y - 12}">{escape(region)}</text>')
    for point in sorted(points, key=lambda p: p.level):  # alerts drawn last, on top
        x, y = proj.xy(point.place.lat, point.place.lon)
        codes = ", ".join(point.alert_codes)
        tip = escape(point.place.name + (f" — {codes}" if codes else ""))
        radius = 6 if point.level == 0 else 8 + 2 * min(point.level, 3)
        parts.append(f'<circle class="commune level-{min(point.level, 3)}" data-pcode="{escape(point.place.pcode)}" '
                     f'data-level="{point.level}" cx="{x}" cy="{y}" r="{radius}" fill="{level_colour(point.level)}">'
                     f'<title>{tip}</title></circle>')
        if point.level:
            parts.append(f'<text class="commune-label" x="{x + radius + 3}" y="{y + 4}">'
                         f'{escape(point.place.name)}</text>')
    parts.append("</svg>")
    return "".join(parts)
