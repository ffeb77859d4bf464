"""Which communes neighbour which: the stored pairs (imported with the commune tables, or computed
across a border at import; gateway.storage.adjacency) with the rule files' added and removed pairs
applied on top, and the rings of neighbours around a commune."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.spillover_rules import PairOverride
from gateway.storage.adjacency import Neighbour, neighbours_of

RULES = "rules"


@dataclass(frozen=True)
class NeighbourPair:
    """One neighbour of a commune, where the pair comes from, and whether a rule file removes it."""

    commune: str
    neighbour: str
    source: str  # imported, computed, rules
    distance_km: float | None
    where: str | None = None  # file:line of the rule that adds it
    removed_by: str | None = None  # file:line of the rule that removes it

    @property
    def stands(self) -> bool:
        return self.removed_by is None


def apply_overrides(communes: Iterable[str], stored: Iterable[Neighbour],
                    overrides: Iterable[PairOverride]) -> list[NeighbourPair]:
    """The neighbours of each of `communes`: stored pairs, pairs the rules add, and stored pairs the
    rules remove (kept in the list, marked, so a listing can say so)."""
    communes = set(communes)
    overrides = list(overrides)
    removed = {o.communes: o.where for o in overrides if o.action == "remove"}
    pairs: dict[tuple[str, str], NeighbourPair] = {}
    for row in stored:
        if row.commune in communes:
            key = (min(row.commune, row.neighbour), max(row.commune, row.neighbour))
            pairs[(row.commune, row.neighbour)] = NeighbourPair(row.commune, row.neighbour, row.source,
                                                                row.distance_km, removed_by=removed.get(key))
    for override in overrides:
        if override.action != "add":
            continue
        a, b = override.communes
        for commune, neighbour in ((a, b), (b, a)):
            if commune in communes:
                earlier = pairs.get((commune, neighbour))
                pairs[(commune, neighbour)] = NeighbourPair(commune, neighbour, RULES,
                                                            earlier.distance_km if earlier else None, override.where)
    return sorted(pairs.values(), key=lambda p: (p.commune, p.neighbour))


async def neighbour_pairs(session: AsyncSession, commune: str, overrides: Iterable[PairOverride]) -> list[NeighbourPair]:
    """A commune's neighbours with where each comes from (for `ewg gazetteer neighbours`)."""
    return apply_overrides([commune], await neighbours_of(session, [commune]), overrides)


async def rings_around(session: AsyncSession, commune: str, rings: int,
                       overrides: Iterable[PairOverride]) -> dict[str, int]:
    """Every commune within `rings` steps of `commune` (not itself) -> its ring (1: a neighbour).
    One query per ring. A commune outside the gazetteer (named by a rule file) has no stored
    neighbours of its own: the rings end there."""
    overrides = list(overrides)
    found: dict[str, int] = {commune: 0}
    frontier = {commune}
    for ring in range(1, rings + 1):
        pairs = apply_overrides(frontier, await neighbours_of(session, frontier), overrides)
        frontier = {p.neighbour for p in pairs if p.stands and p.neighbour not in found}
        found.update(dict.fromkeys(frontier, ring))
        if not frontier:
            break
    del found[commune]
    return found
