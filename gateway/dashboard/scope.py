"""Scope: the area a dashboard user or an API token sees and acts on, as P-codes of regions,
departments or communes. P-codes nest (NE004 ⊃ NE004006 ⊃ NE004006003), so an area covers every
P-code it prefixes. No scope means everywhere."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.gazetteer.normalise import fold
from gateway.storage.models import AdminUnit

MAX_AREAS = 50


class ScopeError(ValueError):
    """An area that names no unit, or names several; the message says which, in one line."""


@dataclass(frozen=True)
class Scope:
    pcodes: tuple[str, ...] | None = None  # None: everywhere

    @classmethod
    def of(cls, stored: list | None) -> Scope:
        return cls(None if stored is None else tuple(str(p) for p in stored))

    @property
    def everywhere(self) -> bool:
        return self.pcodes is None

    def covers(self, pcode: str | None) -> bool:
        if self.pcodes is None:
            return True
        return bool(pcode) and any(pcode.startswith(area) for area in self.pcodes)

    def where(self, column: ColumnElement) -> ColumnElement | None:
        """A SQL condition keeping rows whose P-code column lies in the scope (None: no condition)."""
        if self.pcodes is None:
            return None
        if not self.pcodes:
            return false()
        return or_(*(column.startswith(area, autoescape=True) for area in self.pcodes))

    def within(self, other: Scope) -> bool:
        """Whether everything this scope covers is covered by `other` (granting no more than one has)."""
        if other.pcodes is None:
            return True
        if self.pcodes is None:
            return False
        return all(other.covers(area) for area in self.pcodes)

    def label(self) -> str:
        return ", ".join(self.pcodes) if self.pcodes is not None else "*"


EVERYWHERE = Scope()


async def resolve_areas(session: AsyncSession, words: Iterable[str]) -> tuple[str, ...]:
    """P-codes for the given P-codes or unit names (accents and case ignored); ScopeError names the
    first that matches no unit, or several."""
    wanted = [w.strip() for w in words if w and w.strip()]
    if not wanted:
        raise ScopeError("a scope needs at least one region, department or commune (name or P-code)")
    if len(wanted) > MAX_AREAS:
        raise ScopeError(f"a scope holds at most {MAX_AREAS} areas")
    units = (await session.execute(select(AdminUnit.pcode, AdminUnit.name, AdminUnit.level))).all()
    by_pcode = {pcode.upper(): pcode for pcode, _, _ in units}
    by_name: dict[str, list[tuple[int, str]]] = {}
    for pcode, name, level in units:
        by_name.setdefault(fold(name), []).append((level, pcode))
    found: list[str] = []
    for word in wanted:
        if word.upper() in by_pcode:
            found.append(by_pcode[word.upper()])
            continue
        matches = sorted(by_name.get(fold(word), []))
        if not matches:
            raise ScopeError(f"unknown area {word[:60]!r}: give a region, department or commune name or P-code")
        # A region and its chief town's commune share a name: the widest unit is meant.
        widest = [pcode for level, pcode in matches if level == matches[0][0]]
        if len(widest) > 1:
            raise ScopeError(f"area {word[:60]!r} names several units ({', '.join(widest)}): give the P-code")
        found.append(widest[0])
    return tuple(dict.fromkeys(found))
