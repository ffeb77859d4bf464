"""Which communes neighbour which: the grid search against a brute-force one, the shared gazetteers
imported as an operator imports them (Ayerou and Ouattagouna across the border, Ayerou and Inatès
within Niger, no Maradi commune beside Mali), a rules file that adds and removes exactly its pairs,
and `ewg gazetteer neighbours` saying where each pair comes from."""

from __future__ import annotations

import asyncio
import json
import random
import shutil
from itertools import combinations

import pytest
from sqlalchemy import select

from alerts.neighbours import neighbour_pairs
from alerts.rules import load_rules
from gateway.config import SpilloverSettings
from gateway.gazetteer.readers import read_gazetteer_files
from gateway.kernel.geo import CommunePoints, cross_border_pairs, distance_km, nearest_km
from gateway.storage.adjacency import DEFAULT_CROSS_BORDER_KM, neighbours_of
from gateway.storage.db import create_engine, session_factory
from gateway.storage.gazetteer import import_batch
from gateway.storage.models import AdminUnit, Locality
from tests.support.cli import ewg
from tests.support.paths import REPO, SHARED_DATA, needs_shared

AYEROU, INATES, OUATTAGOUNA, GOROUOL, DESSA, BANIBANGOU = (
    "NE006002001", "NE006002002", "ML070104", "NE006011002", "NE006012003", "NE006004001")
SHARED_FILES = ("ner_adm3_gazetteer.csv", "mli_adm3_gazetteer.csv", "ner_pcodes_adm1_adm2_hdx_fixture.csv",
                "mli_pcodes_adm1_adm2_hdx_fixture.csv", "ner_renaloc_localities.csv")


def test_distance_is_the_great_circle():
    assert distance_km((0.0, 0.0), (0.0, 1.0)) == pytest.approx(111.2, abs=0.1)
    assert distance_km((14.77284, 0.89577), (15.17606, 0.90175)) == pytest.approx(44.8, abs=0.1)


def test_pairs_cross_a_border_only_and_within_the_distance():
    north = 10 / 111.2  # ten kilometres of latitude
    communes = [
        CommunePoints("NE1", "NE", ((14.0, 1.0),)),
        CommunePoints("NE2", "NE", ((14.0 + north, 1.0),)),  # 10 km, same country: not computed
        CommunePoints("ML1", "ML", ((14.0 - north, 1.0), (20.0, 1.0))),  # 10 km across the border
        CommunePoints("ML2", "ML", ((14.0 + 6 * north, 1.0),)),  # 50 km from NE2, 60 from NE1
        CommunePoints("ML3", "ML", ()),  # no coordinates: never a neighbour
    ]
    found = {pair: round(km, 1) for pair, km in cross_border_pairs(communes, 50.5).items()}
    assert found == {("ML1", "NE1"): 10.0, ("ML1", "NE2"): 20.0, ("ML2", "NE2"): 50.0}
    assert set(cross_border_pairs(communes, 61)) == {("ML1", "NE1"), ("ML1", "NE2"), ("ML2", "NE1"), ("ML2", "NE2")}
    assert cross_border_pairs(communes, 0) == {}


def test_the_grid_finds_what_comparing_every_pair_finds():
    draw = random.Random(21)
    communes = [CommunePoints(f"{country}{n}", country,
                              tuple((draw.uniform(13, 16), draw.uniform(-1, 4)) for _ in range(draw.randint(1, 6))))
                for n in range(40) for country in ("NE", "ML", "BF")]
    within = 35.0
    expected = {}
    for a, b in combinations(communes, 2):
        if a.country != b.country and (km := nearest_km(a.points, b.points)) <= within:
            expected[(min(a.pcode, b.pcode), max(a.pcode, b.pcode))] = round(km, 6)
    found = {pair: round(km, 6) for pair, km in cross_border_pairs(communes, within).items()}
    assert expected and found == expected


def test_the_default_distance_is_the_documented_one():
    assert SpilloverSettings().cross_border_km == DEFAULT_CROSS_BORDER_KM == 50.0
    assert "cross_border_km = 50 " in (REPO / "settings.toml").read_text()


# ---------------------------------------------------------------- the shared gazetteers

@pytest.fixture(scope="module")
def shared_db(tmp_path_factory, _sqlite_template) -> str:
    """The shared commune tables and locality register imported once (a few seconds) for the module."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not found at {SHARED_DATA}")
    path = tmp_path_factory.mktemp("shared") / "ewg.db"
    shutil.copy(_sqlite_template, path)
    url = f"sqlite+aiosqlite:///{path}"

    async def load() -> None:
        engine = create_engine(url)
        try:
            async with session_factory(engine)() as session, session.begin():
                await import_batch(session, read_gazetteer_files(SHARED_DATA / name for name in SHARED_FILES))
        finally:
            await engine.dispose()

    asyncio.run(load())
    return url


def query(url: str, work):  # noqa: ANN001, ANN201
    async def run():  # noqa: ANN202
        engine = create_engine(url)
        try:
            async with session_factory(engine)() as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def stored(url: str, commune: str) -> dict[str, tuple[str, float | None]]:
    async def work(session):  # noqa: ANN001, ANN202
        return {n.neighbour: (n.source, n.distance_km) for n in await neighbours_of(session, [commune])}

    return query(url, work)


@needs_shared
def test_ayerou_and_ouattagouna_are_neighbours_across_the_border(shared_db):
    assert stored(shared_db, AYEROU)[OUATTAGOUNA] == ("computed", 26.5)  # a locality of Ayerou to Ouattagouna
    assert stored(shared_db, OUATTAGOUNA)[AYEROU] == ("computed", 26.5)
    assert stored(shared_db, OUATTAGOUNA)[INATES] == ("computed", 22.6)


@needs_shared
def test_ayerou_and_inates_are_neighbours_within_niger(shared_db):
    assert stored(shared_db, AYEROU) == {OUATTAGOUNA: ("computed", 26.5), INATES: ("imported", 33.7),
                                         GOROUOL: ("imported", 51.0), DESSA: ("imported", 28.3)}
    assert stored(shared_db, INATES)[AYEROU] == ("imported", 33.7)


@needs_shared
def test_no_maradi_commune_neighbours_mali(shared_db):
    async def work(session):  # noqa: ANN001, ANN202
        maradi = list((await session.execute(select(AdminUnit.pcode).where(
            AdminUnit.level == 3, AdminUnit.pcode.like("NE004%")))).scalars())
        neighbours = await neighbours_of(session, maradi)
        points: dict[str, list] = {}
        for pcode, lat, lon in await session.execute(select(AdminUnit.pcode, AdminUnit.lat, AdminUnit.lon).where(
                AdminUnit.level == 3, AdminUnit.lat.is_not(None))):
            points.setdefault(pcode, []).append((lat, lon))
        for pcode, lat, lon in await session.execute(select(Locality.commune_pcode, Locality.lat, Locality.lon).where(
                Locality.commune_pcode.like("NE004%"), Locality.lat.is_not(None))):
            points[pcode].append((lat, lon))
        return maradi, neighbours, points

    maradi, neighbours, points = query(shared_db, work)
    assert len(maradi) == 47 and {n.commune for n in neighbours} == set(maradi)
    assert [n for n in neighbours if n.neighbour.startswith("ML")] == []
    # Not a close call: Maradi's nearest point is more than 300 km from any point of Mali.
    nearest = cross_border_pairs([CommunePoints(p, p[:2], tuple(pts)) for p, pts in points.items()
                                  if p.startswith(("NE004", "ML"))], 300)
    assert nearest == {}


@needs_shared
def test_a_rules_file_adds_and_removes_exactly_its_pairs(shared_db, tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    (rules / "neighbours.toml").write_text(f"""
[[neighbours.add]]
pair = ["{AYEROU}", "{BANIBANGOU}"]
reason = "the same herders' corridor"

[[neighbours.remove]]
pair = ["{GOROUOL}", "{AYEROU}"]
reason = "no road between them"

[[neighbours.add]]
pair = ["{AYEROU}", "BF130101"]
reason = "a partner's commune"
""")
    overrides = load_rules(rules).spillover.overrides

    async def work(session):  # noqa: ANN001, ANN202
        return await neighbour_pairs(session, AYEROU, overrides)

    pairs = query(shared_db, work)
    before = set(stored(shared_db, AYEROU))
    assert {p.neighbour for p in pairs if p.stands} == before - {GOROUOL} | {BANIBANGOU, "BF130101"}
    assert {(p.neighbour, p.source, p.where, p.removed_by) for p in pairs if p.where or p.removed_by} == {
        (BANIBANGOU, "rules", "rules/neighbours.toml:3", None), ("BF130101", "rules", "rules/neighbours.toml:11", None),
        (GOROUOL, "imported", None, "rules/neighbours.toml:7")}

    shown = ewg("gazetteer", "neighbours", AYEROU.lower(), db_url=shared_db, env={"EWG_RULES__PATH": str(rules)})
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith(f"Ayerou ({AYEROU}, NE): 5 neighbour(s); across a border within 50 km")
    expected = {
        "BF130101": ["(outside the gazetteer)", "BF", "-", "added by rules/neighbours.toml:11"],
        OUATTAGOUNA: ["Ouattagouna", "ML", "26.5 km (nearest points)", "computed"],
        BANIBANGOU: ["Banibangou", "NE", "added by rules/neighbours.toml:3"],
        INATES: ["Inatès", "NE", "33.7 km (centres)", "imported"],
        GOROUOL: ["Gorouol", "NE", "51.0 km (centres)", "imported", "REMOVED by rules/neighbours.toml:7"],
        DESSA: ["Dessa", "NE", "28.3 km (centres)", "imported"],
    }
    assert len(lines) == 1 + len(expected)
    for line in lines[1:]:
        pcode = line.split()[0]
        assert all(part in line for part in expected[pcode]), line

    as_json = ewg("gazetteer", "neighbours", AYEROU, "--json", db_url=shared_db, env={"EWG_RULES__PATH": str(rules)})
    rows = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert {row["neighbour"]: (row["source"], row["distance_km"], row["removed_by"]) for row in rows}[GOROUOL] == (
        "imported", 51.0, "rules/neighbours.toml:7")


def test_neighbours_of_an_unknown_commune_is_a_clear_error(db_url):
    shown = ewg("gazetteer", "neighbours", "NE999999999", db_url=db_url)
    assert (shown.returncode, shown.stderr.strip()) == (
        1, "ewg: unknown commune P-code 'NE999999999' (ewg gazetteer import first)")


def test_a_broken_rules_file_is_named_with_its_line(db_url, tmp_path):
    shown = ewg("gazetteer", "import", *(str(p) for p in sorted((REPO / "gateway/demo/places").glob("*.csv"))),
                db_url=db_url)
    assert shown.returncode == 0, shown.stderr
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    (rules / "neighbours.toml").write_text('\n[[neighbours.add]]\npair = ["NE006002001", "NE006002001"]\nreason = "x"\n')
    shown = ewg("gazetteer", "neighbours", AYEROU, db_url=db_url, env={"EWG_RULES__PATH": str(rules)})
    assert shown.returncode == 1
    assert "neighbours.toml:3: pair must be two different commune P-codes" in shown.stderr
    listed = ewg("gazetteer", "neighbours", AYEROU, db_url=db_url)
    assert listed.returncode == 0 and f"{OUATTAGOUNA}     Ouattagouna" in listed.stdout  # the demo gazetteer too
