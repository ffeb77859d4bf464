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
