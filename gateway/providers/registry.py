"""Which providers send SMS, and through which one each SMS leaves.

Each configured provider's sender under its name, in `[providers] order`, with optional
per-prefix routes (built from settings by gateway.outbox.providers). The outbox sender asks it
for a row's provider; nothing else knows which providers exist.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gateway.providers.base import SmsProvider

KNOWN_PROVIDERS = ("africastalking", "android", "kannel")
LOG = "log"  # the name of the provider used when none is configured


class Providers:
    """Senders by name, in order of preference; `routes` maps a number prefix to the names tried first."""

    def __init__(self, senders: Mapping[str, SmsProvider], order: Sequence[str],
                 routes: Mapping[str, Sequence[str]] | None = None):
        if not senders:
            raise ValueError("no provider")
        self.senders = dict(senders)
        self.order = [name for name in order if name in self.senders] or list(self.senders)
        # longest prefix first, so "+2237" wins over "+223"
        self._routes = sorted(((prefix, [n for n in names if n in self.senders]) for prefix, names in
                               (routes or {}).items()), key=lambda item: -len(item[0]))

    @classmethod
    def single(cls, provider: SmsProvider, name: str | None = None) -> Providers:
        """One provider (a test's stand-in, a benchmark's client) under its own name."""
        name = name or getattr(provider, "name", None) or getattr(provider, "mode", None) or "default"
        return cls({name: provider}, [name])

    def candidates(self, recipient: str) -> list[str]:
        """The providers that may send to `recipient`, in the order they are tried."""
        for prefix, names in self._routes:
            if recipient.startswith(prefix) and names:
                return names + [name for name in self.order if name not in names]
        return self.order

    def choose(self, recipient: str, pinned: str | None, attempts: int, tries_before_failover: int) -> str:
        """The provider for the next try of an SMS. `pinned`: the provider a reply must leave through
        (its message came in on it), kept whatever happens when it is configured here. Otherwise
        the first candidate, moving to the next after `tries_before_failover` tries, round again
        after the last."""
        if pinned is not None and pinned in self.senders:
            return pinned
        names = self.candidates(recipient)
        return names[(attempts // max(tries_before_failover, 1)) % len(names)]

    @staticmethod
    def failover_attempts(attempts: int, tries_before_failover: int) -> int:
        """The attempt count at which choose() takes the next provider, for an SMS whose latest of
        `attempts` tries failed on the provider's side after it had been sent."""
        tries = max(tries_before_failover, 1)
        return ((max(attempts, 1) - 1) // tries + 1) * tries

    def mode(self, name: str) -> str:
        """What the sender records as status: "log" for the log provider, "provider" otherwise."""
        return getattr(self.senders[name], "mode", "provider")

    async def close(self) -> None:
        for sender in self.senders.values():
            close = getattr(sender, "close", None)  # a stand-in provider a test injects may hold nothing
            if close:
                await close()
