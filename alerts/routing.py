"""Who receives an alert: the routing tree is data ([[route]] in the rules), walked here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from alerts.areas import AreaLevel, AreaPath
from alerts.rules import Route

_LOCAL_FIRST = {AreaLevel.COMMUNE: 0, AreaLevel.DEPARTMENT: 1, AreaLevel.REGION: 2}


@dataclass(frozen=True)
class Member:
    id: int
    phone: str
    name: str | None
    area_pcode: str
    role: str  # member, chair, authority
    lang: str


@dataclass(frozen=True)
class Recipient:
    member: Member
    area_level: AreaLevel
    reason: str  # why this member receives it: "commune level 1", "department corroborated", ...


def _trigger(route: Route, level: int, corroborated: bool, escalation_step: int) -> str | None:
    if route.min_level is not None and level >= route.min_level:
        return f"level {level}"
    if route.when_corroborated and corroborated:
        return "corroborated"
    if route.escalation_step is not None and escalation_step >= route.escalation_step:
        return f"escalation step {escalation_step}"
    return None


def route_alert(routes: Iterable[Route], path: AreaPath, members: Iterable[Member], *, level: int,
                corroborated: bool, escalation_step: int = 0) -> list[Recipient]:
    """Members of the commune, its department and region that a route selects, the commune
    first; a person sitting on several committees is listed once, at the most local one."""
    routes = tuple(routes)
    chosen: dict[str, Recipient] = {}
    candidates = sorted(
        ((path.level_of(m.area_pcode), m) for m in members if path.level_of(m.area_pcode) is not None),
        key=lambda pair: (_LOCAL_FIRST[pair[0]], pair[1].id),
    )
    for area_level, member in candidates:
        if member.phone in chosen:
            continue
        for route in routes:
            if route.area != area_level or member.role not in route.roles:
                continue
            trigger = _trigger(route, level, corroborated, escalation_step)
            if trigger:
                chosen[member.phone] = Recipient(member, area_level, f"{area_level.value} {trigger}")
                break
    return list(chosen.values())
