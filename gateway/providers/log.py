"""The provider used without credentials: every SMS is written to the log, none is sent."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from gateway.kernel.envelopes import SendOutcome, SendResult
from gateway.kernel.phones import mask_phone

log = logging.getLogger(__name__)


class LogProvider:
    """Each SMS is logged (the number masked) and kept in the outbox as `logged`."""

    mode = "log"

    async def send(self, text: str, recipients: Sequence[str]) -> list[SendResult]:
        for recipient in recipients:
            log.info("SMS (not sent, no provider credentials) to %s: %s", mask_phone(recipient), text)
        return [SendResult(r, SendOutcome.SENT) for r in recipients]

    async def close(self) -> None:
        """Nothing to release."""
