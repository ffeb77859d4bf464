"""Gazetteer: normalisation, file formats, place matching (demo data) and storage."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.demo.gazetteer import load_demo_batch
from gateway.gazetteer import (
    Gazetteer,
    GazetteerFormatError,
    ImportBatch,
    Place,
    Unit,
    read_gazetteer_file,
    read_gazetteer_files,
)
from gateway.gazetteer.model import place_names
from gateway.gazetteer.normalise import name_key, name_keys, split_words, token_key
from gateway.storage.db import create_engine, session_factory
from gateway.storage.gazetteer import census_to_pcode, import_batch, is_empty, load_gazetteer
from gateway.storage.models import AdminUnit, Base, Locality

BATCH = load_demo_batch()
GAZETTEER = Gazetteer(BATCH.units, BATCH.places)


def find(text: str, home: str | None = None):
    return GAZETTEER.find_place(list(name_keys(text)), home=home)


# -- normalisation -------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "key"), [
    ("Tillabéri", "tilaberi"), ("TILLABERY", "tilabery"), ("Birni N'Konni", "birninkoni"), ("Birni N’Konni", "birninkoni"),
    ("Kanan-Bakaché", "kananbakache"), ("gaaabi", "gabi"), ("Niamey III", "niamey3"), ("Niamey 3", "niamey3"),
    ("Commune IV", "comune4"), ("'Yan Bindiga", "yanbindiga"), ("ɗan ƙasa", "dankasa"), ("Maïyara", "maiyara"),
])
def test_name_key_ignores_case_accents_apostrophes_hyphens_and_repeats(text: str, key: str) -> None:
    assert name_key(text) == key


def test_digits_are_not_collapsed_and_letters_glued_to_digits_split() -> None:
    assert token_key("11") == "11"
    assert [("gabi12 12morts K7Q2 NE004006003")[s:e] for s, e in split_words("gabi12 12morts K7Q2 NE004006003")] == [
        "gabi", "12", "12", "morts", "K7Q2", "NE004006003"]


@pytest.mark.parametrize(("register_name", "names"), [
    ("AKOUEL (AKOYAL)", ("AKOUEL", "AKOYAL")), ("ABSECK/FINNA", ("ABSECK", "FINNA")),
    ("BAZO (PUITS)", ("BAZO",)), ("INKADEWANE/OUEST", ("INKADEWANE",)), ("SOUKOUMOUR (1)", ("SOUKOUMOUR",)),
    ("TAKOUDE", ("TAKOUDE",)), ("SANS NOM", ()),
])
def test_locality_register_names_give_both_names(register_name: str, names: tuple) -> None:
    assert place_names(register_name) == names


# -- readers -------------------------------------------------------------------------------

def test_demo_batch_has_communes_with_their_regions_and_departments() -> None:
    units = {unit.pcode: unit for unit in BATCH.units}
    gabi = units["NE004006003"]
    assert (gabi.name, gabi.level, gabi.country, gabi.parent_pcode, gabi.census_code) == (
        "Gabi", 3, "NE", "NE004006", "4-06-03")
    assert (units["NE004006"].name, units["NE004006"].parent_pcode, units["NE004"].name) == (
        "Madarounfa", "NE004", "Maradi")
    assert units["ML070303"].old_pcode == "ML070103"
    assert "Djenne Commune" not in units["ML050609"].alt_names and "Mopti Commune" in units["ML050609"].alt_names
    takoude = next(place for place in BATCH.places if place.name == "TAKOUDE")
    assert (takoude.commune_pcode, takoude.local_code, takoude.population) == ("NE004006003", "107", 2178)


def test_pcode_fixture_without_header_row(tmp_path: Path) -> None:
    path = tmp_path / "ner_fixture.csv"
    path.write_text("NER,1,NE004,Maradi,NER,2023-07-25\nNER,2,NE004006,Madarounfa,NE004,2023-07-25\n")
    batch = read_gazetteer_file(path)
    assert batch.units == (Unit("NE004", 1, "NE", "Maradi"), Unit("NE004006", 2, "NE", "Madarounfa", "NE004"))


def test_renaloc_localities_resolve_their_commune_by_census_code(tmp_path: Path) -> None:
    path = tmp_path / "renaloc.csv"
    path.write_text("region_code,region,dept_code,departement,commune_code,commune,loc_num,localite,pop_total,"
                    "menages,lat,lon,milieu,type_localite\n4,MARADI,06,MADAROUNFA,03,GABI,107,TAKOUDE,2178,319,"
                    "13.19132,7.05772,2,2\n")
    batch = read_gazetteer_file(path, {"4-06-03": "NE004006003"})
    assert batch.places == (Place("TAKOUDE", "NE004006003", "107", 13.19132, 7.05772, 2178),)
    with pytest.raises(GazetteerFormatError, match=r"renaloc.csv:2: unknown commune census code 4-06-03"):
        read_gazetteer_file(path)


@pytest.mark.parametrize(("content", "error"), [
    ("a,b,c\n1,2,3\n", r"bad.csv:1: unknown gazetteer format"),
    ("", r"bad.csv:1: empty file"),
    ("commune_pcode,local_code,name\nNE004006003,1\n", r"bad.csv:2: expected 3 fields, found 2"),
    ("commune_pcode,local_code,name,lat\nNE004006003,1,X,north\n", r"bad.csv:2: not a number: 'north'"),
    ("NER,3,NE004006003,Gabi,NE004006,2023\n", r"bad.csv:1: level must be 1 or 2"),
    ("adm1_pcode,adm1_fr,adm2_pcode,adm2_fr,adm3_pcode,adm3_fr,renaloc_code\n"
     "NE004,Maradi,NE004006,Madarounfa,NE005006003,Gabi,4-06-03\n", r"bad.csv:2: department P-code 'NE004006'"),
])
def test_bad_files_are_refused_with_file_and_line(tmp_path: Path, content: str, error: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(GazetteerFormatError, match=error):
        read_gazetteer_file(path)


def test_missing_file_is_a_format_error(tmp_path: Path) -> None:
    with pytest.raises(GazetteerFormatError, match=r"nothere.csv:0: cannot read file"):
        read_gazetteer_files([tmp_path / "nothere.csv"])


# -- matching ------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "home", "commune", "village", "errors"), [
    ("Gabi", None, "NE004006003", None, 0),
    ("GABI", None, "NE004006003", None, 0),
    ("gaaabi", None, "NE004006003", None, 0),
    ("Téra", None, "NE006011005", None, 0),
    ("tera", None, "NE006011005", None, 0),
    ("Tillabery", None, "NE006012007", None, 0),
    ("Tilaberi", None, "NE006012007", None, 0),
    ("Ayorou", None, "NE006002001", None, 0),
    ("Birni Nkonni", None, "NE005003003", None, 0),
    ("Konni", None, "NE005003003", None, 0),
    ("Timbuktu", None, "ML060506", None, 0),
    ("Niamey III", None, "NE008001003", None, 0),
    ("Niamey 3", None, "NE008001003", None, 0),
    ("Tahoua 2", None, "NE005013002", None, 0),
    ("Maradi I", None, "NE004007001", None, 0),
    ("Bamako Commune 4", None, "ML090104", None, 0),
    ("Bamako 4", None, "ML090104", None, 0),
    ("Commune IV", None, "ML090104", None, 0),
    ("NE004006003", None, "NE004006003", None, 0),
    ("ML070204", None, "ML070104", None, 0),  # Ouattagouna's 2015 P-code
    ("ML050609", None, "ML050609", None, 0),  # Mopti's 2021 code beats Hombori's 2015 one
    ("Takoude", None, "NE004006003", "Takoude", 0),
    ("Kongo Kire", None, "NE006002001", "Kongo Kire", 0),
    ("Labbezanga", None, "ML070104", "Labbezanga", 0),
    ("Lahiyaro", None, "NE004005003", "Lahiyaro", 0),
    ("guidan sory", None, "NE004005003", None, 1),
    ("ouatagona", None, "ML070104", None, 1),
    ("tombuctu", None, "ML060506", None, 2),
    ("zindigoru", None, "NE006011005", "Zindigori", 1),
    ("Tibiri", "NE004006003", "NE004005005", None, 0),
    ("Tibiri", "NE003008004", "NE003008004", None, 0),
    ("Bamba", "ML070303", "ML070201", None, 0),
    ("Bamba", "ML050609", "ML050501", None, 0),
    ("Tilemsi", "ML060506", "ML060214", None, 0),
    ("Safo", "NE004006003", "NE004006005", None, 0),  # Niger and Mali: the home country wins
    ("Safo", "ML070303", "ML020429", None, 0),
    ("Maradi", "NE004007002", "NE004007002", None, 0),
])
def test_find_place(text: str, home: str | None, commune: str, village: str | None, errors: int) -> None:
    mention = find(text, home)
    assert (mention.commune, mention.village, mention.errors) == (commune, village, errors)


@pytest.mark.parametrize(("text", "home", "candidates"), [
    ("Tibiri", None, ("NE003008004", "NE004005005")),
    ("Bamba", None, ("ML050501", "ML070201")),
    ("Bamba", "NE004006003", ("ML050501", "ML070201")),  # both outside the reporter's country
    ("Safo", None, ("ML020429", "NE004006005")),
    ("Niamey", None, ("NE008001001", "NE008001002", "NE008001003", "NE008001004", "NE008001005")),
])
def test_ambiguous_names_are_refused(text: str, home: str | None, candidates: tuple) -> None:
    mention = find(text, home)
    assert (mention.commune, mention.candidates) == (None, candidates)


@pytest.mark.parametrize("text", ["gaba", "xyzxyz", "moto", "abcdefghij", "ML999999", "NE004"])
def test_no_place(text: str) -> None:
    assert find(text) is None


def test_typos_only_in_names_of_six_letters_or_more() -> None:
    assert find("Gabu") is None  # Gabi has four letters: exact only
    assert find("Ayerau").commune == "NE006002001"


def test_corrections_must_be_unambiguous() -> None:
    units = [Unit("NE001", 1, "NE", "R"), Unit("NE001001", 2, "NE", "D", "NE001"),
             Unit("NE001001001", 3, "NE", "Kolaba", "NE001001"), Unit("NE001001002", 3, "NE", "Kolabi", "NE001001")]
    gazetteer = Gazetteer(units, aliases={})
    assert gazetteer.find_place(["kolabu"]).commune is None
    assert gazetteer.find_place(["kolaba"]).commune == "NE001001001"


def test_exact_commune_beats_village_and_a_named_village_of_it_is_kept() -> None:
    mention = find("Gabi Takoude")
    assert (mention.commune, mention.village, mention.tokens) == ("NE004006003", "Takoude", (0, 1))


def test_usable_and_alone_flags_restrict_tokens() -> None:
    keys = ["attaque", "gabi", "moto"]
    assert GAZETTEER.find_place(keys, usable=[True, False, True]) is None
    assert GAZETTEER.find_place(["niamey", "3"], alone=[True, False]).commune == "NE008001003"
    assert GAZETTEER.find_place(["3"], alone=[False]) is None


def test_administrative_lookups() -> None:
    assert GAZETTEER.commune("NE004006003").name == "Gabi"
    assert GAZETTEER.commune("ML070204").pcode == "ML070104"
    assert GAZETTEER.region_of("NE004006003").name == "Maradi"
    assert GAZETTEER.department_of("NE004006003").name == "Madarounfa"
    assert GAZETTEER.region_of("NE004").pcode == "NE004"
    assert GAZETTEER.department_of("NE004") is None
    with pytest.raises(KeyError):
        GAZETTEER.commune("NE999999999")
    assert GAZETTEER.resolve_commune("Birni N'Konni") == "NE005003003"
    assert GAZETTEER.resolve_commune("Gabi Moussa") is None


def test_search_lists_candidates_nearest_to_home_first() -> None:
    assert [c.pcode for c in GAZETTEER.search("Tibiri", home="NE003008004")] == ["NE003008004", "NE004005005"]
    assert [c.pcode for c in GAZETTEER.search("Tibiri", home="NE004006003")] == ["NE004005005", "NE003008004"]
    assert [(c.pcode, c.errors) for c in GAZETTEER.search("Tilabbery")] == [("NE006012007", 0)]
    assert [(c.pcode, c.village, c.errors) for c in GAZETTEER.search("Zindigoru")] == [
        ("NE006011005", "Zindigori", 1)]
    assert GAZETTEER.search("") == [] and GAZETTEER.search("qqqqqqqq") == []


# -- storage -------------------------------------------------------------------------------

async def test_import_and_load_round_trip_on_a_sqlite_file(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'gazetteer.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    sessions = session_factory(engine)
    try:
        async with sessions() as session:
            assert await is_empty(session)
        async with sessions() as session:
            async with session.begin():
                assert await import_batch(session, BATCH) == (len({u.pcode for u in BATCH.units}), len(BATCH.places))
        renamed = ImportBatch(
            units=(Unit("NE004006003", 3, "NE", "Gabi (new)", "NE004006", ("Gabbi",), census_code="4-06-03"),),
            places=(Place("TAKOUDE II", "NE004006003", "107", None, None, 2500),))
        async with sessions() as session:
            async with session.begin():
                await import_batch(session, renamed)  # re-import updates in place
        async with sessions() as session:
            assert not await is_empty(session)
            assert await session.get(AdminUnit, "NE004006003") is not None
            gazetteer = await load_gazetteer(session)
            assert (await census_to_pcode(session))["4-06-03"] == "NE004006003"
            localities = (await session.execute(Locality.__table__.select())).all()
        assert len(localities) == len(BATCH.places)
        assert gazetteer.commune("NE004006003").name == "Gabi (new)"
        assert gazetteer.commune("NE004006003").alt_names == ("Gabbi",)
        assert gazetteer.find_place(["takoude", "2"]).village == "Takoude Ii"
        assert gazetteer.find_place(["kongo", "kire"]).commune == "NE006002001"
        assert gazetteer.commune("ML070303").old_pcode == "ML070103"
        assert gazetteer.place_count == len(BATCH.places)
    finally:
        await engine.dispose()
