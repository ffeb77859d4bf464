"""Distances on the Earth between points of communes, and the pairs of communes of different
countries that come within a distance of each other: the neighbours across a border that no
national table lists."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

EARTH_RADIUS_KM = 6371.0088  # the mean radius (IUGG)
KM_PER_DEGREE_LAT = 111.0  # a degree of latitude is 110.6-111.7 km: the grid below errs on the wide side

Point = tuple[float, float]  # (lat, lon) in degrees


def distance_km(a: Point, b: Point) -> float:
    """Great-circle distance (haversine): exact enough for tens of kilometres."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True)
class CommunePoints:
    """The points that stand for a commune: its centre(s) and the localities it holds."""

    pcode: str
    country: str
    points: tuple[Point, ...]


def nearest_km(a: Sequence[Point], b: Sequence[Point]) -> float | None:
    """The distance between the two closest points of two sets (None when either is empty)."""
    return min((distance_km(p, q) for p in a for q in b), default=None)


def cross_border_pairs(communes: Iterable[CommunePoints], within_km: float) -> dict[tuple[str, str], float]:
    """Pairs (a, b), a < b, of communes of different countries with two points at most `within_km`
    apart, and that distance. Points are bucketed in a grid of cells at least `within_km` wide, so
    each point is compared with the points of its own and the eight surrounding cells only."""
    if within_km <= 0:
        return {}
    by_commune = {c.pcode: c for c in communes if c.points}
    # A degree of longitude shrinks towards the poles; the cell is sized for the highest latitude seen.
    highest = max((abs(lat) for c in by_commune.values() for lat, _ in c.points), default=0.0)
    cell_lat = within_km / KM_PER_DEGREE_LAT
    cell_lon = within_km / (KM_PER_DEGREE_LAT * max(math.cos(math.radians(min(highest, 89.0))), 0.01))
    grid: dict[tuple[int, int], dict[str, list[tuple[str, Point]]]] = defaultdict(lambda: defaultdict(list))
    for commune in by_commune.values():
        for point in commune.points:
            cell = (math.floor(point[0] / cell_lat), math.floor(point[1] / cell_lon))
            grid[cell][commune.country].append((commune.pcode, point))
    found: dict[tuple[str, str], float] = {}
    for (row, column), by_country in grid.items():
        around = [grid[(row + dr, column + dc)] for dr in (-1, 0, 1) for dc in (-1, 0, 1)
                  if (row + dr, column + dc) in grid]
        for country, members in by_country.items():
            others = [entry for cell in around for other_country, entries in cell.items()
                      if other_country > country for entry in entries]  # each pair of countries once
            for pcode, point in members:
                for other, other_point in others:
                    km = distance_km(point, other_point)
                    pair = (pcode, other) if pcode < other else (other, pcode)
                    if km <= within_km and km < found.get(pair, math.inf):
                        found[pair] = km
    return found


def symmetric_pairs(neighbours: Mapping[str, Iterable[str]], known: set[str] | frozenset[str]) -> set[tuple[str, str]]:
    """Pairs (a, b), a < b, from lists of each commune's neighbours, whichever side lists the other;
    pairs naming a commune outside `known` are left out."""
    pairs = set()
    for commune, listed in neighbours.items():
        for other in listed:
            if other != commune and commune in known and other in known:
                pairs.add((min(commune, other), max(commune, other)))
    return pairs
