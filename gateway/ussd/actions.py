"""What the menu asks the caller to do, and what the caller reports back.

The menu never touches storage: a step that completes something returns one of the
actions below; the caller performs it and, for SubmitReport and Acknowledge, passes the
outcome to `menu.finish` (or `session.complete`) to get the END screen with the result.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SubmitReport:
    incident: str  # taxonomy id
    commune_pcode: str
    village: str | None  # the village name the user picked, when they picked one
    count: int | None  # None: the user skipped the count
    lang: str


@dataclass(frozen=True)
class Register:
    commune_pcode: str
    name: str | None
    lang: str


@dataclass(frozen=True)
class Acknowledge:
    code: str  # upper-cased alert code as typed
    lang: str  # so the caller can word its result text in the user's language


@dataclass(frozen=True)
class SetLanguage:
    lang: str


Action = SubmitReport | Register | Acknowledge | SetLanguage


@dataclass(frozen=True)
class ReportStored:
    """SubmitReport succeeded: the reference the reporter can quote."""
    ref: str


@dataclass(frozen=True)
class AckReply:
    """Acknowledge was handled: the caller's own text (acknowledged, unknown code...)."""
    text: str


@dataclass(frozen=True)
class ActionFailed:
    """Any action could not be performed (storage down): the user gets a polite apology."""


Outcome = ReportStored | AckReply | ActionFailed
