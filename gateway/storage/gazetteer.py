"""Gazetteer storage: import units and localities (upsert), load the in-memory Gazetteer."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.gazetteer.matcher import Gazetteer
from gateway.gazetteer.model import ImportBatch, Place, Unit
from gateway.storage.adjacency import DEFAULT_CROSS_BORDER_KM, refresh_adjacency
from gateway.storage.models import AdminUnit, Locality

CHUNK = 2000  # rows per INSERT: well under SQLite's 32,766 bound parameters at 8-12 columns


async def import_batch(session: AsyncSession, batch: ImportBatch,
                       cross_border_km: float = DEFAULT_CROSS_BORDER_KM) -> tuple[int, int]:
    """Insert or update units (by P-code) then localities (by commune and local code), then rebuild
    the neighbouring communes from everything stored (gateway.storage.adjacency).
    Returns (units, localities) written. The caller commits."""
    insert = _insert_for(session)
    # One row per key (the last read wins): an upsert may not touch a row twice.
    units = sorted({unit.pcode: unit for unit in batch.units}.values(), key=lambda unit: unit.level)
    places = list({(place.commune_pcode, place.local_code): place for place in batch.places}.values())
    for chunk in _chunks([_unit_row(unit) for unit in units]):
        statement = insert(AdminUnit).values(chunk)
        await session.execute(statement.on_conflict_do_update(
            index_elements=[AdminUnit.pcode],
            set_={column: statement.excluded[column] for column in chunk[0] if column != "pcode"}))
    for chunk in _chunks([_place_row(place) for place in places]):
        statement = insert(Locality).values(chunk)
        await session.execute(statement.on_conflict_do_update(
            index_elements=[Locality.commune_pcode, Locality.local_code],
            set_={column: statement.excluded[column] for column in ("name", "lat", "lon", "population")}))
    await refresh_adjacency(session, cross_border_km)
    return len(units), len(places)


async def load_gazetteer(session: AsyncSession) -> Gazetteer:
    units = [_unit(row) for row in (await session.scalars(select(AdminUnit))).all()]
    result = await session.execute(select(
        Locality.name, Locality.commune_pcode, Locality.local_code, Locality.lat, Locality.lon, Locality.population))
    return Gazetteer(units, [Place(*row) for row in result.all()])


async def is_empty(session: AsyncSession) -> bool:
    return (await session.scalar(select(func.count()).select_from(AdminUnit))) == 0


async def census_to_pcode(session: AsyncSession) -> dict[str, str]:
    """Census code -> commune P-code of stored communes, for importing a locality register alone."""
    rows = await session.execute(select(AdminUnit.census_code, AdminUnit.pcode).where(AdminUnit.census_code.is_not(None)))
    return {census: pcode for census, pcode in rows.all()}


def _insert_for(session: AsyncSession):  # the dialect's insert()
    dialect = session.bind.dialect.name
    if dialect == "sqlite":
        return sqlite.insert
    if dialect == "postgresql":
        return postgresql.insert
    raise ValueError(f"unsupported database dialect {dialect!r}")


def _chunks(rows: Sequence[dict]) -> Iterable[list[dict]]:
    for start in range(0, len(rows), CHUNK):
        yield list(rows[start:start + CHUNK])


def _unit_row(unit: Unit) -> dict:
    return {"pcode": unit.pcode, "level": unit.level, "country": unit.country, "name": unit.name,
            "parent_pcode": unit.parent_pcode, "alt_names": list(unit.alt_names), "lat": unit.lat, "lon": unit.lon,
            "census_code": unit.census_code, "old_pcode": unit.old_pcode, "neighbours": list(unit.neighbours),
            "population": unit.population, "ref_points": [list(point) for point in unit.ref_points] or None}


def _place_row(place: Place) -> dict:
    return {"commune_pcode": place.commune_pcode, "local_code": place.local_code, "name": place.name,
            "lat": place.lat, "lon": place.lon, "population": place.population}


def _unit(row: AdminUnit) -> Unit:
    return Unit(pcode=row.pcode, level=row.level, country=row.country, name=row.name, parent_pcode=row.parent_pcode,
                alt_names=tuple(row.alt_names or ()), lat=row.lat, lon=row.lon, census_code=row.census_code,
                old_pcode=row.old_pcode, neighbours=tuple(row.neighbours or ()), population=row.population,
                ref_points=tuple((lat, lon) for lat, lon in row.ref_points or ()))
