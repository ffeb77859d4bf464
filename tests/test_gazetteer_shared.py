"""The full reference gazetteer (../shared/data): every commune table, the P-code lists and
the 34,054-locality RENALOC register, imported through the readers."""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

import pytest

from gateway.demo.gazetteer import DEMO_DIR, load_demo_batch
from gateway.gazetteer import Gazetteer, ImportBatch, read_gazetteer_files
from gateway.gazetteer.normalise import name_keys
from gateway.parser import Parser, load_parser

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FILES = ("ner_adm3_gazetteer.csv", "mli_adm3_gazetteer.csv", "ner_pcodes_adm1_adm2_hdx_fixture.csv",
         "mli_pcodes_adm1_adm2_hdx_fixture.csv", "ner_renaloc_localities.csv")

pytestmark = [
    pytest.mark.shared,
    pytest.mark.skipif(not all((SHARED / name).exists() for name in FILES),
                       reason=f"reference gazetteer files not found in {SHARED}"),
]


@lru_cache(maxsize=1)
def full_batch() -> ImportBatch:
    # Mali has no locality register here: the demo's hand-entered Labbezanga is added.
    return read_gazetteer_files([*(SHARED / name for name in FILES), DEMO_DIR / "ml_localities.csv"])


@lru_cache(maxsize=1)
def full_gazetteer() -> Gazetteer:
    batch = full_batch()
    return Gazetteer(batch.units, batch.places)


@lru_cache(maxsize=1)
def full_parser() -> Parser:
    return load_parser(full_gazetteer())


def find(text: str, home: str | None = None):
    return full_gazetteer().find_place(list(name_keys(text)), home=home)


def test_all_files_are_read() -> None:
    batch = full_batch()
    levels = [unit.level for unit in {unit.pcode: unit for unit in batch.units}.values()]
    assert (levels.count(1), levels.count(2), levels.count(3)) == (18, 120, 967)
    assert len(batch.places) == 34_055
    assert full_gazetteer().place_count == 34_055


def test_demo_data_matches_the_reference_tables() -> None:
    reference = {unit.pcode: unit for unit in full_batch().units}
    for unit in load_demo_batch().units:
        official = reference[unit.pcode]
        assert (unit.name, unit.level, unit.parent_pcode, unit.census_code, unit.old_pcode) == (
            official.name, official.level, official.parent_pcode, official.census_code, official.old_pcode)
    register = {(p.commune_pcode, p.local_code): p.name for p in full_batch().places}
    for place in load_demo_batch().places:
        assert register[(place.commune_pcode, place.local_code)] == place.name


@pytest.mark.parametrize(("text", "home", "commune", "village"), [
    ("Kongo Kire", None, "NE006002001", "Kongo Kire"),
    ("Labbezanga", None, "ML070104", "Labbezanga"),
    ("Labbezanga", "NE006002001", "ML070104", "Labbezanga"),  # across the border from Ayerou
    ("Takoude", None, "NE004006003", "Takoude"),
    ("Akoyal", None, "NE001001001", "Akoyal"),  # "AKOUEL (AKOYAL)", Aderbissinat
    ("Tibiri", "NE004006003", "NE004005005", None),  # the communes, not the three villages TIBIRI
    ("Tilemsi", "ML070303", "ML070307", None),
    ("Tilemsi", "ML060506", "ML060214", None),
    ("Bamba", "ML070303", "ML070201", None),
    ("Bamba", "ML050609", "ML050501", None),
    ("ML020534", None, "ML020434", None),  # Sobra's 2015 P-code
    ("Ayorou", None, "NE006002001", None),
    ("Tillabery", None, "NE006012007", None),
    ("Timbuktu", None, "ML060506", None),
    ("Niamey 4", None, "NE008001004", None),
    ("Bamako Commune 5", None, "ML090105", None),
    ("tillabbery", None, "NE006012007", None),
    ("guidan sory", None, "NE004005003", None),
])
def test_find_place_in_the_full_gazetteer(text: str, home: str | None, commune: str, village: str | None) -> None:
    mention = find(text, home)
    assert (mention.commune, mention.village) == (commune, village)


def test_a_village_name_found_in_many_communes_needs_the_reporters_area() -> None:
    mention = find("Sabon Gari")
    assert mention.commune is None and len(mention.candidates) > 20


def test_every_renaloc_locality_with_a_unique_name_resolves_to_its_commune() -> None:
    gazetteer, by_name = full_gazetteer(), {}
    with open(SHARED / "ner_renaloc_localities.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            by_name.setdefault(row["localite"], set()).add(
                f"{int(row['region_code'])}-{row['dept_code']}-{row['commune_code']}")
    census = {unit.census_code: unit.pcode for unit in full_batch().units if unit.census_code}
    communes = {unit.name for unit in gazetteer.communes()} | {a for u in gazetteer.communes() for a in u.alt_names}
    checked = 0
    for name, codes in sorted(by_name.items())[::50]:
        if len(codes) != 1 or "(" in name or "/" in name or name.title() in communes:
            continue
        mention = gazetteer.find_place(list(name_keys(name)), home=census[next(iter(codes))])
        assert mention is not None and mention.commune == census[next(iter(codes))], name
        checked += 1
    assert checked > 400


@pytest.mark.parametrize(("text", "home", "incident", "commune", "village", "count"), [
    ("ATTAQUE GABI 12", None, "attack", "NE004006003", None, 12),
    ("sace guidan sori uku", None, "kidnapping", "NE004005003", None, 3),
    ("3 Takoude 40", None, "cattle_theft", "NE004006003", "Takoude", 40),
    ("hommes armes 30 a moto", "NE006011005", "armed_men", "NE006011005", None, 30),  # MOTO is a village too
    ("attaque labbezanga 4", "NE006002001", "attack", "ML070104", "Labbezanga", 4),
    ("attaque kongo kire 4", "ML070104", "attack", "NE006002001", "Kongo Kire", 4),
    ("vol de vaches douane 10", "NE006011005", "cattle_theft", "NE006011005", None, 10),
])
def test_protocol_examples_with_the_full_gazetteer(text, home, incident, commune, village, count) -> None:
    result = full_parser().parse(text, home=home)
    assert (result.incident, result.commune, result.village, result.count) == (incident, commune, village, count)
