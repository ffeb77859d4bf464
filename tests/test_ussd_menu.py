"""The USSD menu state machine: every path in every language, exact actions, screen sizes."""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from gateway.kernel.i18n import LANGUAGES, render
from gateway.kernel.segments import measure
from gateway.kernel.taxonomy import Incident, Taxonomy, load_taxonomy
from gateway.ussd import (
    Acknowledge,
    AckReply,
    ActionFailed,
    MenuContext,
    MenuState,
    Register,
    ReportStored,
    SetLanguage,
    Step,
    SubmitReport,
    finish,
    start,
    step,
)
from gateway.ussd.screens import incident_pages

LOCALES = Path(__file__).resolve().parents[1] / "locales"

GABI = ("NE004006003", "Gabi", None)
TAKOUDE = ("NE004006003", "Gabi", "TAKOUDE")
# Ambiguous on purpose: the same commune name twice (told apart by P-code), a village, and
# the longest commune and village names of the reference tables.
TIBIRI = [
    ("NE004002006", "Tibiri", None),
    ("NE003004007", "Tibiri", None),
    ("NE004005003", "Guidan Sori", "TIBIRI"),
    ("ML0101010", "Sere Moussa Ani Samo de Siékorolé", None),
    ("NE001001001", "El Allassane Maïreyrey", "ADERMALAM KOUNGUIA 2 (IMADAN II SILLIMANA ALGHA)"),
    ("NE005005005", "Damagaram Takaya", "TIBIRI KOIRA"),
]
LONGEST = ("NE001001001", "El Allassane Maïreyrey", "ADERMALAM KOUNGUIA 2 (IMADAN II SILLIMANA ALGHA)")


def fake_search(text: str, home: str | None) -> list[tuple[str, str, str | None]]:
    return {"gabi": [GABI], "takoude": [TAKOUDE], "tibiri": TIBIRI, "ademalam": [LONGEST]}.get(
        text.strip().lower(), [])


def context(lang: str | None = "fr", *, registered: bool = True, member: bool = False,
            home: tuple[str, str] | None = ("NE004006003", "Gabi"), taxonomy: Taxonomy | None = None) -> MenuContext:
    return MenuContext(
        lang=lang, is_registered=registered, home_pcode=home[0] if home else None,
        home_name=home[1] if home else None, is_committee_member=member, search=fake_search,
        taxonomy=taxonomy or load_taxonomy())


def walk(ctx: MenuContext, *answers: str):
    """Start, answer in order; return the list of StepResults (start included)."""
    results = [start(ctx)]
    for answer in answers:
        results.append(step(results[-1].state, answer, ctx))
    return results


def actions(results) -> list:
    return [result.action for result in results if result.action is not None]


def assert_screen_ok(text: str) -> None:
    info = measure(text)
    assert info.encoding == "GSM-7", text
    assert info.units <= 160, (info.units, text)


# --- every state, every language --------------------------------------------------------

NAMES = ("gabi", "takoude", "tibiri", "ademalam", "nowhere")
CHOICES = tuple(str(n) for n in range(7))
# What a user may type at each step: every offered choice plus wrong ones; every step also
# gets JUNK. Counts are few on purpose: the walk multiplies incidents, places and counts.
ANSWERS = {
    Step.CHOOSE_LANGUAGE_FIRST: CHOICES,
    Step.CHOOSE_LANGUAGE: CHOICES,
    Step.MAIN: CHOICES,
    Step.INCIDENT: tuple(str(n) for n in range(12)),
    Step.PLACE: CHOICES[:4],
    Step.PLACE_NAME: NAMES,
    Step.PLACE_PICK: CHOICES,
    Step.COUNT: ("0", "99999", "123456"),
    Step.CONFIRM: CHOICES[:4],
    Step.REGISTER_COMMUNE: NAMES,
    Step.REGISTER_PICK: CHOICES,
    Step.REGISTER_NAME: ("0", "Moussa * Ali", "N" * 40, "N" * 41),
    Step.ACK_CODE: ("k7q2", "#ABCDEFGH", "K7", "ABCDEFGHI"),
}
JUNK = ("", " ", "x", "*", "#", "00", "1*2", "é")

CONTEXTS = {
    "member at home": dict(member=True),
    "registered, longest home name": dict(home=("ML0101010", "Sere Moussa Ani Samo de Siékorolé")),
    "unregistered, no home": dict(registered=False, home=None),
}


def explore(ctx: MenuContext):
    """Breadth-first over every state reachable with ANSWERS; yields (state, answer, result)."""
    first = start(ctx)
    assert_screen_ok(first.screen.text)
    queue = deque([first.state])
    seen = {json.dumps(first.state.to_dict(), sort_keys=True)}
    while queue:
        state = queue.popleft()
        for answer in ANSWERS[state.step] + JUNK:
            result = step(state, answer, ctx)
            yield state, answer, result
            key = json.dumps(result.state.to_dict(), sort_keys=True)
            if not result.state.finished and key not in seen:
                seen.add(key)
                queue.append(result.state)


@pytest.mark.parametrize("lang", [*LANGUAGES, None])
@pytest.mark.parametrize("who", list(CONTEXTS))
def test_every_reachable_screen_fits_and_every_path_ends(lang, who):
    ctx = context(lang, **CONTEXTS[who])
    reached_steps: set[Step] = set()
    finals = 0
    for state, _answer, result in explore(ctx):
        assert_screen_ok(result.screen.text)
        assert result.screen.final == result.state.finished
        assert MenuState.from_dict(json.loads(json.dumps(result.state.to_dict()))) == result.state
        if result.action is not None:
            assert result.state.finished, "actions are emitted on the last step only"
        if result.state.finished:
            finals += 1
            for outcome in (ReportStored("R7K2X9"), AckReply("OK"), ActionFailed()):
                try:
                    assert_screen_ok(finish(result.state, ctx, outcome).screen.text)
                except ValueError:
                    assert not isinstance(outcome, ActionFailed)
        reached_steps.add(result.state.step)
        # every invalid answer on a fresh screen re-prompts; on a re-prompt it ends the session
        if result.state.reason is None and result.state.step is Step.GAVE_UP:
            assert state.reason is not None
    expected = set(Step) - {Step.FAILED, Step.CHOOSE_LANGUAGE_FIRST}
    if not ctx.is_committee_member:
        expected -= {Step.ACK_CODE, Step.ACK_SENT}
    if ctx.home is None:
        expected -= {Step.PLACE}
    if ctx.is_registered:  # registering is offered to numbers not registered yet only
        expected -= {Step.REGISTER_COMMUNE, Step.REGISTER_PICK, Step.REGISTER_NAME, Step.REGISTERED}
    assert expected <= reached_steps
    assert finals > 0


def test_each_non_final_state_can_reach_an_end():
    """No dead end: from every reachable state some answer leads, eventually, to END."""
    ctx = context("ha", member=True)
    edges: dict[str, set[str]] = {}
    ends: set[str] = set()
    for state, _answer, result in explore(ctx):
        source = json.dumps(state.to_dict(), sort_keys=True)
        target = json.dumps(result.state.to_dict(), sort_keys=True)
        edges.setdefault(source, set()).add(target)
        if result.screen.final:
            ends.add(target)
    can_end = set(ends)
    changed = True
    while changed:
        changed = False
        for source, targets in edges.items():
            if source not in can_end and targets & can_end:
                can_end.add(source)
                changed = True
    assert set(edges) <= can_end


# --- exact paths and actions, in every language ----------------------------------------

@pytest.mark.parametrize("lang", LANGUAGES)
def test_report_in_home_commune(lang):
    ctx = context(lang)
    results = walk(ctx, "1", "1", "1", "12", "1")
    assert [r.state.step for r in results] == [
        Step.MAIN, Step.INCIDENT, Step.PLACE, Step.COUNT, Step.CONFIRM, Step.SUBMITTED]
    assert actions(results) == [SubmitReport("attack", "NE004006003", None, 12, lang)]
    assert results[-1].screen.final
    assert results[2].screen.text.splitlines()[1] == "1 " + render(lang, "My commune {name}", name="Gabi")
    confirm = results[4].screen.text.splitlines()
    assert confirm[1] == f"{load_taxonomy().by_id('attack').label(lang)} - Gabi - 12"
    end = finish(results[-1].state, ctx, ReportStored("R7K2"))
    assert end.screen.final and end.action is None
    assert end.screen.text == render(
        lang, "Report received, ref {ref}. Thank you. To withdraw it, SMS: FAUX {ref}", ref="R7K2")
    assert "R7K2" in end.screen.text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_report_in_a_typed_village_without_count(lang):
    results = walk(context(lang), "1", "3", "2", "Takoude", "0", "1")
    assert actions(results) == [SubmitReport("cattle_theft", "NE004006003", "TAKOUDE", None, lang)]
    assert f"TAKOUDE (Gabi) - {render(lang, 'count unknown')}" in results[-2].screen.text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_did_you_mean_lists_fitting_candidates_and_picks_by_number(lang):
    results = walk(context(lang), "1", "2", "2", "tibiri")
    pick = results[-1]
    assert pick.state.step is Step.PLACE_PICK
    lines = pick.screen.text.splitlines()
    assert lines[0] == render(lang, "Did you mean:")
    assert lines[1:3] == ["1 Tibiri NE004002006", "2 Tibiri NE003004007"]
    assert lines[3] == "3 TIBIRI (Guidan Sori)"
    assert lines[-1] == f"0 {render(lang, 'None of these')}"
    assert 4 <= len(pick.state.candidates) <= 5
    after = walk(context(lang), "1", "2", "2", "tibiri", "2", "5", "1")
    assert actions(after) == [SubmitReport("kidnapping", "NE003004007", None, 5, lang)]


def test_did_you_mean_zero_goes_back_to_typing_the_name():
    results = walk(context("fr"), "1", "2", "2", "tibiri", "0", "gabi", "3", "1")
    assert [r.state.step for r in results][4:] == [Step.PLACE_PICK, Step.PLACE_NAME, Step.COUNT,
                                                    Step.CONFIRM, Step.SUBMITTED]
    assert results[5].state.candidates == ()
    assert actions(results) == [SubmitReport("kidnapping", "NE004006003", None, 3, "fr")]


def test_unknown_place_reprompts_with_the_reason_then_accepts_a_known_one():
    results = walk(context("fr"), "1", "1", "2", "nowhere", "gabi")
    reprompt = results[4]
    assert reprompt.state.step is Step.PLACE_NAME and not reprompt.screen.final
    assert reprompt.screen.text == "Aucun lieu de ce nom.\nTapez le nom de la commune ou du village:"
    assert results[5].state.step is Step.COUNT and results[5].state.reason is None
    assert results[5].screen.text == "Combien (personnes, animaux...)? 0 si inconnu"


def test_reporter_without_home_types_the_place_directly():
    results = walk(context("fr", registered=False, home=None), "1", "8", "gabi", "0", "1")
    assert results[2].state.step is Step.PLACE_NAME
    assert actions(results) == [SubmitReport("arson", "NE004006003", None, None, "fr")]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_cancel_at_confirmation_sends_nothing(lang):
    results = walk(context(lang), "1", "1", "1", "3", "2")
    assert results[-1].state.step is Step.CANCELLED
    assert results[-1].screen == results[-1].screen.__class__(render(lang, "Cancelled. Nothing was sent."), True)
    assert actions(results) == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_register_with_name(lang):
    results = walk(context(lang, registered=False, home=None), "2", "gabi", "  Moussa   Ali ")
    assert actions(results) == [Register("NE004006003", "Moussa Ali", lang)]
    assert results[-1].screen.final
    assert results[-1].screen.text == render(
        lang, "Request received for {commune}. An administrator will confirm it.", commune="Gabi")


def test_register_skipping_the_name_after_did_you_mean():
    results = walk(context("ha", registered=False, home=None), "2", "tibiri", "1", "0")
    assert [r.state.step for r in results][2:] == [Step.REGISTER_PICK, Step.REGISTER_NAME, Step.REGISTERED]
    assert actions(results) == [Register("NE004002006", None, "ha")]


def test_register_name_too_long_reprompts():
    results = walk(context("fr", registered=False), "2", "gabi", "N" * 41, "Ali")
    assert results[3].screen.text == "Nom trop long.\nVotre nom (0 pour passer):"
    assert actions(results) == [Register("NE004006003", "Ali", "fr")]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_committee_member_acknowledges_by_code(lang):
    ctx = context(lang, member=True)
    results = walk(ctx, "2", " #k7q2 ")
    assert actions(results) == [Acknowledge("K7Q2", lang)]
    assert results[-1].state.step is Step.ACK_SENT and results[-1].screen.final
    end = finish(results[-1].state, ctx, AckReply("Alerte K7Q2 prise en charge. Merci."))
    assert end.screen.text == "Alerte K7Q2 prise en charge. Merci." and end.screen.final


def test_acknowledge_is_not_offered_to_non_members():
    results = walk(context("fr", member=False), "5")
    assert render("fr", "Acknowledge an alert") not in results[0].screen.text
    assert results[1].state.step is Step.MAIN
    assert results[1].screen.text.startswith("Choix invalide.\nAlerte précoce\n1 Signaler")


@pytest.mark.parametrize(("who", "options"), [
    ("focal point", ["Report an incident", "Help", "Language"]),
    ("committee member", ["Report an incident", "Acknowledge an alert", "Help", "Language"]),
    ("new number", ["Report an incident", "Register", "Help", "Language"]),
])
def test_main_menu_is_numbered_without_gaps_and_offers_only_what_applies(who, options):
    ctx = context("fr", registered=who != "new number", member=who == "committee member")
    lines = start(ctx).screen.text.splitlines()[1:]
    assert lines == [f"{number} {render('fr', option)}" for number, option in enumerate(options, start=1)]


def test_invalid_alert_code_reprompts():
    results = walk(context("fr", member=True), "2", "K7", "K7Q2")
    assert results[2].screen.text == "Code invalide.\nCode de l'alerte?"
    assert actions(results) == [Acknowledge("K7Q2", "fr")]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_help_ends_with_the_help_text(lang):
    results = walk(context(lang), "2")
    assert results[-1].screen.final and results[-1].state.step is Step.HELP_SHOWN
    assert results[-1].screen.text == render(lang, "To report: dial this code, choose 1. By SMS: INCIDENT "
                                                   "PLACE NUMBER, e.g. ATTAQUE GABI 12. Help by SMS: AIDE")
    assert actions(results) == []


@pytest.mark.parametrize(("answer", "new_lang", "expected"), [
    ("1", "fr", "Langue choisie: Francais."),
    ("2", "ha", "An zabi harshe: Hausa."),
    ("3", "dje", "Ciine suubante: Zarma."),
])
def test_switching_language_answers_in_the_new_language(answer, new_lang, expected):
    results = walk(context("fr"), "3", answer)
    assert actions(results) == [SetLanguage(new_lang)]
    assert results[-1].screen.text == expected and results[-1].screen.final


def test_unknown_number_chooses_a_language_first_then_reports_in_it():
    ctx = context(None, registered=False, home=None)
    results = walk(ctx, "3", "1", "6", "gabi", "2", "1")
    assert results[0].screen.text == "Langue? Harshe? Ciine?\n1 Francais\n2 Hausa\n3 Zarma"
    assert results[1].state.lang == "dje"
    assert results[1].screen.text.splitlines()[1] == "1 " + render("dje", "Report an incident")
    assert actions(results) == [SubmitReport("killing", "NE004006003", None, 2, "dje")]


# --- invalid answers -----------------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGUAGES)
def test_second_invalid_answer_in_a_row_ends_politely(lang):
    results = walk(context(lang), "1", "42", "x")
    assert results[2].state.reason == "Invalid choice." and not results[2].screen.final
    assert results[2].screen.text.startswith(render(lang, "Invalid choice.") + "\n" + render(lang, "Which incident?"))
    assert results[3].state.step is Step.GAVE_UP and results[3].screen.final
    assert results[3].screen.text == render(lang, "Too many invalid answers. Please dial again.")
    assert actions(results) == []


def test_a_valid_answer_resets_the_invalid_count():
    results = walk(context("fr"), "9", "1", "x", "1", "1", "abc", "7", "1")
    assert [r.state.reason for r in results] == [
        None, "Invalid choice.", None, "Invalid choice.", None, None, "Type a number.", None, None]
    assert actions(results) == [SubmitReport("attack", "NE004006003", None, 7, "fr")]


def test_empty_answer_is_refused_with_its_reason():
    results = walk(context("fr"), "  ")
    assert results[1].screen.text.startswith("Réponse vide.\nAlerte précoce")


def test_count_of_more_than_five_digits_is_refused():
    results = walk(context("fr"), "1", "1", "1", "123456")
    assert results[-1].state.reason == "Type a number."


# --- paging ---------------------------------------------------------------------------------

def long_taxonomy() -> Taxonomy:
    """The real taxonomy with labels long enough that the list needs three screens."""
    real = load_taxonomy()
    return Taxonomy(tuple(
        Incident(i.id, i.code, i.severity, {lang: f"{i.label(lang)} signale par la communaute" for lang in LANGUAGES})
        for i in real.incidents))


def test_real_incident_list_fits_one_screen_in_every_language():
    for lang in LANGUAGES:
        assert len(incident_pages(load_taxonomy(), lang)) == 1
        text = walk(context(lang), "1")[1].screen.text
        assert text.count("\n") == 10 and "\n0 " not in text


@pytest.mark.parametrize(("lang", "more"), [("fr", "0 Suite"), ("ha", "0 Kari"), ("dje", "0 Tonton")])
def test_long_incident_list_is_paged_with_more_and_cycles(lang, more):
    ctx = context(lang, taxonomy=long_taxonomy())
    pages = incident_pages(ctx.taxonomy, lang)
    assert len(pages) >= 3
    assert [line.split()[0] for page in pages for line in page] == [str(code) for code in range(1, 11)]
    state = walk(ctx, "1")[-1].state
    seen = []
    for _ in range(len(pages)):
        result = step(state, "0", ctx)
        seen.append(result.screen.text)
        assert result.screen.text.splitlines()[-1] == more
        assert_screen_ok(result.screen.text)
        state = result.state
    assert seen[-1] == walk(ctx, "1")[-1].screen.text, "0 on the last page comes back to the first"
    # any incident code is accepted whatever the page, and re-prompted pages still fit
    reprompt = step(walk(ctx, "1")[-1].state, "x", ctx)
    assert_screen_ok(reprompt.screen.text)
    assert step(reprompt.state, "10", ctx).state.incident == "trafficking"


# --- finishing ------------------------------------------------------------------------------

def test_action_failure_ends_with_an_apology():
    ctx = context("ha")
    submitted = walk(ctx, "1", "1", "1", "0", "1")[-1]
    end = finish(submitted.state, ctx, ActionFailed())
    assert end.state.step is Step.FAILED and end.screen.final
    assert end.screen.text == "Ku yi hakuri, an sami matsala. Ku sake gwadawa anjima."


def test_finish_refuses_an_outcome_that_does_not_match_the_step():
    ctx = context("fr", member=True)
    with pytest.raises(ValueError):
        finish(walk(ctx, "1", "1", "1", "0", "1")[-1].state, ctx, AckReply("x"))
    with pytest.raises(ValueError):
        finish(walk(ctx, "2", "K7Q2")[-1].state, ctx, ReportStored("R1"))


def test_callers_ack_text_is_made_gsm7_and_cut_to_one_screen():
    ctx = context("fr", member=True)
    state = walk(ctx, "2", "K7Q2")[-1].state
    end = finish(state, ctx, AckReply("Alerte prise en charge à Téra — merci. " * 8))
    assert_screen_ok(end.screen.text)
    assert end.screen.text.startswith("Alerte prise en charge à Téra - merci.")
    assert measure(end.screen.text).units == 160


def test_stepping_an_ended_session_is_a_programming_error():
    ctx = context("fr")
    with pytest.raises(ValueError):
        step(walk(ctx, "2")[-1].state, "1", ctx)


# --- catalogs -------------------------------------------------------------------------------

def catalog(lang: str) -> dict[str, str]:
    with (LOCALES / lang / "LC_MESSAGES" / "ussd.po").open("rb") as handle:
        return {m.id: m.string for m in read_po(handle) if m.id}


def test_every_ussd_text_is_translated_gsm7_with_the_same_placeholders():
    french = catalog("fr")
    for lang in LANGUAGES:
        messages = catalog(lang)
        assert set(messages) == set(french), lang
        for msgid, text in messages.items():
            assert text, (lang, msgid)
            assert measure(text).encoding == "GSM-7", (lang, text)
            assert sorted(part.split("}")[0] for part in text.split("{")[1:]) == \
                sorted(part.split("}")[0] for part in msgid.split("{")[1:]), (lang, msgid)


def test_hausa_and_zarma_catalogs_ask_for_native_review():
    for lang in ("ha", "dje"):
        header = (LOCALES / lang / "LC_MESSAGES" / "ussd.po").read_text(encoding="utf-8").lower()
        assert "translations to be reviewed by native speakers" in header
