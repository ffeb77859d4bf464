"""Committee CSV import: a bad row names FILE.csv:LINE and nothing is imported."""

import pytest
from sqlalchemy import func, select

from alerts.committees import (
    CommitteeImportError,
    add_member,
    import_committees_csv,
    list_members,
    remove_member,
)
from gateway.storage.db import create_engine, session_factory
from gateway.storage.models import AdminUnit, Base, CommitteeMember

GOOD = """phone,name,area,role,lang
+227 96 00 00 01,Aissa,NE004006003,chair,fr
96000002,Moussa,NE004006003,member,ha
0022796000003,Prefet,NE004006,authority,FR
"""


@pytest.fixture
async def sessions(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    factory = session_factory(engine)
    async with factory() as session, session.begin():
        session.add_all([AdminUnit(pcode="NE004", level=1, country="NE", name="Tillaberi"),
                         AdminUnit(pcode="NE004006", level=2, country="NE", name="Kollo", parent_pcode="NE004"),
                         AdminUnit(pcode="NE004006003", level=3, country="NE", name="Gabi", parent_pcode="NE004006")])
    yield factory
    await engine.dispose()


async def test_import_normalises_numbers_and_is_idempotent(sessions, tmp_path):
    path = tmp_path / "committees.csv"
    path.write_text(GOOD)
    for _ in range(2):
        async with sessions() as session, session.begin():
            assert await import_committees_csv(session, path) == 3
    async with sessions() as session:
        members = await list_members(session)
    assert [(m.phone, m.area_pcode, m.role, m.lang) for m in members] == [
        ("+22796000003", "NE004006", "authority", "fr"),
        ("+22796000001", "NE004006003", "chair", "fr"),
        ("+22796000002", "NE004006003", "member", "ha"),
    ]


async def test_a_bad_row_names_file_and_line_and_nothing_is_imported(sessions, tmp_path):
    path = tmp_path / "committees.csv"
    path.write_text(GOOD + "12,Nobody,NE004006003,member,fr\n+22796000005,X,NE999,member,fr\n"
                    "+22796000006,Y,NE004,boss,fr\n+22796000007,Z,NE004,member,en\n+227 96 00 00 01,Dup,NE004006003,member,fr\n")
    async with sessions() as session, session.begin():
        with pytest.raises(CommitteeImportError) as caught:
            await import_committees_csv(session, path)
    errors = caught.value.errors
    assert [e.split(": ", 1)[0] for e in errors] == [f"committees.csv:{n}" for n in (5, 6, 7, 8, 9)]
    assert "unknown area P-code 'NE999'" in errors[1] and "role must be one of" in errors[2]
    assert "lang must be one of" in errors[3] and "same phone and area as line 2" in errors[4]
    assert "phone number" in errors[0]
    async with sessions() as session:
        assert (await session.execute(select(func.count()).select_from(CommitteeMember))).scalar_one() == 0


async def test_missing_column_is_refused(sessions, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("phone,name,area\n+22796000001,A,NE004\n")
    async with sessions() as session, session.begin():
        with pytest.raises(CommitteeImportError) as caught:
            await import_committees_csv(session, path)
    assert caught.value.errors == ["c.csv:1: missing column(s) role, lang (expected phone,name,area,role,lang)"]


async def test_add_and_remove(sessions):
    async with sessions() as session, session.begin():
        row = await add_member(session, "96 00 00 09", "Gouverneur", "ne004", "authority", "dje")
        assert (row.phone, row.area, row.lang) == ("+22796000009", "NE004", "dje")
        with pytest.raises(CommitteeImportError):
            await add_member(session, "96 00 00 09", "X", "NE004", "king")
    async with sessions() as session, session.begin():
        assert await remove_member(session, "+22796000009", "NE004") == 1
        assert await remove_member(session, "+22796000009") == 0
    async with sessions() as session:
        assert await list_members(session) == []
        assert len(await list_members(session, include_inactive=True)) == 1
