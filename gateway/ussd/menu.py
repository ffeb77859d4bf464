"""The USSD menu as a pure state machine: (state, answer, context) -> (state, screen, action).

No I/O and no wire format: the provider adapter adds CON/END from `UssdScreen.final`.

Completing a report or an acknowledgement needs the caller's result, so those steps
return the action with a provisional final screen ("Report received"); the caller
performs the action and calls `finish(state, ctx, outcome)` for the END screen that
carries the report reference (or its own acknowledgement text, or an apology).

An invalid answer re-prompts once with the reason; a second one in a row ends the
session politely (Step.GAVE_UP).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from gateway.kernel.envelopes import UssdScreen
from gateway.ussd import screens
from gateway.ussd.actions import (
    Acknowledge,
    AckReply,
    Action,
    ActionFailed,
    Outcome,
    Register,
    ReportStored,
    SetLanguage,
    SubmitReport,
)
from gateway.ussd.state import MenuContext, MenuState, Place, Step

MAX_COUNT_DIGITS = 5
MAX_NAME_LENGTH = 40
ALERT_CODE = re.compile(r"#?([A-Z0-9]{3,8})")


@dataclass(frozen=True)
class StepResult:
    state: MenuState
    screen: UssdScreen
    action: Action | None = None


@dataclass(frozen=True)
class _Invalid:
    reason: str  # msgid


def start(ctx: MenuContext) -> StepResult:
    if ctx.lang is None:
        return _show(MenuState(Step.CHOOSE_LANGUAGE_FIRST), ctx)
    return _show(MenuState(Step.MAIN, lang=ctx.lang), ctx)


def step(state: MenuState, answer: str, ctx: MenuContext) -> StepResult:
    if state.finished:
        raise ValueError(f"session already ended at {state.step}")
    answer = answer.strip()
    result = _HANDLERS[state.step](state, answer, ctx) if answer else _Invalid(screens.EMPTY_ANSWER)
    if isinstance(result, StepResult):
        return result
    if state.reason is not None:
        return StepResult(replace(state, step=Step.GAVE_UP, reason=None),
                          screens.final(state.lang, "Too many invalid answers. Please dial again."))
    return _show(state.invalid(result.reason), ctx)


def finish(state: MenuState, ctx: MenuContext, outcome: Outcome) -> StepResult:
    """The END screen once the caller has performed the action of the last step."""
    if isinstance(outcome, ActionFailed):
        return StepResult(replace(state, step=Step.FAILED),
                          screens.final(state.lang, "Sorry, a problem occurred. Please try again later."))
    if isinstance(outcome, ReportStored) and state.step is Step.SUBMITTED:
        return StepResult(state, screens.final(
            state.lang, "Report received, ref {ref}. Thank you. To withdraw it, SMS: FAUX {ref}",
            ref=outcome.ref))
    if isinstance(outcome, AckReply) and state.step is Step.ACK_SENT:
        return StepResult(state, screens.caller_text(outcome.text))
    raise ValueError(f"{type(outcome).__name__} does not finish step {state.step}")


def _show(state: MenuState, ctx: MenuContext) -> StepResult:
    return StepResult(state, screens.prompt(state, ctx))


def _go(state: MenuState, ctx: MenuContext, step: Step, **changes: object) -> StepResult:
    return _show(replace(state, step=step, reason=None, **changes), ctx)


def _end(state: MenuState, step: Step, screen: UssdScreen, action: Action | None = None) -> StepResult:
    return StepResult(replace(state, step=step, reason=None, candidates=()), screen, action)


def _language_choice(answer: str) -> str | None:
    return next((code for number, code, _ in screens.LANGUAGES if number == answer), None)


def _on_language_first(state: MenuState, answer: str, ctx: MenuContext) -> StepResult | _Invalid:
    lang = _language_choice(answer)
    if lang is None:
        return _Invalid(screens.INVALID_CHOICE)
    return _go(state, ctx, Step.MAIN, lang=lang)


def _on_language(state: MenuState, answer: str, ctx: MenuContext) -> StepResult | _Invalid:
    lang = _language_choice(answer)
    if lang is None:
        return _Invalid(screens.INVALID_CHOICE)
    screen = screens.final(lang, "Language set: {language}.", language=screens.LANGUAGE_NAMES[lang])
    return _end(replace(state, lang=lang), Step.LANGUAGE_SET, screen, SetLanguage(lang))


def _on_main(state: MenuState, answer: str, ctx: MenuContext) -> StepResult | _Invalid:
    choice = dict(screens.main_options(ctx)).get(answer)
    if choice is None:
        return _Invalid(screens.INVALID_CHOICE)
    if choice == screens.REPORT:
        return _go(state, ctx, Step.INCIDENT, page=0)
    if choice == screens.ACKNOWLEDGE:
        return _go(state, ctx, Step.ACK_CODE)
    if choice == screens.REGISTER:
        return _go(state, ctx, Step.REGISTER_COMMUNE)
    if choice == screens.HELP_OPTION:
        return _end(state, Step.HELP_SHOWN, screens.final(state.lang, screens.HELP))
    return _go(state, ctx, Step.CHOOSE_LANGUAGE)


def _on_incident(state: MenuState, answer: str, ctx: MenuContext) -> StepResult | _Invalid:
    pages = screens.incident_pages(ctx.taxonomy, state.lang or "fr")
    if answer == "0" and len(pages) > 1:
        return _go(state, ctx, Step.INCIDENT, page=(state.page + 1) % len(pages))
    incident = ctx.taxonomy.by_code(int(answer)) if answer.isdigit() else None
    if incident is None:
        return _Invalid(screens.INVALID_CHOICE)
    next_step = Step.PLACE if ctx.home is not None else Step.PLACE_NAME
    return _go(state, ctx, next_step, incident=incident.id)


def _on_place(state: MenuState, answer: str, ctx: MenuContext) -> StepResult | _Invalid:
    if answer == "1":
        return _go(state, ctx, Step.COUNT, place=ctx.home)
    if answer == "2":
        return _go(state, ctx, Step.PLACE_NAME)
    return _Invalid(screens.INVALID_CHOICE)


def _search(state: MenuState, answer: str, ctx: MenuContext, pick: Step, found: Step) -> StepResult | _Invalid:
    places = list(dict.fromkeys(Place(pcode, name, village)
                                for pcode, name, village in ctx.search(answer, ctx.home_pcode)))
    if not places:
        return _Invalid(screens.NO_PLACE)
    if len(places) == 1:
        return _go(state, ctx, found, place=places[0])
    return _go(state, ctx, pick, candidates=screens.fitting_candidates(places, state.lang or "fr"))


def _pick(state: MenuState, answer: str, ctx: MenuContext, retype: Step, found: Step) -> StepResult | _Invalid:
    if answer == "0":
        return _go(state, ctx, retype, candidates=())
    if answer.isdigit() and 1 <= int(answer) <= len(state.candidates):
        return _go(state, ctx, found, place=state.candidates[int(answer) - 1], candidates=())
    return _Invalid(screens.INVALID_CHOICE)


def _on_count(state: MenuState, answer: str, ctx: MenuContext) -> StepResult | _Invalid:
    if not answer.isdigit() or len(answer) > MAX_COUNT_DIGITS:
        return _Invalid(screens.NOT_A_NUMBER)
    return _go(state, ctx, Step.CONFIRM, count=int(answer) or None)


def _on_confirm(state: MenuState, answer: str, ctx: MenuContext) -> StepResult | _Invalid:
    if answer == "1":
        assert state.incident is not None and state.place is not None
        action = SubmitReport(state.incident, state.place.pcode, state.place.village, state.count,
                              state.lang or "fr")
        return _end(state, Step.SUBMITTED, screens.final(state.lang, "Report received. Thank you."), action)
    if answer == "2":
        return _end(state, Step.CANCELLED, screens.final(state.lang, "Cancelled. Nothing was sent."))
    return _Invalid(screens.INVALID_CHOICE)


def _on_register_name(state: MenuState, answer: str, ctx: MenuContext) -> StepResult | _Invalid:
    if len(answer) > MAX_NAME_LENGTH:
        return _Invalid(screens.NAME_TOO_LONG)
    assert state.place is not None
    name = None if answer == "0" else " ".join(answer.split())
    screen = screens.final(state.lang, "Request received for {commune}. An administrator will confirm it.",
                           commune=screens.shorten(state.place.name))
    return _end(replace(state, name=name), Step.REGISTERED, screen,
                Register(state.place.pcode, name, state.lang or "fr"))


def _on_ack_code(state: MenuState, answer: str, ctx: MenuContext) -> StepResult | _Invalid:
    match = ALERT_CODE.fullmatch(answer.upper().replace(" ", ""))
    if match is None:
        return _Invalid(screens.INVALID_CODE)
    screen = screens.final(state.lang, "Acknowledgement received.")
    return _end(state, Step.ACK_SENT, screen, Acknowledge(match.group(1), state.lang or "fr"))


Handler = Callable[[MenuState, str, MenuContext], "StepResult | _Invalid"]

_HANDLERS: dict[Step, Handler] = {
    Step.CHOOSE_LANGUAGE_FIRST: _on_language_first,
    Step.CHOOSE_LANGUAGE: _on_language,
    Step.MAIN: _on_main,
    Step.INCIDENT: _on_incident,
    Step.PLACE: _on_place,
    Step.PLACE_NAME: lambda s, a, c: _search(s, a, c, pick=Step.PLACE_PICK, found=Step.COUNT),
    Step.PLACE_PICK: lambda s, a, c: _pick(s, a, c, retype=Step.PLACE_NAME, found=Step.COUNT),
    Step.COUNT: _on_count,
    Step.CONFIRM: _on_confirm,
    Step.REGISTER_COMMUNE: lambda s, a, c: _search(s, a, c, pick=Step.REGISTER_PICK, found=Step.REGISTER_NAME),
    Step.REGISTER_PICK: lambda s, a, c: _pick(s, a, c, retype=Step.REGISTER_COMMUNE, found=Step.REGISTER_NAME),
    Step.REGISTER_NAME: _on_register_name,
    Step.ACK_CODE: _on_ack_code,
}
