"""Small views of the gazetteer that the app, the alert service and the CLI share."""

from __future__ import annotations

from gateway.gazetteer.matcher import Gazetteer


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
