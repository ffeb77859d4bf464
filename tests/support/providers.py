"""SMS providers injected into the gateway in this process, scripted by the test."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.kernel.envelopes import SendOutcome, SendResult


class ScriptedProvider:
    """Answers RETRY while `down` (an outage: HTTP 500 or a timeout), SENT otherwise; records every call."""

    mode = "provider"

    def __init__(self) -> None:
        self.down = False
        self.calls: list[tuple[str, tuple[str, ...]]] = []
        self.delivered: list[tuple[str, str]] = []  # (recipient, text) accepted

    async def send(self, text: str, recipients: Sequence[str]) -> list[SendResult]:
        self.calls.append((text, tuple(recipients)))
        if self.down:
            return [SendResult(r, SendOutcome.RETRY, reason="http_500") for r in recipients]
        self.delivered.extend((r, text) for r in recipients)
        return [SendResult(r, SendOutcome.SENT, provider_message_id=f"ATX-{r}") for r in recipients]


class NumberedProvider(ScriptedProvider):
    """A ScriptedProvider whose every accepted SMS gets a message id of its own, as Africa's
    Talking gives: a delivery report names one send, not the recipient."""

    name = "africastalking"

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[tuple[str, str]] = []  # (recipient, message id) of each SMS accepted
        self.refused: set[str] = set()  # numbers it refuses as invalid, as the send's answer says

    async def send(self, text: str, recipients: Sequence[str]) -> list[SendResult]:
        refused = [SendResult(r, SendOutcome.FAILED, reason="InvalidPhoneNumber") for r in recipients
                   if r in self.refused]
        results = refused + await super().send(text, [r for r in recipients if r not in self.refused])
        numbered = []
        for result in results:
            if result.outcome is SendOutcome.SENT:
                result = SendResult(result.recipient, SendOutcome.SENT, f"ATXid_{len(self.ids) + 1}")
                self.ids.append((result.recipient, result.provider_message_id))
            numbered.append(result)
        return numbered

    def last_id(self, recipient: str) -> str:
        return [message_id for number, message_id in self.ids if number == recipient][-1]
