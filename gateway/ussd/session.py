"""USSD transport logic, pure: turn Africa's Talking's cumulative `text` into menu steps.

The provider sends every answer so far joined by `*` ("" on the first hop). A user may
type `*` inside an answer, so the newest answer is what follows the previous hop's text,
never a blind split. The stored session is what the caller persists between hops:

    last_text   = stored.text
    state       = stored.state.to_dict()        (JSON)
    last_screen = stored.screen.text            (final iff stored.state.finished)

and rebuilds with `StoredSession.from_row(last_text, state, last_screen)`.

Hops that must not act again (the same text repeated, an older text arriving late, any
hop after the final screen) return the stored screen with `duplicate=True` and no action.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from gateway.kernel.envelopes import UssdScreen
from gateway.ussd import menu
from gateway.ussd.actions import Action, Outcome
from gateway.ussd.state import MenuContext, MenuState

SEPARATOR = "*"


@dataclass(frozen=True)
class StoredSession:
    text: str  # the cumulative text this session last answered
    state: MenuState
    screen: UssdScreen  # the screen last sent, sent again on a repeated or late hop

    def to_row(self) -> dict:
        return {"last_text": self.text, "state": self.state.to_dict(), "last_screen": self.screen.text}

    @classmethod
    def from_row(cls, last_text: str, state: dict, last_screen: str) -> StoredSession:
        menu_state = MenuState.from_dict(state)
        return cls(last_text, menu_state, UssdScreen(last_screen, final=menu_state.finished))


@dataclass(frozen=True)
class HopResult:
    stored: StoredSession  # to persist
    screen: UssdScreen  # to send (CON if not final, END if final)
    action: Action | None  # to perform; then call `complete` for SubmitReport / Acknowledge
    duplicate: bool  # this hop was already answered: nothing new happened


def newest_answer(previous: str, text: str) -> str | None:
    """The answer typed since the previous hop, or None when `text` does not extend it."""
    if previous == "":
        return text if text else None
    prefix = previous + SEPARATOR
    return text[len(prefix):] if text.startswith(prefix) else None


def advance(stored: StoredSession | None, text: str, ctx: MenuContext) -> HopResult:
    if stored is None:
        # A first hop, or a session that starts mid-way (dialled with extra digits, or its
        # stored row is gone): show the start screen; later hops are diffed against `text`.
        return _fresh(menu.start(ctx), text)
    if stored.state.finished or text == stored.text or stored.text.startswith(text + SEPARATOR) \
            or (text == "" and stored.text != ""):
        return HopResult(stored, stored.screen, None, duplicate=True)
    answer = newest_answer(stored.text, text)
    if answer is None:
        # The text went somewhere the session never was: start over from this text.
        return _fresh(menu.start(ctx), text)
    result = menu.step(stored.state, answer, ctx)
    return HopResult(StoredSession(text, result.state, result.screen), result.screen, result.action,
                     duplicate=False)


def complete(hop: HopResult, ctx: MenuContext, outcome: Outcome) -> HopResult:
    """The hop with its END screen once the caller has performed `hop.action`."""
    result = menu.finish(hop.stored.state, ctx, outcome)
    stored = replace(hop.stored, state=result.state, screen=result.screen)
    return replace(hop, stored=stored, screen=result.screen)


def _fresh(result: menu.StepResult, text: str) -> HopResult:
    return HopResult(StoredSession(text, result.state, result.screen), result.screen, result.action,
                     duplicate=False)
