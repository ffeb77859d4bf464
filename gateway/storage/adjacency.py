"""Neighbouring communes as stored: rebuilt from the gazetteer at every import (the commune tables'
own neighbours, and pairs across a border computed from coordinates), read by the alert service
and `ewg gazetteer neighbours`. Rule files add or remove pairs on top (alerts.neighbours)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.kernel.geo import CommunePoints, cross_border_pairs, distance_km, symmetric_pairs
from gateway.storage.models import AdminUnit, CommuneAdjacency, Locality

log = logging.getLogger(__name__)

DEFAULT_CROSS_BORDER_KM = 50.0  # settings.spillover.cross_border_km
COMMUNE = 3
IMPORTED, COMPUTED = "imported", "computed"
CHUNK = 2000  # rows per INSERT: well under SQLite's bound parameters at 4 columns

_NEIGHBOURS_OF = select(CommuneAdjacency).where(
    CommuneAdjacency.commune_pcode.in_(bindparam("communes", expanding=True))
).order_by(CommuneAdjacency.commune_pcode, CommuneAdjacency.neighbour_pcode)


@dataclass(frozen=True)
class Neighbour:
    commune: str
    neighbour: str
    source: str  # imported, computed
    distance_km: float | None  # imported: between the communes' centres; computed: between their nearest points


@dataclass(frozen=True)
class AdjacencySummary:
    imported: int  # pairs the commune tables list
    computed: int  # pairs across a border within the distance, not already imported
    cross_border_km: float


async def refresh_adjacency(session: AsyncSession, cross_border_km: float = DEFAULT_CROSS_BORDER_KM
                            ) -> AdjacencySummary:
    """Rebuild every stored pair from the communes and localities stored now. Imported pairs are
    kept whichever side lists the other; across a border, two communes are neighbours when a point
    of one (its centre, further reference points, its localities) lies within `cross_border_km` of
    a point of the other."""
    units = (await session.execute(
        select(AdminUnit.pcode, AdminUnit.country, AdminUnit.lat, AdminUnit.lon, AdminUnit.neighbours,
               AdminUnit.ref_points).where(AdminUnit.level == COMMUNE))).all()
    centres = {pcode: (lat, lon) for pcode, _, lat, lon, _, _ in units if lat is not None and lon is not None}
    points: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for pcode, *_, ref_points in units:
        if pcode in centres:
            points[pcode].append(centres[pcode])
        points[pcode].extend((p[0], p[1]) for p in ref_points or () if len(p) == 2)
    localities = await session.execute(select(Locality.commune_pcode, Locality.lat, Locality.lon).where(
        Locality.lat.is_not(None), Locality.lon.is_not(None)))
    for pcode, lat, lon in localities:
        points[pcode].append((lat, lon))
    known = {pcode for pcode, *_ in units}
    imported = symmetric_pairs({pcode: neighbours or () for pcode, _, _, _, neighbours, _ in units}, known)
    across = cross_border_pairs((CommunePoints(pcode, country, tuple(points[pcode])) for pcode, country, *_ in units),
                                cross_border_km)
    rows = []
    for a, b in sorted(imported):
        km = distance_km(centres[a], centres[b]) if a in centres and b in centres else None
        rows += _both_ways(a, b, IMPORTED, km)
    computed = {pair: km for pair, km in across.items() if pair not in imported}
    for (a, b), km in sorted(computed.items()):
        rows += _both_ways(a, b, COMPUTED, km)
    await session.execute(delete(CommuneAdjacency))
    for start in range(0, len(rows), CHUNK):
        await session.execute(insert(CommuneAdjacency), rows[start:start + CHUNK])
    log.info("neighbouring communes: %d pairs imported, %d across a border within %g km",
             len(imported), len(computed), cross_border_km)
    return AdjacencySummary(len(imported), len(computed), cross_border_km)


def _both_ways(a: str, b: str, source: str, km: float | None) -> list[dict]:
    km = None if km is None else round(km, 1)
    return [{"commune_pcode": a, "neighbour_pcode": b, "source": source, "distance_km": km},
            {"commune_pcode": b, "neighbour_pcode": a, "source": source, "distance_km": km}]


async def neighbours_of(session: AsyncSession, communes: Iterable[str]) -> list[Neighbour]:
    """The stored neighbours of these communes (one index range per commune)."""
    wanted = sorted(set(communes))
    if not wanted:
        return []
    rows = (await session.execute(_NEIGHBOURS_OF, {"communes": wanted})).scalars()
    return [Neighbour(row.commune_pcode, row.neighbour_pcode, row.source, row.distance_km) for row in rows]
