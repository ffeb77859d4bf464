"""Table-driven parser tests on the demo gazetteer: tests/parser_cases/cases.csv and grid.toml."""

from __future__ import annotations

import csv
import tomllib
from pathlib import Path

import pytest

from tests.support.parsers import demo_parser

CASES_DIR = Path(__file__).resolve().parent / "parser_cases"
ARGUMENT_FIELD = {"acknowledge": "alert_code", "retract": "report_ref", "language": "language", "register": "name"}


def _cases() -> list:
    with open(CASES_DIR / "cases.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [pytest.param(row, id=f"{number}:{row['text'][:40]}") for number, row in enumerate(rows, start=2)
            if row["kind"]]  # rows without a kind are section headings


@pytest.mark.parametrize("row", _cases())
def test_case_table(row: dict) -> None:
    result = demo_parser().parse(row["text"], lang=row["lang"] or None, home=row["home"] or None)
    argument_field = ARGUMENT_FIELD.get(row["command"])
    got = {
        "kind": result.kind, "incident": result.incident, "secondary": ";".join(result.secondary),
        "commune": result.commune, "village": result.village, "count": result.count, "command": result.command,
        "argument": getattr(result, argument_field) if argument_field else None,
    }
    expected = {
        "kind": row["kind"], "incident": row["incident"] or None, "secondary": row["secondary"],
        "commune": row["commune"] or None, "village": row["village"] or None,
        "count": int(row["count"]) if row["count"] else None, "command": row["command"] or None,
        "argument": row["argument"] or None,
    }
    assert got == expected


def _grid() -> list:
    with open(CASES_DIR / "grid.toml", "rb") as handle:
        grid = tomllib.load(handle)
    incidents, places, counts, templates = grid["incidents"], grid["places"], grid["counts"], grid["templates"]
    params = []
    for number in range(len(incidents) * 6):
        incident, place, count = incidents[number % len(incidents)], places[(number * 7) % len(places)], \
            counts[(number * 3) % len(counts)]
        text = templates[number % len(templates)].format(incident=incident[0], place=place[0], count=count[0])
        params.append(pytest.param(text, incident[1], place[1], place[2] or None, count[1], id=text))
    return params


@pytest.mark.parametrize(("text", "incident", "commune", "village", "count"), _grid())
def test_grid(text: str, incident: str, commune: str, village: str | None, count: int) -> None:
    result = demo_parser().parse(text)
    assert (result.kind, result.incident, result.secondary, result.commune, result.village, result.count) == (
        "report", incident, (), commune, village, count)


@pytest.mark.parametrize(("text", "lang", "detected"), [
    ("ATTAQUE GABI 12", None, "fr"),
    ("sace guidan sori uku", None, "ha"),
    ("zuru tera hinza", None, "dje"),
    ("danji gabi", None, "dje"),
    ("3 Takoude 40", None, None),
    ("ATTAQUE GABI 12", "ha", "ha"),
    ("hari gabi", None, "ha"),
    ("zuru hari gabi", None, "dje"),
    ("TAIMAKO", None, "ha"),
    ("attaque sace", None, None),
])
def test_language_is_given_or_detected_from_keywords(text: str, lang: str | None, detected: str | None) -> None:
    assert demo_parser().parse(text, lang=lang).lang == detected


@pytest.mark.parametrize(("text", "free_text"), [
    ("hommes armes 30 a moto", "a moto"),
    ("ATTAQUE GABI 12", ""),
    ("attaque gabi 5, ils sont venus à moto! Vite.", "ils sont venus à moto! Vite"),
    ("Vol de bétail à Takoude: 40 têtes", "à têtes"),
    ("bonjour", "bonjour"),
    ("INSCRIPTION Gabi", ""),
])
def test_free_text_keeps_unconsumed_words_verbatim(text: str, free_text: str) -> None:
    assert demo_parser().parse(text).free_text == free_text


def test_to_dict_is_the_interface_json_object() -> None:
    data = demo_parser().parse("ATTAQUE GABI 12").to_dict()
    assert data == {
        "kind": "report", "incident": "attack", "secondary": [], "commune": "NE004006003", "commune_name": "Gabi",
        "village": None, "count": 12, "command": None, "alert_code": None, "report_ref": None, "language": None,
        "name": None, "lang": "fr", "confidence": 1.0, "notes": [], "free_text": "",
    }


def test_notes_and_confidence_say_how_sure_the_parse_is() -> None:
    parser = demo_parser()
    exact, corrected = parser.parse("attaque gabi 5"), parser.parse("attaque ouatagona 5")
    home, ambiguous = parser.parse("attaque 5", home="NE004006003"), parser.parse("attaque tibiri")
    assert exact.confidence == 1.0 and exact.notes == ()
    assert corrected.confidence == 0.9 and corrected.notes == ("place corrected (1 typing error)",)
    assert home.confidence == 0.9 and home.notes == ("no place named: reporter's commune",)
    assert ambiguous.confidence == 0.5 and ambiguous.notes == ("place ambiguous: NE003008004, NE004005005",)


def test_unknown_home_is_noted_and_ignored() -> None:
    result = demo_parser().parse("attaque 5", home="NE999999999")
    assert (result.commune, result.notes) == (None, ("unknown home NE999999999", "no place named"))


def test_unknown_language_is_noted_and_ignored() -> None:
    result = demo_parser().parse("attaque gabi", lang="xx")
    assert (result.lang, result.notes) == ("fr", ("unknown language xx",))


def test_a_registered_commune_name_is_given_by_its_official_spelling() -> None:
    result = demo_parser().parse("attaque tera", home="NE004006003")
    assert (result.commune, result.commune_name) == ("NE006011005", "Téra")
