"""What the outbox sender asks of an SMS provider, whichever it is."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from gateway.kernel.envelopes import Outgoing, SendResult


class SmsProvider(Protocol):
    """Sends one text to a batch of recipients. A provider may name its `mode` ("log" for
    LogProvider), which the sender records; it is "provider" otherwise. A provider that tracks
    each SMS by our id (its delivery reports name it) sets `per_sms = True` and is also given
    `outgoing`: the batch's outbox ids and expiries, in the order of `recipients`.

    Outcomes: RETRY is a provider-side failure (unreachable, 5xx, timeout, out of credit): the
    SMS may move to the next provider. FAILED is the recipient's (invalid number, blacklisted):
    no provider would do better."""

    async def send(self, text: str, recipients: Sequence[str],
                   outgoing: Sequence[Outgoing] | None = None) -> list[SendResult]:
        """One result per recipient. A provider-side failure is a RETRY or FAILED result, not an exception."""
        ...

    async def close(self) -> None:
        """Release what the provider holds (connections); called once, after the last send."""
        ...
