"""Small views of the gazetteer that the app, the alert service and the CLI share."""

from __future__ import annotations

from collections.abc import Iterable
from difflib import get_close_matches

from gateway.gazetteer.matcher import Gazetteer
from gateway.gazetteer.model import Unit
from gateway.gazetteer.normalise import name_key, name_keys


def commune_name(gazetteer: Gazetteer, pcode: str | None) -> str | None:
    unit = gazetteer.unit(pcode) if pcode else None
    return unit.name if unit else None


def area_name(gazetteer: Gazetteer, pcode: str) -> str | None:
    """The name of a commune, department or region."""
    unit = gazetteer.unit(pcode)
    return unit.name if unit else None


def known_area_codes(gazetteer: Gazetteer) -> frozenset[str]:
    """Every commune, department and region P-code: what rules and committees may name."""
    codes: set[str] = set()
    for commune in gazetteer.communes():
        codes.add(commune.pcode)
        for parent in (gazetteer.department_of(commune.pcode), gazetteer.region_of(commune.pcode)):
            if parent is not None:
                codes.add(parent.pcode)
    return frozenset(codes)


def ussd_search(gazetteer: Gazetteer):
    """The USSD menu's place search: (typed text, home) -> [(pcode, commune name, village)]."""

    def search(text: str, home: str | None) -> list[tuple[str, str, str | None]]:
        return [(c.pcode, c.name, c.village) for c in gazetteer.search(text, home)]

    return search


class PlaceNameError(ValueError):
    """A name or P-code that designates no area, or several; the message says which and why."""


def commune_code(gazetteer: Gazetteer, text: str) -> str:
    """The commune a P-code or a commune's name designates, exactly (accents and case ignored).
    PlaceNameError names the candidates of an ambiguous name, or the nearest communes of a near miss."""
    key = name_key(text)
    if (pcode := gazetteer.pcode_of(key)) is not None:
        return pcode
    mention = gazetteer.find_place(name_keys(text))
    exact = (mention is not None and mention.errors == 0 and mention.kind != "village"
             and len(mention.tokens) == len(name_keys(text)))
    if exact and mention.commune is not None:
        return mention.commune
    if exact:
        named = ", ".join(f"{pcode} ({commune_name(gazetteer, pcode)})" for pcode in mention.candidates)
        raise PlaceNameError(f"commune {text[:60]!r} names several communes: {named}; give the P-code")
    near = [f"{c.name} ({c.pcode})" for c in gazetteer.search(text, limit=3) if c.kind != "village"]
    raise PlaceNameError(f"unknown commune {text[:60]!r}" + _did_you_mean(near or _close(key, gazetteer.communes())))


def area_code(gazetteer: Gazetteer, text: str) -> str:
    """The region or department a P-code or a name designates (a region before a department of the
    same name). PlaceNameError names the candidates of an ambiguous name and suggests near misses."""
    areas = _areas(gazetteer)
    wanted = text.strip().upper()
    if wanted in areas:
        return wanted
    key = name_key(text)
    matches = sorted((unit.level, unit.pcode) for unit in areas.values() if name_key(unit.name) == key)
    widest = [pcode for level, pcode in matches if level == matches[0][0]] if matches else []
    if len(widest) == 1:
        return widest[0]
    if widest:
        named = ", ".join(f"{pcode} ({areas[pcode].name})" for pcode in widest)
        raise PlaceNameError(f"area {text[:60]!r} names several areas: {named}; give the P-code")
    raise PlaceNameError(f"unknown region or department {text[:60]!r}" + _did_you_mean(_close(key, areas.values())))


def _close(key: str, units: Iterable[Unit]) -> list[str]:
    """Units whose name is spelt nearly as typed (a letter or two off)."""
    by_key = {name_key(unit.name): unit for unit in sorted(units, key=lambda u: (-u.level, u.pcode))}
    return [f"{by_key[k].name} ({by_key[k].pcode})" for k in get_close_matches(key, list(by_key), n=3, cutoff=0.7)]


def _did_you_mean(names: list[str]) -> str:
    return f"; did you mean {' or '.join(names)}?" if names else ""


def _areas(gazetteer: Gazetteer) -> dict[str, Unit]:
    found: dict[str, Unit] = {}
    for commune in gazetteer.communes():
        for parent in (gazetteer.department_of(commune.pcode), gazetteer.region_of(commune.pcode)):
            if parent is not None:
                found[parent.pcode] = parent
    return found
