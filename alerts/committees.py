"""Committee members (alert recipients): CSV import, add, list, remove.

CSV columns `phone,name,area,role,lang` (interface.md). A bad row is reported as
`FILE.csv:LINE: reason` and nothing from that file is imported."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.rules import ROLES
from gateway.kernel.i18n import LANGUAGES
from gateway.kernel.phones import PhoneError, normalise_phone
from gateway.storage.dialects import conflict_insert, dialect_of
from gateway.storage.models import AdminUnit, CommitteeMember

COLUMNS = ("phone", "name", "area", "role", "lang")
ACCEPTED = ("NE", "ML", "BF", "NG")


class CommitteeImportError(ValueError):
    """Rows or values that cannot be imported; each error names the file and line, or the value."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class MemberRow:
    phone: str  # E.164
    name: str | None
    area: str
    role: str
    lang: str


def _member_row(raw: dict[str, str], known_areas: set[str], default_region: str,
                accepted_regions: Sequence[str]) -> MemberRow:
    """One validated row; ValueError with the reason otherwise."""
    try:
        phone = normalise_phone(raw.get("phone") or "", default_region, tuple(accepted_regions))
    except PhoneError as exc:
        raise ValueError(str(exc)) from None
    area = (raw.get("area") or "").strip().upper()
    if area not in known_areas:
        raise ValueError(f"unknown area P-code {area!r} (import the gazetteer first)")
    role = (raw.get("role") or "").strip().lower()
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(sorted(ROLES))}, got {role!r}")
    lang = (raw.get("lang") or "fr").strip().lower()
    if lang not in LANGUAGES:
        raise ValueError(f"lang must be one of {', '.join(LANGUAGES)}, got {lang!r}")
    name = (raw.get("name") or "").strip() or None
    return MemberRow(phone, name, area, role, lang)


def parse_committee_csv(text: str, file_label: str, known_areas: set[str], default_region: str = "NE",
                        accepted_regions: Sequence[str] = ACCEPTED) -> list[MemberRow]:
    """Validate every row; raise CommitteeImportError listing each bad one."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise CommitteeImportError([f"{file_label}:1: missing column(s) {', '.join(missing)} (expected {','.join(COLUMNS)})"])
    reader.fieldnames = header
    rows, errors, seen = [], [], {}
    for raw in reader:
        line = reader.line_num
        if not any((value or "").strip() for value in raw.values() if isinstance(value, str)):
            continue
        try:
            row = _member_row(raw, known_areas, default_region, accepted_regions)
        except ValueError as exc:
            errors.append(f"{file_label}:{line}: {exc}")
            continue
        if (row.phone, row.area) in seen:
            errors.append(f"{file_label}:{line}: same phone and area as line {seen[(row.phone, row.area)]}")
            continue
        seen[(row.phone, row.area)] = line
        rows.append(row)
    if errors:
        raise CommitteeImportError(errors)
    return rows


async def known_area_pcodes(session: AsyncSession) -> set[str]:
    return set((await session.execute(select(AdminUnit.pcode))).scalars())


async def upsert_members(session: AsyncSession, rows: list[MemberRow]) -> int:
    """Insert or update (by phone and area); re-importing the same file changes nothing."""
    if not rows:
        return 0
    values = [{"phone": r.phone, "name": r.name, "area_pcode": r.area, "role": r.role, "lang": r.lang,
               "active": True} for r in rows]
    statement = conflict_insert(dialect_of(session), CommitteeMember).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=["phone", "area_pcode"],
        set_={"name": statement.excluded.name, "role": statement.excluded.role, "lang": statement.excluded.lang,
              "active": True},
    )
    await session.execute(statement)
    return len(rows)


async def import_committees_csv(session: AsyncSession, path: str | Path, default_region: str = "NE",
                                accepted_regions: Sequence[str] = ACCEPTED) -> int:
    """Import a committee CSV file; all rows or none. Returns the number of rows imported."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CommitteeImportError([f"{path}: cannot read: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise CommitteeImportError([f"{path}:1: not UTF-8 text (save the spreadsheet as CSV UTF-8)"]) from None
    rows = parse_committee_csv(text, path.name, await known_area_pcodes(session), default_region,
                               accepted_regions)
    return await upsert_members(session, rows)


async def add_member(session: AsyncSession, phone: str, name: str | None, area: str, role: str, lang: str = "fr",
                     default_region: str = "NE", accepted_regions: Sequence[str] = ACCEPTED) -> MemberRow:
    raw = {"phone": phone, "name": name or "", "area": area, "role": role, "lang": lang}
    try:
        row = _member_row(raw, await known_area_pcodes(session), default_region, accepted_regions)
    except ValueError as exc:
        raise CommitteeImportError([str(exc)]) from None
    await upsert_members(session, [row])
    return row


async def list_members(session: AsyncSession, area: str | None = None,
                       include_inactive: bool = False) -> list[CommitteeMember]:
    query = select(CommitteeMember).order_by(CommitteeMember.area_pcode, CommitteeMember.role, CommitteeMember.id)
    if not include_inactive:
        query = query.where(CommitteeMember.active.is_(True))
    if area:
        query = query.where(CommitteeMember.area_pcode == area.strip().upper())
    return list((await session.execute(query)).scalars())


async def remove_member(session: AsyncSession, phone: str, area: str | None = None, default_region: str = "NE",
                        accepted_regions: Sequence[str] = ACCEPTED) -> int:
    """Deactivate (not delete: notifications refer to members) one number, in one area or all."""
    try:
        e164 = normalise_phone(phone, default_region, tuple(accepted_regions))
    except PhoneError as exc:
        raise CommitteeImportError([str(exc)]) from None
    statement = (
        select(CommitteeMember).where(CommitteeMember.phone == e164, CommitteeMember.active.is_(True))
    )
    if area:
        statement = statement.where(CommitteeMember.area_pcode == area.strip().upper())
    members = list((await session.execute(statement)).scalars())
    for member in members:
        member.active = False
    return len(members)

