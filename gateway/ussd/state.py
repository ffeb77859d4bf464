"""The menu's state (stored as JSON between hops) and the per-caller context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum

from gateway.kernel.taxonomy import Taxonomy, load_taxonomy


class Step(StrEnum):
    """Where the user is. Values are stored and shown to analysts (where people give up)."""
    CHOOSE_LANGUAGE_FIRST = "choose_language_first"
    MAIN = "main"
    INCIDENT = "incident"
    PLACE = "place"
    PLACE_NAME = "place_name"
    PLACE_PICK = "place_pick"
    COUNT = "count"
    CONFIRM = "confirm"
    REGISTER_COMMUNE = "register_commune"
    REGISTER_PICK = "register_pick"
    REGISTER_NAME = "register_name"
    ACK_CODE = "ack_code"
    CHOOSE_LANGUAGE = "choose_language"
    # Terminal steps: the screen is final (END).
    SUBMITTED = "submitted"
    REGISTERED = "registered"
    ACK_SENT = "ack_sent"
    LANGUAGE_SET = "language_set"
    HELP_SHOWN = "help_shown"
    CANCELLED = "cancelled"
    GAVE_UP = "gave_up"  # second invalid answer in a row
    FAILED = "failed"  # the caller could not perform the action

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STEPS


TERMINAL_STEPS = frozenset({
    Step.SUBMITTED, Step.REGISTERED, Step.ACK_SENT, Step.LANGUAGE_SET, Step.HELP_SHOWN,
    Step.CANCELLED, Step.GAVE_UP, Step.FAILED,
})


@dataclass(frozen=True)
class Place:
    """One answer of the place search: a commune, or a village and its commune."""
    pcode: str
    name: str  # commune name
    village: str | None = None

    def to_dict(self) -> dict:
        return {"pcode": self.pcode, "name": self.name, "village": self.village}


PlaceSearch = Callable[[str, str | None], list[tuple[str, str, str | None]]]


@dataclass(frozen=True)
class MenuContext:
    """What the caller knows about the phone, fixed for one hop."""
    lang: str | None  # None: unknown number, the menu first asks for a language
    is_registered: bool
    home_pcode: str | None
    home_name: str | None
    is_committee_member: bool
    search: PlaceSearch  # (typed text, home P-code) -> [(pcode, commune name, village or None)]
    taxonomy: Taxonomy = field(default_factory=load_taxonomy)

    @property
    def home(self) -> Place | None:
        if self.home_pcode and self.home_name:
            return Place(self.home_pcode, self.home_name)
        return None


@dataclass(frozen=True)
class MenuState:
    step: Step
    lang: str | None = None  # the session's language (None only before the first choice)
    page: int = 0  # incident list page
    incident: str | None = None
    place: Place | None = None
    count: int | None = None
    name: str | None = None  # registration name
    candidates: tuple[Place, ...] = ()  # "did you mean" choices on a *_PICK step
    reason: str | None = None  # msgid of why the last answer was refused (re-prompt once)

    @property
    def finished(self) -> bool:
        return self.step.terminal

    def invalid(self, reason: str) -> MenuState:
        return replace(self, reason=reason)

    def to_dict(self) -> dict:
        """Every field, by hand: dataclasses.asdict deep-copies (6% of a USSD hop's CPU in a profile)."""
        return {"step": self.step.value, "lang": self.lang, "page": self.page, "incident": self.incident,
                "place": self.place.to_dict() if self.place else None, "count": self.count, "name": self.name,
                "candidates": [place.to_dict() for place in self.candidates], "reason": self.reason}

    @classmethod
    def from_dict(cls, data: dict) -> MenuState:
        place = data.get("place")
        return cls(
            step=Step(data["step"]),
            lang=data.get("lang"),
            page=int(data.get("page", 0)),
            incident=data.get("incident"),
            place=Place(**place) if place else None,
            count=data.get("count"),
            name=data.get("name"),
            candidates=tuple(Place(**item) for item in data.get("candidates", ())),
            reason=data.get("reason"),
        )
