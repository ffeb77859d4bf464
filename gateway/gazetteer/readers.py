"""Read gazetteer files in the formats of shared/data/README.md, detected by their first row.

- Niger commune table (`adm3_pcode`, `renaloc_code`, ...) and Mali commune table (`adm3_pcode`,
  `pcode_2015`, ...): communes, plus the regions and departments they name.
- OCHA adm1/adm2 P-code fixtures (no header row): `NER,1,NE001,Agadez,NER,2023-07-25`.
- Niger's RENALOC locality register (`region_code, dept_code, commune_code, localite, ...`).
- Hand-entered localities (`commune_pcode, local_code, name[, lat, lon, population]`).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from gateway.gazetteer.model import COMMUNE, DEPARTMENT, REGION, ImportBatch, Place, Unit

COUNTRY_OF_ISO3 = {"NER": "NE", "MLI": "ML"}


class GazetteerFormatError(ValueError):
    """A gazetteer file that cannot be read; the message is "FILE:LINE: reason"."""


def read_gazetteer_file(path: str | Path, census_to_pcode: Mapping[str, str] | None = None) -> ImportBatch:
    """Read one file; RENALOC localities resolve their commune through `census_to_pcode`
    (census code "R-DD-CC" -> commune P-code, e.g. from units already imported)."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as error:
        raise GazetteerFormatError(f"{path}:0: cannot read file ({error})") from None
    if not rows:
        raise GazetteerFormatError(f"{path}:1: empty file")
    reader = _reader_for(path, rows[0])
    return reader(_Rows(path, rows), census_to_pcode or {})


def read_gazetteer_files(paths: Iterable[str | Path],
                         census_to_pcode: Mapping[str, str] | None = None) -> ImportBatch:
    """Read several files as one batch: P-code lists first, then commune tables (whose
    accented official names win over the lists' plain ones), then localities, so that a
    locality register can resolve its communes through the tables of the same call."""
    ordered = sorted(paths, key=_reading_order)
    batch = ImportBatch()
    for path in ordered:
        mapping = {**(census_to_pcode or {}), **census_mapping(batch.units)}
        batch = batch.merged(read_gazetteer_file(path, mapping))
    return batch


def census_mapping(units: Iterable[Unit]) -> dict[str, str]:
    return {unit.census_code: unit.pcode for unit in units if unit.census_code}


class _Rows:
    """The data rows of a file with their line numbers, and errors that name them."""

    def __init__(self, path: Path, rows: list[list[str]]) -> None:
        self.path = path
        self.rows = rows

    def error(self, line: int, reason: str) -> GazetteerFormatError:
        return GazetteerFormatError(f"{self.path}:{line}: {reason}")

    def records(self) -> Iterable[tuple[int, dict[str, str]]]:
        header = [name.strip() for name in self.rows[0]]
        for index, row in enumerate(self.rows[1:], start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise self.error(index, f"expected {len(header)} fields, found {len(row)}")
            yield index, {name: cell.strip() for name, cell in zip(header, row, strict=True)}


_NIGER_COMMUNES = {"adm1_pcode", "adm1_fr", "adm2_pcode", "adm2_fr", "adm3_pcode", "adm3_fr", "renaloc_code"}
_MALI_COMMUNES = {"adm1_pcode", "adm1_fr", "adm2_pcode", "adm2_fr", "adm3_pcode", "adm3_fr", "pcode_2015"}
_RENALOC = {"region_code", "dept_code", "commune_code", "loc_num", "localite"}
_LOCALITIES = {"commune_pcode", "local_code", "name"}


def _reading_order(path: str | Path) -> int:
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            first_row = next(csv.reader(handle), [])
    except OSError:
        return 0  # read first, to report the error
    header = {name.strip() for name in first_row}
    if _RENALOC <= header or _LOCALITIES <= header:
        return 2
    return 0 if first_row and first_row[0].strip() in COUNTRY_OF_ISO3 else 1


def _reader_for(path: Path, first_row: list[str]) -> Callable[[_Rows, Mapping[str, str]], ImportBatch]:
    header = {name.strip() for name in first_row}
    if _NIGER_COMMUNES <= header:
        return _read_niger_communes
    if _MALI_COMMUNES <= header:
        return _read_mali_communes
    if _RENALOC <= header:
        return _read_renaloc
    if _LOCALITIES <= header:
        return _read_localities
    if len(first_row) >= 5 and first_row[0].strip() in COUNTRY_OF_ISO3 and first_row[1].strip().isdigit():
        return _read_pcode_fixture
    raise GazetteerFormatError(
        f"{path}:1: unknown gazetteer format (header {','.join(first_row[:6])!r}); expected a Niger or "
        "Mali commune table, a RENALOC locality register, a locality list or an adm1/adm2 P-code list")


def _read_niger_communes(rows: _Rows, _mapping: Mapping[str, str]) -> ImportBatch:
    return _read_communes(rows, "NE", _niger_extras)


def _read_mali_communes(rows: _Rows, _mapping: Mapping[str, str]) -> ImportBatch:
    return _read_communes(rows, "ML", _mali_extras)


def _niger_extras(record: dict[str, str], line: int, rows: _Rows) -> dict:
    return {
        "census_code": record["renaloc_code"] or None,
        "lat": _float(record.get("lat_popweighted"), line, rows),
        "lon": _float(record.get("lon_popweighted"), line, rows),
        "population": _int(record.get("pop_rgph2012"), line, rows),
        "neighbours": _codes(record.get("neighbours_approx")),
        "extra_names": (),
    }


def _mali_extras(record: dict[str, str], line: int, rows: _Rows) -> dict:
    centroid = (_float(record.get("centroid_lat"), line, rows), _float(record.get("centroid_lon"), line, rows))
    return {
        "old_pcode": record["pcode_2015"] or None,
        "lat": _float(record.get("inner_lat") or record.get("centroid_lat"), line, rows),
        "lon": _float(record.get("inner_lon") or record.get("centroid_lon"), line, rows),
        "neighbours": _codes(record.get("neighbours")),
        # The inner point is the commune's place on a map; its centroid is a second point for distances.
        "ref_points": (centroid,) if None not in centroid else (),
        "extra_names": (record.get("adm3_alt1", ""), record.get("adm3_alt2", ""), record.get("name_2015", "")),
    }


def _read_communes(rows: _Rows, country: str, extras: Callable[[dict, int, _Rows], dict]) -> ImportBatch:
    regions: dict[str, Unit] = {}
    departments: dict[str, Unit] = {}
    communes: list[Unit] = []
    for line, record in rows.records():
        pcode = record["adm3_pcode"]
        if not pcode.startswith(country) or not pcode[2:].isdigit():
            raise rows.error(line, f"bad commune P-code {pcode!r} (expected {country} and digits)")
        if not record["adm3_fr"]:
            raise rows.error(line, "empty commune name (adm3_fr)")
        if not record["adm2_pcode"] or not pcode.startswith(record["adm2_pcode"]):
            raise rows.error(line, f"department P-code {record['adm2_pcode']!r} is not a prefix of {pcode}")
        if not record["adm2_pcode"].startswith(record["adm1_pcode"]) or not record["adm1_pcode"]:
            raise rows.error(line, f"region P-code {record['adm1_pcode']!r} is not a prefix of {record['adm2_pcode']}")
        regions.setdefault(record["adm1_pcode"], Unit(record["adm1_pcode"], REGION, country, record["adm1_fr"]))
        departments.setdefault(record["adm2_pcode"], Unit(
            record["adm2_pcode"], DEPARTMENT, country, record["adm2_fr"], parent_pcode=record["adm1_pcode"]))
        extra = extras(record, line, rows)
        names = (record.get("adm3_ascii", ""), record.get("adm3_ref", ""), *extra.pop("extra_names"))
        communes.append(Unit(
            pcode=pcode, level=COMMUNE, country=country, name=record["adm3_fr"],
            parent_pcode=record["adm2_pcode"], alt_names=_alternatives(record["adm3_fr"], names), **extra))
    return ImportBatch(units=(*regions.values(), *departments.values(), *communes))


def _read_pcode_fixture(rows: _Rows, _mapping: Mapping[str, str]) -> ImportBatch:
    units = []
    for line, row in enumerate(rows.rows, start=1):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < 5:
            raise rows.error(line, f"expected at least 5 fields (iso3, level, pcode, name, parent), found {len(row)}")
        iso3, level, pcode, name, parent = (cell.strip() for cell in row[:5])
        country = COUNTRY_OF_ISO3.get(iso3)
        if country is None:
            raise rows.error(line, f"unknown country {iso3!r} (expected NER or MLI)")
        if level not in {"1", "2"}:
            raise rows.error(line, f"level must be 1 or 2, not {level!r}")
        if not pcode.startswith(country) or not name:
            raise rows.error(line, f"bad P-code {pcode!r} or empty name")
        units.append(Unit(pcode, int(level), country, name, parent_pcode=parent if level == "2" else None))
    return ImportBatch(units=tuple(units))


def _read_renaloc(rows: _Rows, census_to_pcode: Mapping[str, str]) -> ImportBatch:
    places = []
    for line, record in rows.records():
        try:
            census = f"{int(record['region_code'])}-{int(record['dept_code']):02d}-{int(record['commune_code']):02d}"
        except ValueError:
            raise rows.error(line, "region_code, dept_code and commune_code must be numbers") from None
        commune = census_to_pcode.get(census)
        if commune is None:
            raise rows.error(line, f"unknown commune census code {census} ({record.get('commune', '')}): "
                                   "import the Niger commune table first or in the same batch")
        if not record["localite"]:
            raise rows.error(line, "empty locality name (localite)")
        places.append(Place(
            name=record["localite"], commune_pcode=commune, local_code=record["loc_num"],
            lat=_float(record.get("lat"), line, rows), lon=_float(record.get("lon"), line, rows),
            population=_int(record.get("pop_total"), line, rows)))
    return ImportBatch(places=tuple(places))


def _read_localities(rows: _Rows, _mapping: Mapping[str, str]) -> ImportBatch:
    places = []
    for line, record in rows.records():
        if not record["commune_pcode"] or not record["local_code"] or not record["name"]:
            raise rows.error(line, "commune_pcode, local_code and name are required")
        places.append(Place(
            name=record["name"], commune_pcode=record["commune_pcode"], local_code=record["local_code"],
            lat=_float(record.get("lat"), line, rows), lon=_float(record.get("lon"), line, rows),
            population=_int(record.get("population"), line, rows)))
    return ImportBatch(places=tuple(places))


def _alternatives(official: str, names: Iterable[str]) -> tuple[str, ...]:
    seen = {official}
    out = []
    for name in names:
        name = name.strip()
        if name and name not in seen:
            seen.add(name)
            out.append(name)
    return tuple(out)


def _codes(cell: str | None) -> tuple[str, ...]:
    return tuple(code.strip() for code in (cell or "").split(";") if code.strip())


def _float(cell: str | None, line: int, rows: _Rows) -> float | None:
    if not cell:
        return None
    try:
        return float(cell)
    except ValueError:
        raise rows.error(line, f"not a number: {cell!r}") from None


def _int(cell: str | None, line: int, rows: _Rows) -> int | None:
    value = _float(cell, line, rows)
    return None if value is None else int(value)
