"""Counts as each language says them (the reporting protocol, and texts from the field): compound number words, multipliers,
approximate amounts, words that are numbers only where a count stands, and numbers that are a
date, a time, an age or a distance."""

from __future__ import annotations

import pytest

from tests.support.parsers import demo_parser

# (text, count): the incident and the place are there so that only the count is at stake.
HAUSA = [
    ("hari gabi goma", 10), ("hari gabi goma sha daya", 11), ("hari gabi goma sha biyu", 12),
    ("hari gabi goma sha tara", 19), ("hari gabi sha biyu", 12), ("hari gabi ashirin", 20),
    ("hari gabi ashirin da biyar", 25), ("hari gabi talatin da uku", 33), ("hari gabi arba'in", 40),
    ("hari gabi arbain da takwas", 48), ("hari gabi hamsin", 50), ("hari gabi sittin", 60),
    ("hari gabi saba'in", 70), ("hari gabi tamanin", 80), ("hari gabi casa'in", 90), ("hari gabi tis'in", 90),
    ("hari gabi dari", 100), ("hari gabi dari da biyar", 105), ("hari gabi dari biyu", 200),
    ("hari gabi dari uku", 300), ("hari gabi dari biyu da hamsin", 250), ("hari gabi dubu", 1000),
    ("hari gabi dubu biyu", 2000), ("hari gabi dubu da dari biyar", 1500), ("hari gabi shidda", 6),
    ("an sace mutane tara a gabi", 9), ("'yan bindiga tara a gabi", 9), ("hari gabi tara", 9),
]
ZARMA = [
    ("zuru tera afo", 1), ("zuru tera ihinka", 2), ("zuru tera hinza", 3), ("zuru tera itaaci", 4),
    ("zuru tera igu", 5), ("zuru tera iddu", 6), ("zuru tera iyye", 7), ("zuru tera ahakku", 8),
    ("zuru tera iyegga", 9), ("zuru tera iway", 10), ("zuru tera iway cindi fo", 11),
    ("zuru tera iway cindi hinka", 12), ("zuru tera waranka", 20), ("zuru tera waranka cindi gu", 25),
    ("zuru tera waranza", 30), ("zuru tera waytaci", 40), ("zuru tera waygu", 50), ("zuru tera wayyagga", 90),
    ("zuru tera zangu", 100), ("zuru tera zangu hinka", 200), ("zuru tera zangu cindi waranka", 120),
    ("zuru tera zangu hinka cindi woy", 210), ("zuru tera zambar hinka", 2000),
    ("bu tera boro fo", 1), ("bu tera boro yegga", 9), ("danji tera fu way", 10),
]
FRENCH = [
    ("attaque gabi treize", 13), ("attaque gabi quatorze", 14), ("attaque gabi seize", 16),
    ("attaque gabi dix-sept", 17), ("attaque gabi vingt et un", 21), ("attaque gabi soixante-dix", 70),
    ("attaque gabi soixante et onze", 71), ("attaque gabi soixante-dix-neuf", 79),
    ("attaque gabi quatre-vingts", 80), ("attaque gabi quatre vingt", 80), ("attaque gabi quatre-vingt-un", 81),
    ("attaque gabi quatre-vingt-dix", 90), ("attaque gabi quatre-vingt-dix-neuf", 99), ("attaque gabi cent", 100),
    ("attaque gabi deux cents", 200), ("attaque gabi trois cent cinquante", 350), ("attaque gabi mille", 1000),
    ("attaque gabi deux mille", 2000), ("attaque gabi mille cinq cents", 1500),
    ("attaque gabi une dizaine", 10), ("attaque gabi dizaine", 10), ("attaque gabi une quinzaine", 15),
    ("attaque gabi une vingtaine", 20), ("attaque gabi une trentaine", 30), ("attaque gabi une quarantaine", 40),
    ("attaque gabi une cinquantaine", 50), ("attaque gabi une centaine", 100),
    ("un mort a gabi", 1), ("une personne enlevee a gabi", 1), ("attaque gabi vingt et une personnes", 21),
]
NOT_COUNTS = [
    # An article, a verb, a date, a time, an age, a distance: no count.
    "une attaque a gabi", "un vol a gabi", "Une attaque a Takoude cette nuit", "'yan bindiga sun tara a gabi",
    "yan bindiga sun tara mutane a gabi", "hari gabi, sun sha ruwa", "attaque gabi 3/11", "attaque gabi 03/11/2024",
    "attaque gabi 18:30", "attaque gabi a 6 h", "attaque gabi a 6 heures", "attaque gabi le 3 novembre",
    "attaque a 5 km de gabi", "an kai hari gabi karfe shida", "an kai hari gabi karfe 6", "attaque gabi 6h",
    "attaque gabi 18h30", "attaque gabi 123456",
]
DIGITS = [
    # A digit glued inside a word, next to a date, or after a time.
    ("a5morts gabi", 5), ("attaque a5morts gabi", 5), ("attaque gabi 12morts", 12), ("attaque gabi 3/11 4 morts", 4),
    ("attaque gabi 6h 12 morts", 12), ("an kai hari gabi karfe 10:30 mutane 4 sun mutu", 4),
    ("attaque gabi le 3 novembre, 7 morts", 7),
]


@pytest.mark.parametrize(("text", "count"), HAUSA + ZARMA + FRENCH + DIGITS)
def test_number_words_and_digits_give_the_count(text: str, count: int) -> None:
    result = demo_parser().parse(text)
    assert (result.kind, result.count) == ("report", count)


@pytest.mark.parametrize("text", NOT_COUNTS)
def test_articles_verbs_dates_and_times_are_not_counts(text: str) -> None:
    result = demo_parser().parse(text)
    assert (result.kind, result.count) == ("report", None)


@pytest.mark.parametrize(("text", "incident", "count"), [
    ("3 personnes kidnappees a gabi", "kidnapping", 3),  # a count beside its noun, the incident by its word
    ("3 Takoude 40", "cattle_theft", 40),  # a bare report: the code, then the count
    ("gabi 3", "cattle_theft", None),
    ("5 morts 3 blesses a gabi", "killing", 5),  # not code 5 (explosive): a count beside its noun
])
def test_a_bare_number_is_a_code_only_where_no_noun_counts_it(text: str, incident: str, count: int | None) -> None:
    result = demo_parser().parse(text)
    assert (result.kind, result.incident, result.count) == ("report", incident, count)


@pytest.mark.parametrize("text", ["3 personnes disparues a gabi", "2 femmes disparues a Tera", "4 ont disparu a gabi"])
def test_a_number_in_a_sentence_without_incident_is_not_a_code(text: str) -> None:
    assert demo_parser().parse(text).kind == "unknown"
