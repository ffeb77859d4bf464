"""The parser never raises, and its lexicons are data that is checked when loaded."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway import PROJECT_ROOT
from gateway.demo.gazetteer import load_demo_batch
from gateway.gazetteer import Gazetteer
from gateway.kernel.taxonomy import load_taxonomy
from gateway.parser import LexiconError, load_lexicon, load_parser
from gateway.parser.result import ParseResult

BATCH = load_demo_batch()
PARSER = load_parser(Gazetteer(BATCH.units, BATCH.places))
WORDS = st.sampled_from(["attaque", "gabi", "3", "#3", "niamey", "III", "sace", "shanu", "hari", "uku", "OK",
                         "NE004006003", "takoude", "vingt", "cent", "ɗ", "’", "-", "*", "", "0", "999999999999",
                         "mille", "dubu", "dari", "zangu", "zambar", "hinka", "une", "tara", "sha", "da", "cindi",
                         "pas", "babu", "ba", "RAS", "wuta", "3/11", "18:30", "6h", "karfe", "a5morts", "d'attaque",
                         "personnes", "quatre-vingts", "une dizaine"])


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=300), lang=st.sampled_from([None, "fr", "ha", "dje", "xx"]),
       home=st.sampled_from([None, "NE004006003", "NE004", "ML090104", "bogus"]))
def test_parse_never_raises_on_any_text(text: str, lang: str | None, home: str | None) -> None:
    # The inner step, not parse(): parse() also catches errors, which would hide them here.
    assert isinstance(PARSER._parse(text, lang, home), ParseResult)


@settings(max_examples=400)
@given(words=st.lists(WORDS, max_size=20), separator=st.sampled_from([" ", ",", "*", "#", "-", ".", ":", ""]))
def test_parse_never_raises_on_keyword_soup(words: list[str], separator: str) -> None:
    result = PARSER._parse(separator.join(words), None, "NE004006003")
    assert result.kind in {"report", "command", "unknown"}
    assert result.count is None or 0 <= result.count <= 99_999


def test_very_long_messages_are_parsed_up_to_a_bound_and_kept() -> None:
    text = "attaque gabi 5 " + "mot " * 5000
    result = PARSER.parse(text)
    assert (result.incident, result.commune, result.count) == ("attack", "NE004006003", 5)
    assert result.free_text.startswith("mot mot") and result.free_text.count("mot") == 5000


def _locales_copy(tmp_path: Path) -> Path:
    target = tmp_path / "locales"
    for lang in ("fr", "ha", "dje"):
        (target / lang).mkdir(parents=True)
        shutil.copy(PROJECT_ROOT / "locales" / lang / "keywords.toml", target / lang / "keywords.toml")
    return target


def test_adding_a_keyword_is_a_one_line_edit(tmp_path: Path) -> None:
    locales = _locales_copy(tmp_path)
    path = locales / "dje" / "keywords.toml"
    path.write_text(path.read_text().replace('  "wongu",', '  "wongu",\n  "kataru",'))
    parser = load_parser(Gazetteer(BATCH.units, BATCH.places), locales=locales)
    assert (parser.parse("kataru gabi").incident, parser.parse("kataru gabi").lang) == ("attack", "dje")
    assert PARSER.parse("kataru gabi").kind == "unknown"


def test_unknown_incident_in_a_lexicon_is_refused_with_the_file_named(tmp_path: Path) -> None:
    locales = _locales_copy(tmp_path)
    path = locales / "ha" / "keywords.toml"
    path.write_text(path.read_text().replace("[incidents]\n", '[incidents]\nflood = ["ambaliya"]\n'))
    with pytest.raises(LexiconError, match=r"ha/keywords.toml: unknown incident 'flood'"):
        load_lexicon(load_taxonomy(), locales)


def test_bad_toml_in_a_lexicon_is_refused_with_the_file_named(tmp_path: Path) -> None:
    locales = _locales_copy(tmp_path)
    (locales / "fr" / "keywords.toml").write_text("[incidents\n")
    with pytest.raises(LexiconError, match=r"fr/keywords.toml"):
        load_lexicon(load_taxonomy(), locales)


def test_shipped_lexicons_cover_the_protocol_minimum_set() -> None:
    lexicon = load_lexicon(load_taxonomy())
    minimum = {
        "attack": ["ATTAQUE", "ATTAK", "ASSAUT", "HARI", "AN KAI HARI"],
        "kidnapping": ["ENLEVEMENT", "RAPT", "OTAGE", "SACE", "GARKUWA", "GARKUWA DA MUTANE"],
        "cattle_theft": ["VOL", "VOL DE BETAIL", "VOL BETAIL", "SATA", "SATAR SHANU", "SATAR DABBOBI", "HAW ZAY"],
        "armed_men": ["HOMMES ARMES", "ARMES", "SUSPECTS", "'YAN BINDIGA", "YAN BINDIGA", "BINDIGA"],
        "explosive": ["MINE", "EEI", "ENGIN EXPLOSIF", "EXPLOSION", "NAKIYA", "BAM"],
        "killing": ["MEURTRE", "ASSASSINAT", "TUE", "TUES", "KISA", "KASHE", "KASHE-KASHE", "BU"],
        "displacement": ["DEPLACEMENT", "DEPLACES", "FUITE", "GUDUN HIJIRA", "HIJIRA", "ZURU"],
        "arson": ["INCENDIE", "FEU", "GOBARA", "WUTA", "DANJI", "NUUNE"],
        "communal_clash": ["CONFLIT", "AFFRONTEMENT", "BAGARRE", "RIKICI", "FADA"],
        "trafficking": ["TRAITE", "TRAFIC", "PASSEUR", "FATAUCI", "SAFARA"],
    }
    for incident, words in minimum.items():
        for word in words:
            assert PARSER.parse(word).incident == incident, word
    assert "hari" in lexicon.false_friends["dje"]


@pytest.mark.parametrize(("section", "entry", "message"), [
    ("[weak]\nwords = [\"gobara\", \"kaza\"]\n", "weak", r"ha/keywords.toml: weak.kaza is not an incident word"),
    ("[weak_numbers]\nwords = [\"tara\", \"kaza\"]\n", "weak_numbers",
     r"ha/keywords.toml: weak_numbers: 'kaza' is not in this file's \[numbers\]"),
    ("[multipliers]\nafter = [\"kaza\"]\n", "multipliers",
     r"ha/keywords.toml: multipliers: 'kaza' is not in this file's \[numbers\]"),
    ("[counted]\nside = \"left\"\nwords = [\"mutane\"]\n", "counted", r"ha/keywords.toml: counted.side must be"),
])
def test_a_section_naming_words_it_cannot_use_is_refused(tmp_path: Path, section: str, entry: str,
                                                         message: str) -> None:
    locales = _locales_copy(tmp_path)
    path = locales / "ha" / "keywords.toml"
    text = path.read_text()
    start = text.index(f"[{entry}]")
    end = text.find("\n[", start + 1)
    path.write_text(text[:start] + section + (text[end + 1:] if end >= 0 else ""))
    with pytest.raises(LexiconError, match=message):
        load_lexicon(load_taxonomy(), locales)


def test_a_weak_word_is_a_one_line_edit(tmp_path: Path) -> None:
    locales = _locales_copy(tmp_path)
    path = locales / "ha" / "keywords.toml"
    path.write_text(path.read_text().replace('words = ["wuta", "fada"]', 'words = ["wuta", "fada", "gobara"]'))
    parser = load_parser(Gazetteer(BATCH.units, BATCH.places), locales=locales)
    assert (parser.parse("gobara gabi 5").incident, parser.parse("gobara ta tashi a gabi").kind) == ("arson", "unknown")
    assert PARSER.parse("gobara ta tashi a gabi").incident == "arson"


def test_a_number_word_and_its_multiplier_are_one_line_edits(tmp_path: Path) -> None:
    locales = _locales_copy(tmp_path)
    path = locales / "ha" / "keywords.toml"
    text = path.read_text().replace("dubu = 1000", "dubu = 1000\ngomiya = 10")  # omniglot: gomiya uku = 30
    path.write_text(text.replace('after = ["dari", "dubu"]', 'after = ["dari", "dubu", "gomiya"]'))
    parser = load_parser(Gazetteer(BATCH.units, BATCH.places), locales=locales)
    assert parser.parse("hari gabi gomiya uku").count == 30
    assert PARSER.parse("hari gabi gomiya uku").count == 3


def test_number_words_beyond_what_a_count_can_be_are_not_a_count() -> None:
    assert PARSER.parse("hari gabi dubu goma").count == 10_000
    assert PARSER.parse("hari gabi dubu dari").count is None
