"""Which incident a message is when it names several (the reporting protocol, and texts from the field): an armed group's
action beats a sighting of armed men; otherwise the first named wins; the others are secondary.
Negated incidents count for nothing, and a message that only says all is calm is not a report."""

from __future__ import annotations

import pytest

from tests.support.parsers import demo_parser

PRECEDENCE = [
    # (text, incident, secondary)
    ("'yan bindiga sun kai hari a Gabi", "attack", ("armed_men",)),
    ("yan bindiga 30 sun sace mutane 3 a Gabi", "kidnapping", ("armed_men",)),
    ("'yan bindiga sun kashe mutane 2 a Gabi", "killing", ("armed_men",)),
    ("barayin daji sun kwashe shanu a Takoude", "cattle_theft", ("armed_men",)),
    ("hommes armes ont attaque gabi", "attack", ("armed_men",)),
    ("HANI ont enleve 2 femmes a Takoude", "kidnapping", ("armed_men",)),
    ("hommes armes 20 vol de betail a gabi", "cattle_theft", ("armed_men",)),
    ("hommes armes a gabi, attaque puis incendie", "attack", ("armed_men", "arson")),
    ("'yan bindiga sun kashe mutane 3 sun sace 5 a Gabi", "killing", ("armed_men", "kidnapping")),
    # No action of an armed group: the first named wins.
    ("hommes armes vus a gabi puis incendie", "armed_men", ("arson",)),
    ("yan bindiga a Gabi, sun gudu", "armed_men", ("displacement",)),
    ("incendie puis attaque a gabi", "arson", ("attack",)),
    ("gobara da hari a Gabi", "arson", ("attack",)),
    ("attaque enlevement meurtre gabi", "attack", ("kidnapping", "killing")),
    ("2 attaque gabi 5", "kidnapping", ("attack",)),
    ("Mutanen Rafin Wada sun gudu saboda harin yan bindiga", "displacement", ("attack",)),
]


@pytest.mark.parametrize(("text", "incident", "secondary"), PRECEDENCE)
def test_an_armed_groups_action_beats_its_sighting_else_the_first_named(text: str, incident: str,
                                                                         secondary: tuple[str, ...]) -> None:
    result = demo_parser().parse(text)
    assert (result.kind, result.incident, result.secondary) == ("report", incident, secondary)


NEGATED = [
    # Negated: stored and answered as a text that is not a report.
    ("pas d'attaque a gabi", "fr"), ("il n'y a pas eu d'attaque a Tera", "fr"), ("aucune attaque a gabi", None),
    ("ba a kai hari ba a Gabi", "ha"), ("ba'a kai hari ba", "ha"), ("babu hari a Gabi", "ha"),
    ("Babu wani hari a Takoude", "ha"), ("ba su sace kowa ba a Gabi", "ha"), ("babu wuta a Gabi", "ha"),
]
ALL_CLEAR = ["RAS", "R.A.S gabi", "ras 3", "rien a signaler a Takoude", "tout est calme a gabi",
             "situation calme a Inates", "babu komai a Gabi", "lafiya lau a Gabi", "komai lafiya a Rafin Wada"]


@pytest.mark.parametrize(("text", "lang"), NEGATED)
def test_a_negated_incident_is_not_a_report(text: str, lang: str | None) -> None:
    result = demo_parser().parse(text, lang=lang)
    assert (result.kind, result.incident, result.notes) == ("unknown", None, ("negated: not a report",))


@pytest.mark.parametrize("text", ALL_CLEAR)
def test_all_is_calm_is_not_a_report(text: str) -> None:
    result = demo_parser().parse(text)
    assert (result.kind, result.incident, result.notes) == ("unknown", None, ("all is calm: not a report",))


@pytest.mark.parametrize(("text", "incident", "secondary"), [
    # Only the negated incident goes; the others stay.
    ("an kai hari a Gabi babu wanda ya mutu", "attack", ()),
    ("an kai hari amma ba a kashe kowa ba a Gabi", "attack", ()),
    ("attaque a gabi, pas de morts", "attack", ()),
    ("pas de vol mais attaque a gabi", "attack", ()),
    ("pas de problème, attaque a gabi", "attack", ()),  # a negation does not reach across a comma
    ("an kai mana hari a Gabi", "attack", ()),  # mana: 'to us' in Hausa, not a negation
    ("ni na ga an kai hari a Gabi", "attack", ()),  # ni: 'I' in Hausa
])
def test_a_negation_cancels_only_the_incident_it_governs(text: str, incident: str, secondary: tuple) -> None:
    result = demo_parser().parse(text)
    assert (result.kind, result.incident, result.secondary) == ("report", incident, secondary)


@pytest.mark.parametrize(("text", "lang", "kind", "incident"), [
    # False friends and everyday words decided by context, not dropped.
    ("HARI TERA 5", "dje", "report", "attack"),  # the protocol's whole shape from a Zarma reporter
    ("hari gabi", "dje", "unknown", None),
    ("hari si no Tera 5", "dje", "unknown", None),  # a sentence about water
    ("hari tera 5", "ha", "report", "attack"),
    ("WUTA Gabi 5", None, "report", "arson"),
    ("wuta ta dauke a Gabi", None, "unknown", None),  # electricity
    ("an dauke wuta a Gabi", None, "unknown", None),
    ("wuta ta kama gidaje a Gabi", None, "report", "arson"),
    ("FADA Gabi 3", None, "report", "communal_clash"),
    ("na fada maka jiya", None, "unknown", None),  # to tell
    ("ya fada min cewa an kai hari a Gabi", None, "report", "attack"),
    ("To mun gode", None, "unknown", None),  # not an acknowledgement of alert MUN
    ("To sun kai farmaki a Gabi", None, "report", "attack"),
    ("ok merci", None, "unknown", None),
])
def test_false_friends_and_everyday_words_by_context(text: str, lang: str | None, kind: str,
                                                     incident: str | None) -> None:
    result = demo_parser().parse(text, lang=lang)
    assert (result.kind, result.incident) == (kind, incident)


@pytest.mark.parametrize(("text", "code"), [("OK K7Q2", "K7Q2"), ("to 8pzz mun gode", "8PZZ"), ("OK", None),
                                            ("ok ESQ3 merci", "ESQ3")])
def test_ok_and_to_acknowledge_before_an_alert_codes_shape_or_alone(text: str, code: str | None) -> None:
    result = demo_parser().parse(text)
    assert (result.kind, result.command, result.alert_code) == ("command", "acknowledge", code)
