"""What the outbox sender asks of an SMS provider, whichever it is."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from gateway.kernel.envelopes import SendResult


class SmsProvider(Protocol):
    """Sends one text to a batch of recipients. A provider may name its `mode` ("log" for
    LogProvider), which the sender records; it is "provider" otherwise."""

    async def send(self, text: str, recipients: Sequence[str]) -> list[SendResult]:
        """One result per recipient. A provider-side failure is a RETRY or FAILED result, not an exception."""
        ...

    async def close(self) -> None:
        """Release what the provider holds (connections); called once, after the last send."""
        ...
