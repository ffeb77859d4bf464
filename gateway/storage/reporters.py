"""Focal points: add, approve, list, import from the committee secretary's CSV."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.kernel.i18n import LANGUAGES, normalise_lang
from gateway.kernel.phones import PhoneError, normalise_phone
from gateway.storage.models import Reporter

REPORTER_COLUMNS = ("phone", "name", "commune", "lang")
STATUSES = ("approved", "pending", "blocked", "unregistered")


class CsvImportError(ValueError):
    """Lines of `FILE:LINE: reason`; nothing from the file was imported."""

    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class ReporterRow:
    phone: str
    name: str | None
    commune_pcode: str
    lang: str


def read_reporters_csv(path: Path, resolve_commune, default_region: str, regions) -> list[ReporterRow]:
    """Validate every row first; any bad row -> CsvImportError listing them all."""
    errors: list[str] = []
    rows: list[ReporterRow] = []
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise CsvImportError([f"{path}:0: cannot read ({exc.strerror})"]) from None
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REPORTER_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise CsvImportError([f"{path}:1: missing column(s) {', '.join(missing)}; expected {','.join(REPORTER_COLUMNS)}"])
        seen: dict[str, int] = {}
        for record in reader:
            line = reader.line_num
            try:
                phone = normalise_phone(record["phone"] or "", default_region, regions)
            except PhoneError as exc:
                errors.append(f"{path}:{line}: {exc}")
                continue
            if phone in seen:
                errors.append(f"{path}:{line}: phone also on line {seen[phone]}")
                continue
            seen[phone] = line
            commune = resolve_commune((record["commune"] or "").strip())
            if commune is None:
                errors.append(f"{path}:{line}: unknown commune {record['commune']!r}")
                continue
            lang = (record["lang"] or "fr").strip().lower()
            if lang not in LANGUAGES:
                errors.append(f"{path}:{line}: language must be fr, ha or dje, not {record['lang']!r}")
                continue
            rows.append(ReporterRow(phone, (record["name"] or "").strip() or None, commune, lang))
    if errors:
        raise CsvImportError(errors)
    return rows


async def upsert_reporter(session: AsyncSession, phone: str, *, name: str | None, commune: str | None,
                          lang: str, status: str, now: datetime) -> Reporter:
    reporter = (await session.execute(select(Reporter).where(Reporter.phone == phone))).scalar_one_or_none()
    if reporter is None:
        reporter = Reporter(phone=phone, created_at=now)
        session.add(reporter)
    reporter.name = (name or "")[:120] or reporter.name
    reporter.commune_pcode = commune or reporter.commune_pcode
    reporter.lang = normalise_lang(lang)
    reporter.status = status
    await session.flush()
    return reporter


async def set_status(session: AsyncSession, phone: str, status: str) -> Reporter | None:
    reporter = (await session.execute(select(Reporter).where(Reporter.phone == phone))).scalar_one_or_none()
    if reporter is not None:
        reporter.status = status
    return reporter


async def list_reporters(session: AsyncSession, status: str | None = None) -> list[Reporter]:
    query = select(Reporter).order_by(Reporter.id)
    if status:
        query = query.where(Reporter.status == status)
    return list((await session.execute(query)).scalars())
