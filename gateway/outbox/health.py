"""What the outbox sender saw of each provider lately, for the dashboard: the time its recent
batches took, and whether its latest batch failed on the provider's side."""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

RECENT_BATCHES = 50


@dataclass
class ProviderHealth:
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT_BATCHES))  # seconds
    last_try_at: datetime | None = None
    last_try_failed: bool = False  # every SMS of the latest batch failed on the provider's side

    def observe(self, seconds: float, at: datetime, provider_failed: bool) -> None:
        self.latencies.append(seconds)
        self.last_try_at = at
        self.last_try_failed = provider_failed

    def healthy(self, pinged: bool | None) -> bool:
        """Whether the provider can be counted on: its latest batch did not fail on its side and, for
        a provider that pings (the phone; `pinged` None for the others), its last ping is recent."""
        return not self.last_try_failed and pinged is not False

    def recent_latency(self) -> float | None:
        """The median of the recent batches, in seconds; None before the first."""
        return statistics.median(self.latencies) if self.latencies else None
