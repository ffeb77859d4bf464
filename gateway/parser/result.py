"""What the parser understood of one SMS (the JSON of `ewg parse --json`, interface.md)."""

from __future__ import annotations

from dataclasses import dataclass, fields

REPORT, COMMAND, UNKNOWN = "report", "command", "unknown"


@dataclass(frozen=True)
class ParseResult:
    kind: str  # REPORT, COMMAND or UNKNOWN
    incident: str | None = None
    secondary: tuple[str, ...] = ()  # further incidents named in the same message
    commune: str | None = None  # OCHA P-code (for a report, or the commune of a registration)
    commune_name: str | None = None
    village: str | None = None
    count: int | None = None
    command: str | None = None  # help, language, register, acknowledge, retract
    alert_code: str | None = None  # acknowledge
    report_ref: str | None = None  # retract
    language: str | None = None  # language: the one asked for
    name: str | None = None  # register: the name given
    lang: str | None = None  # the message's language: given, else detected from its keywords
    confidence: float = 0.0
    notes: tuple[str, ...] = ()
    free_text: str = ""  # the words not understood, verbatim

    def to_dict(self) -> dict:
        # Field by field rather than dataclasses.asdict, whose deep copy costs more than the
        # rest of storing a message (every field here is a plain value or a tuple of strings).
        data = {name: getattr(self, name) for name in _FIELDS}
        data["secondary"] = list(self.secondary)
        data["notes"] = list(self.notes)
        return data


_FIELDS = tuple(f.name for f in fields(ParseResult))
