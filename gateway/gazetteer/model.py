"""What the gazetteer holds: administrative units and the localities of communes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

COMMUNE, DEPARTMENT, REGION = 3, 2, 1

# A locality register name "X (Y)" or "X/Y" carries two names, unless the second part is
# only a number or a descriptor ("BAZO (PUITS)", "INKADEWANE/OUEST", "SOUKOUMOUR (1)").
_SECOND_NAME = re.compile(r"^(?P<first>[^()/]+?)\s*(?:\((?P<paren>[^()]*)\)|/(?P<slash>[^()/]*))\s*$")
_DESCRIPTORS = frozenset({
    "puits", "puit", "forage", "ouest", "est", "nord", "sud", "centre", "village", "quartier",
    "campement", "hameau", "ecole", "marche", "administratif", "ancien", "nouveau", "i", "ii", "iii",
})

_PLACEHOLDERS = frozenset({"sans nom", "inconnu", "inconnue"})  # register rows without a usable name


@dataclass(frozen=True)
class Unit:
    """A region (level 1), department (2) or commune (3) with its OCHA P-code."""

    pcode: str
    level: int
    country: str  # "NE" or "ML"
    name: str  # official, accented
    parent_pcode: str | None = None
    alt_names: tuple[str, ...] = ()
    lat: float | None = None
    lon: float | None = None
    census_code: str | None = None  # Niger RENALOC "R-DD-CC"
    old_pcode: str | None = None  # Mali 2015 P-code
    neighbours: tuple[str, ...] = ()
    population: int | None = None
    ref_points: tuple[tuple[float, float], ...] = ()  # further (lat, lon) points (Mali: the centroid)


@dataclass(frozen=True)
class Place:
    """A village or locality; `name` is kept as the register writes it (it may hold two names)."""

    name: str
    commune_pcode: str
    local_code: str
    lat: float | None = None
    lon: float | None = None
    population: int | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return place_names(self.name)


@dataclass(frozen=True)
class ImportBatch:
    units: tuple[Unit, ...] = ()
    places: tuple[Place, ...] = field(default=())

    def merged(self, other: ImportBatch) -> ImportBatch:
        return ImportBatch(self.units + other.units, self.places + other.places)


def place_names(register_name: str) -> tuple[str, ...]:
    """The names a locality is known by: "AKOUEL (AKOYAL)" -> ("AKOUEL", "AKOYAL")."""
    if register_name.strip().lower() in _PLACEHOLDERS:
        return ()
    match = _SECOND_NAME.match(register_name.strip())
    if not match:
        return (register_name.strip(),)
    first = match["first"].strip()
    second = (match["paren"] if match["paren"] is not None else match["slash"]).strip()
    if not second or second.isdigit() or second.lower() in _DESCRIPTORS:
        return (first,) if first else (register_name.strip(),)
    return (first, second) if first else (second,)
