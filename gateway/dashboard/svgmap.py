"""The commune map as inline SVG: an equirectangular projection of the gazetteer's points, coloured
by alert level, over the country and region borders of borders.json (Natural Earth, public domain;
built by scripts/build_borders.py), with labels placed so that none covers another."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from pathlib import Path

from gateway.dashboard.queries import CommunePoint

LEVEL_COLOURS = ("#5c7f4f", "#f2a900", "#e8590c", "#c92a2a")  # no alert, level 1, 2, 3 and above
WIDTH, MARGIN = 860, 36
BORDERS = Path(__file__).resolve().parent / "borders.json"
# Font sizes and letter spacing of the label classes in dashboard.css, to size the labels' boxes.
LABEL_STYLE = {"commune-label": (12, 0.0), "region-label": (12, 0.0), "country-label": (26, 6.0)}
CHAR_WIDTH = 0.62  # of the font size: a generous average for the sans-serif faces the stylesheet names


@lru_cache(maxsize=1)
def borders() -> dict:
    return json.loads(BORDERS.read_text(encoding="utf-8"))


def level_colour(level: int) -> str:
    return LEVEL_COLOURS[max(0, min(level, len(LEVEL_COLOURS) - 1))]


def radius_of(point: CommunePoint) -> int:
    return 6 if point.level == 0 else 8 + 2 * min(point.level, 3)


class Projection:
    def __init__(self, points: list[CommunePoint]):
        lats = [p.place.lat for p in points] or [0.0]
        lons = [p.place.lon for p in points] or [0.0]
        self.west, self.east = min(lons) - 0.8, max(lons) + 1.6  # room for labels east of the points
        self.south, self.north = min(lats) - 0.8, max(lats) + 0.8
        self.kx = math.cos(math.radians((self.south + self.north) / 2))  # keeps distances roughly true
        span_x = (self.east - self.west) * self.kx or 1.0
        self.scale = (WIDTH - 2 * MARGIN) / span_x
        self.height = round((self.north - self.south) * self.scale + 2 * MARGIN)

    def xy(self, lat: float, lon: float) -> tuple[float, float]:
        return (round(MARGIN + (lon - self.west) * self.kx * self.scale, 1),
                round(MARGIN + (self.north - lat) * self.scale, 1))

    def shows(self, ring: list[list[float]]) -> bool:
        """Whether any of the ring's bounding box lies in the map's frame."""
        lons, lats = [x for x, _ in ring], [y for _, y in ring]
        return min(lons) < self.east and max(lons) > self.west and min(lats) < self.north and max(lats) > self.south


@dataclass(frozen=True)
class Label:
    text: str
    css: str
    x: float  # the text's anchor point, as SVG places it
    y: float
    anchor: str  # start, middle or end
    box: tuple[float, float, float, float]  # left, top, right, bottom

    def svg(self) -> str:
        return (f'<text class="{self.css}" x="{self.x}" y="{self.y}" text-anchor="{self.anchor}">'
                f'{escape(self.text)}</text>')


def _label(text: str, css: str, x: float, y: float, anchor: str) -> Label:
    size, spacing = LABEL_STYLE[css]
    width = len(text) * (size * CHAR_WIDTH + spacing)
    left = x - width / 2 if anchor == "middle" else x - width if anchor == "end" else x
    return Label(text, css, round(x, 1), round(y, 1), anchor, (left, y - size * 0.8, left + width, y + size * 0.25))


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _commune_candidates(text: str, x: float, y: float, r: float) -> list[Label]:
    gap = r + 3
    return [_label(text, "commune-label", x + gap, y + 4, "start"), _label(text, "commune-label", x - gap, y + 4, "end"),
            _label(text, "commune-label", x, y - gap - 2, "middle"), _label(text, "commune-label", x, y + gap + 11, "middle"),
            _label(text, "commune-label", x + gap - 2, y - gap, "start"), _label(text, "commune-label", x - gap + 2, y - gap, "end"),
            _label(text, "commune-label", x + gap - 2, y + gap + 9, "start"),
            _label(text, "commune-label", x - gap + 2, y + gap + 9, "end")]


def _area_candidates(text: str, css: str, x: float, y: float) -> list[Label]:
    step = LABEL_STYLE[css][0] + 4
    return [_label(text, css, x + dx * step * 2, y + dy * step, "middle")
            for dy, dx in ((-1, 0), (0, 0), (-2, 0), (1, 0), (2, 0), (-3, 0), (3, 0), (-1, -1), (-1, 1), (1, -1),
                           (1, 1), (-4, 0), (4, 0))]


def _centres(points: list[CommunePoint], key) -> dict[str, tuple[float, float]]:
    groups: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for point in points:
        name = key(point)
        if name:
            groups[name].append((point.place.lat, point.place.lon))
    return {name: (sum(a for a, _ in c) / len(c), sum(o for _, o in c) / len(c)) for name, c in groups.items()}


def place_labels(proj: Projection, points: list[CommunePoint], country_names: dict[str, str],
                 spilled: frozenset[str] = frozenset()) -> list[Label]:
    """Labels of the communes on alert (or warned by spillover), then of the regions and countries,
    each at the first of its candidate places that covers no placed label, no commune on alert and
    stays in the frame; a label with no such place is left out (the commune's tooltip still names it)."""
    frame = (0.0, 0.0, float(WIDTH), float(proj.height))
    circles = []
    for point in points:
        x, y = proj.xy(point.place.lat, point.place.lon)
        r = radius_of(point) + (4 if point.place.pcode in spilled else 0)
        circles.append(((x - r, y - r, x + r, y + r), bool(point.level) or point.place.pcode in spilled))
    placed: list[Label] = []

    def free(label: Label, strict: bool) -> bool:
        inside = frame[0] <= label.box[0] and label.box[2] <= frame[2] and frame[1] <= label.box[1] and label.box[3] <= frame[3]
        return inside and not any(_overlaps(label.box, p.box) for p in placed) and not any(
            _overlaps(label.box, box) for box, marked in circles if marked or strict)

    def place(candidates: list[Label]) -> None:
        for strict in (True, False):  # first avoiding every commune, then only those on alert
            for label in candidates:
                if free(label, strict):
                    placed.append(label)
                    return

    for point in sorted(points, key=lambda p: (-p.level, p.place.pcode not in spilled, p.place.name)):
        if point.level or point.place.pcode in spilled:
            x, y = proj.xy(point.place.lat, point.place.lon)
            place(_commune_candidates(point.place.name, x, y, radius_of(point) + (4 if point.place.pcode in spilled else 0)))
    for region, (lat, lon) in sorted(_centres(points, lambda p: p.place.region_name).items()):
        place(_area_candidates(region, "region-label", *proj.xy(lat, lon)))
    for country, (lat, lon) in sorted(_centres(points, lambda p: p.place.country).items()):
        place(_area_candidates(country_names.get(country, country), "country-label", *proj.xy(lat, lon)))
    return placed


def _path(proj: Projection, ring: list[list[float]]) -> str:
    """An SVG path of a ring, skipping points that fall on the previous one at the map's scale."""
    out, last = [], None
    for lon, lat in ring:
        x, y = proj.xy(lat, lon)
        here = (round(x), round(y))
        if here != last:
            out.append(f"{here[0]},{here[1]}")
            last = here
    return "M" + "L".join(out) + "Z" if len(out) > 2 else ""


def _borders(proj: Projection) -> list[str]:
    data = borders()
    regions = "".join(_path(proj, ring) for region in data["regions"].values() for ring in region["rings"]
                      if proj.shows(ring))
    countries = "".join(_path(proj, ring) for rings in data["countries"].values() for ring in rings
                        if proj.shows(ring))
    return [f'<path class="country-border" d="{countries}"/>', f'<path class="region-border" d="{regions}"/>']


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


def render_map(points: list[CommunePoint], title: str, country_names: dict[str, str],
               spilled: frozenset[str] = frozenset(), spilled_title: str = "") -> str:
    """`spilled`: communes warned by the spillover of a standing alert, drawn with a hatched ring."""
    proj = Projection(points)
    parts = [f'<svg id="commune-map" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {proj.height}" '
             f'role="img" aria-label="{escape(title)}">',
             '<defs><pattern id="hatch" width="5" height="5" patternUnits="userSpaceOnUse" '
             'patternTransform="rotate(45)"><rect width="5" height="5" fill="#fff"/>'
             '<line x1="0" y1="0" x2="0" y2="5" stroke="#5c3d99" stroke-width="3"/></pattern></defs>',
             f'<rect class="sea" x="0" y="0" width="{WIDTH}" height="{proj.height}"/>', *_graticule(proj),
             *_borders(proj)]
    for point in sorted(points, key=lambda p: p.level):  # alerts drawn last, on top
        x, y = proj.xy(point.place.lat, point.place.lon)
        codes = ", ".join(point.alert_codes)
        tip = escape(point.place.name + (f" — {codes}" if codes else ""))
        radius = radius_of(point)
        if point.place.pcode in spilled:
            parts.append(f'<circle class="spillover" data-pcode="{escape(point.place.pcode)}" cx="{x}" cy="{y}" '
                         f'r="{radius + 4}" fill="url(#hatch)"><title>{escape(point.place.name)} — '
                         f'{escape(spilled_title)}</title></circle>')
        parts.append(f'<circle class="commune level-{min(point.level, 3)}" data-pcode="{escape(point.place.pcode)}" '
                     f'data-level="{point.level}" cx="{x}" cy="{y}" r="{radius}" fill="{level_colour(point.level)}">'
                     f'<title>{tip}</title></circle>')
    parts += [label.svg() for label in place_labels(proj, points, country_names, spilled)]
    parts.append("</svg>")
    return "".join(parts)
