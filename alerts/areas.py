"""Administrative areas as the alert core sees them: a commune with its department and region."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

PCODE_PATTERN = re.compile(r"^[A-Z]{2}[0-9]{2,12}$")

# Length of a region, department and commune P-code per country (OCHA conventions):
# Niger NE004 / NE004006 / NE004006003, Mali ML07 / ML0702 / ML070201.
_PCODE_LENGTHS = {"NE": (5, 8, 11), "ML": (4, 6, 8)}


class AreaLevel(StrEnum):
    COMMUNE = "commune"
    DEPARTMENT = "department"
    REGION = "region"


@dataclass(frozen=True)
class AreaPath:
    """A commune and the areas above it, most local first."""

    commune: str
    department: str | None
    region: str | None

    @classmethod
    def from_pcode(cls, commune: str) -> AreaPath:
        """Derive the department and region from the P-code prefix (None when the country is unknown)."""
        lengths = _PCODE_LENGTHS.get(commune[:2])
        if not lengths or len(commune) != lengths[2]:
            return cls(commune, None, None)
        return cls(commune, commune[: lengths[1]], commune[: lengths[0]])

    def level_of(self, pcode: str) -> AreaLevel | None:
        if pcode == self.commune:
            return AreaLevel.COMMUNE
        if pcode == self.department:
            return AreaLevel.DEPARTMENT
        if pcode == self.region:
            return AreaLevel.REGION
        return None

    @property
    def pcodes(self) -> tuple[str, ...]:
        """Region first, commune last: the order in which overrides are applied."""
        return tuple(p for p in (self.region, self.department, self.commune) if p)


class Gazetteer(Protocol):
    """What the alert service needs to know about places."""

    def area_path(self, commune: str) -> AreaPath: ...

    def name(self, pcode: str) -> str: ...


@dataclass(frozen=True)
class StaticGazetteer:
    """Names and parents from a mapping (loaded from admin_units, or written in a test);
    anything missing falls back to the P-code itself and its prefix."""

    names: dict[str, str]
    parents: dict[str, str | None]

    def area_path(self, commune: str) -> AreaPath:
        department = self.parents.get(commune)
        if department is None:
            return AreaPath.from_pcode(commune)
        return AreaPath(commune, department, self.parents.get(department))

    def name(self, pcode: str) -> str:
        return self.names.get(pcode, pcode)


@dataclass(frozen=True)
class _UnitsGazetteer:
    """Adapts any object with `unit(pcode) -> (name, parent_pcode) | None` (the gateway's place matcher)."""

    source: object

    def area_path(self, commune: str) -> AreaPath:
        unit = self.source.unit(commune)
        department = unit.parent_pcode if unit else None
        if department is None:
            return AreaPath.from_pcode(commune)
        parent = self.source.unit(department)
        return AreaPath(commune, department, parent.parent_pcode if parent else None)

    def name(self, pcode: str) -> str:
        unit = self.source.unit(pcode)
        return unit.name if unit else pcode


def as_gazetteer(source: object) -> Gazetteer:
    """Accept a Gazetteer, or an object exposing `unit(pcode)` with `.name` and `.parent_pcode`."""
    return source if hasattr(source, "area_path") else _UnitsGazetteer(source)
