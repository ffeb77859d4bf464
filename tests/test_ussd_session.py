"""USSD transport logic: Africa's Talking's cumulative `text` turned into one menu step per hop."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest

from gateway.ussd import (
    Acknowledge,
    AckReply,
    ActionFailed,
    HopResult,
    MenuContext,
    Register,
    ReportStored,
    Step,
    StoredSession,
    SubmitReport,
    advance,
    complete,
    start,
)
from gateway.ussd.session import newest_answer
from gateway.ussd.state import MenuState, Place

GABI = ("NE004006003", "Gabi", None)


class RecordingSearch:
    """A fake gazetteer search that remembers what it was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, text: str, home: str | None) -> list[tuple[str, str, str | None]]:
        self.asked.append(text)
        return [GABI] if text.replace("*", "").strip().lower() == "gabi" else []


def context(lang: str | None = "fr", member: bool = False, search=None, registered: bool = True) -> MenuContext:
    return MenuContext(lang=lang, is_registered=registered, home_pcode="NE004006003", home_name="Gabi",
                       is_committee_member=member, search=search or RecordingSearch())


def hops(ctx: MenuContext, *texts: str, stored: StoredSession | None = None) -> list[HopResult]:
    """Feed cumulative texts in order, persisting each hop's stored session as the caller would."""
    results = []
    for text in texts:
        hop = advance(stored, text, ctx)
        results.append(hop)
        stored = hop.stored
    return results


def through_storage(stored: StoredSession) -> StoredSession:
    """What the caller's database row gives back: JSON for the state, plain columns for the rest."""
    row = json.loads(json.dumps(stored.to_row()))
    return StoredSession.from_row(row["last_text"], row["state"], row["last_screen"])


@pytest.mark.parametrize(("previous", "text", "expected"), [
    ("", "1", "1"),
    ("", "", None),
    ("", "1*2", "1*2"),  # first answer with a star in it
    ("1", "1*2", "2"),
    ("1*2", "1*2*gabi", "gabi"),
    ("1*2", "1*2*ga*bi", "ga*bi"),
    ("1*2", "1*2*", ""),  # an empty answer
    ("1*2", "1*3*4", None),
    ("1*2", "1*2", None),
    ("1*2", "1*23", None),  # not a new answer: the previous one changed
])
def test_newest_answer_is_the_suffix_after_the_previous_text(previous, text, expected):
    assert newest_answer(previous, text) == expected


def test_first_hop_shows_the_start_screen():
    ctx = context()
    hop = advance(None, "", ctx)
    assert hop.screen == start(ctx).screen and not hop.screen.final
    assert hop.stored.text == "" and hop.stored.state.step is Step.MAIN
    assert hop.action is None and not hop.duplicate


def test_full_report_over_cumulative_hops_emits_one_action_and_ends_with_the_reference():
    ctx = context("ha")
    results = hops(ctx, "", "1", "1*1", "1*1*2", "1*1*2*gabi", "1*1*2*gabi*4", "1*1*2*gabi*4*1")
    assert [hop.stored.state.step for hop in results] == [
        Step.MAIN, Step.INCIDENT, Step.PLACE, Step.PLACE_NAME, Step.COUNT, Step.CONFIRM, Step.SUBMITTED]
    assert [hop.action for hop in results if hop.action] == [SubmitReport("attack", "NE004006003", None, 4, "ha")]
    assert not any(hop.duplicate for hop in results)
    done = complete(results[-1], ctx, ReportStored("R7K2"))
    assert done.screen.final
    assert done.screen.text == "An karbi rahoto, lamba R7K2. Na gode. Don soke shi, SMS: KARYA R7K2"
    assert done.stored.screen == done.screen and done.action == results[-1].action


def test_repeated_hop_gives_the_same_screen_and_no_second_action():
    ctx = context()
    results = hops(ctx, "", "1", "1")
    assert results[2].screen == results[1].screen
    assert results[2].duplicate and results[2].action is None
    assert results[2].stored == results[1].stored


def test_repeated_confirmation_hop_after_the_report_was_stored_shows_the_reference_again():
    ctx = context()
    results = hops(ctx, "", "1", "1*1", "1*1*1", "1*1*1*0", "1*1*1*0*1")
    done = complete(results[-1], ctx, ReportStored("R7K2"))
    again = advance(through_storage(done.stored), "1*1*1*0*1", ctx)
    assert again.duplicate and again.action is None
    assert again.screen == done.screen and again.screen.final
    assert "R7K2" in again.screen.text


def test_late_hop_after_the_session_ended_repeats_the_final_screen():
    ctx = context()
    ended = hops(ctx, "", "2")[-1]  # help
    assert ended.screen.final
    late = advance(through_storage(ended.stored), "2*1", ctx)
    assert late.duplicate and late.action is None
    assert late.screen == ended.screen
    assert late.stored == through_storage(ended.stored)


def test_an_older_hop_arriving_late_shows_the_current_screen_without_acting():
    ctx = context()
    results = hops(ctx, "", "1", "1*1")
    for stale in ("1", ""):
        hop = advance(results[-1].stored, stale, ctx)
        assert hop.duplicate and hop.action is None
        assert hop.screen == results[-1].screen


def test_session_starting_mid_way_restarts_at_the_start_screen_and_diffs_from_there():
    ctx = context()
    first = advance(None, "1*3", ctx)
    assert first.screen == start(ctx).screen and first.stored.text == "1*3"
    assert first.action is None and not first.duplicate
    second = advance(first.stored, "1*3*1", ctx)
    assert second.stored.state.step is Step.INCIDENT


def test_unknown_number_starting_mid_way_gets_the_language_choice():
    hop = advance(None, "5", context(lang=None))
    assert hop.stored.state.step is Step.CHOOSE_LANGUAGE_FIRST


def test_text_that_diverges_from_the_stored_one_starts_over_from_it():
    ctx = context()
    results = hops(ctx, "", "1", "1*1")
    restarted = advance(results[-1].stored, "3*7", ctx)
    assert restarted.stored.state.step is Step.MAIN and restarted.stored.text == "3*7"
    assert restarted.screen == start(ctx).screen and not restarted.duplicate


def test_star_typed_inside_an_answer_stays_in_that_answer():
    search = RecordingSearch()
    ctx = context(search=search, registered=False)
    results = hops(ctx, "", "2", "2*ga*bi", "2*ga*bi*Moussa*Ali")  # 2: register, for a number not registered
    assert search.asked == ["ga*bi"]
    assert [hop.action for hop in results if hop.action] == [Register("NE004006003", "Moussa*Ali", "fr")]


def test_star_typed_as_the_first_answer_is_one_invalid_answer():
    results = hops(context(), "", "1*2")
    assert results[-1].stored.state.step is Step.MAIN
    assert results[-1].screen.text.startswith("Choix invalide.\n")


def test_empty_answer_is_refused_once_then_the_session_goes_on():
    ctx = context()
    results = hops(ctx, "", "1", "1*", "1**1")
    assert results[2].stored.state.reason == "Empty answer."
    assert results[3].stored.state.step is Step.PLACE


def test_stored_session_survives_the_database_row_between_hops():
    ctx = context(member=True)
    stored = None
    for text in ("", "2", "2*k7q2"):
        hop = advance(stored, text, ctx)
        stored = through_storage(hop.stored)
        assert stored == hop.stored
    assert hop.action == Acknowledge("K7Q2", "fr")
    done = complete(hop, ctx, AckReply("Alerte K7Q2 prise en charge."))
    assert done.screen.text == "Alerte K7Q2 prise en charge." and done.screen.final
    assert through_storage(done.stored) == done.stored


def test_complete_with_a_failure_ends_with_an_apology_and_is_not_repeated():
    ctx = context()
    results = hops(ctx, "", "1", "1*1", "1*1*1", "1*1*1*0", "1*1*1*0*1")
    failed = complete(results[-1], ctx, ActionFailed())
    assert failed.stored.state.step is Step.FAILED and failed.screen.final
    assert failed.screen.text == "Désolé, un problème est survenu. Réessayez plus tard."
    again = advance(failed.stored, "1*1*1*0*1", ctx)
    assert again.duplicate and again.action is None and again.screen == failed.screen


def test_a_stored_menu_state_keeps_every_field_and_reads_back_the_same() -> None:
    """to_dict is written by hand (asdict was slow): a field added to MenuState must be stored too."""
    for step in Step:
        state = MenuState(step=step, lang="ha", page=1, incident="attack", place=Place("NE004006003", "Gabi", "Dan"),
                          count=3, name="Moussa", candidates=(Place("NE004006003", "Gabi"),), reason="bad_count")
        stored = json.loads(json.dumps(state.to_dict()))
        assert set(stored) == {f.name for f in fields(MenuState)}
        assert MenuState.from_dict(stored) == state
