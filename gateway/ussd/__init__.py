"""The USSD menu: a pure state machine (menu) and the cumulative-text transport logic (session).

The caller (the USSD view) builds a MenuContext for the phone, calls `advance`, performs
the returned action if any, calls `complete` with the outcome of SubmitReport or
Acknowledge, persists `hop.stored` and answers `END`/`CON` + `hop.screen.text`.
"""

from gateway.kernel.envelopes import UssdScreen
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
from gateway.ussd.menu import StepResult, finish, start, step
from gateway.ussd.session import HopResult, StoredSession, advance, complete
from gateway.ussd.state import MenuContext, MenuState, Place, Step

__all__ = [
    "AckReply", "Acknowledge", "Action", "ActionFailed", "HopResult", "MenuContext", "MenuState", "Outcome",
    "Place", "Register", "ReportStored", "SetLanguage", "Step", "StepResult", "StoredSession", "SubmitReport",
    "UssdScreen", "advance", "complete", "finish", "start", "step",
]
