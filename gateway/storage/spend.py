"""What SMS cost: the spend of one SMS (the provider's reported cost, else the configured price per
segment), its sum per day (UTC) and provider in sms_spend, and the month's spend against
`[costs] monthly_budget`. The one owner of these rules: the sender, the dashboard, the metrics and
broadcasts call it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cache

from sqlalchemy import Insert, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.config import CostsSettings
from gateway.storage.dialects import conflict_insert, dialect_of
from gateway.storage.models import Outbox, SmsSpend
from gateway.storage.outbox import PENDING

WARN_AT = 0.8  # share of the monthly budget at which the dashboard and /metrics warn
STOPPED = "stopped"  # the outbox status of a broadcast SMS the budget kept from leaving
STOPPED_REASON = "stopped: monthly budget reached"
# Any constant key: the transaction-scoped PostgreSQL lock that makes a budget check and the queueing after it one step.
_BUDGET_LOCK = 0x45574742


def segment_price(costs: CostsSettings, provider: str) -> float:
    """The configured price of one segment through `provider` (0 for the log, which sends nothing)."""
    return float(getattr(costs, provider, 0.0)) if provider in ("africastalking", "android", "kannel") else 0.0


def sms_spend(costs: CostsSettings, provider: str, reported: str | None, segments: int) -> float:
    """What one sent SMS cost: the provider's own figure ("XOF 25.0000") when it gives one in the
    budget's currency, else the configured price of its segments."""
    currency, _, amount = (reported or "").strip().partition(" ")
    if currency.upper() == costs.currency.upper():
        try:
            value = float(amount)
        except ValueError:
            value = -1.0
        if value >= 0:
            return value
    return segment_price(costs, provider) * max(segments, 1)


@dataclass(frozen=True)
class SpendLine:
    day: date
    provider: str
    amount: float
    sms: int
    segments: int


@cache
def _upsert(dialect: str) -> Insert:
    statement = conflict_insert(dialect, SmsSpend.__table__)
    table = SmsSpend.__table__
    return statement.on_conflict_do_update(index_elements=["day", "provider"], set_={
        "amount": table.c.amount + statement.excluded.amount, "sms": table.c.sms + statement.excluded.sms,
        "segments": table.c.segments + statement.excluded.segments})


async def add_spend(session: AsyncSession, lines: list[SpendLine]) -> None:
    """Add to the day's and provider's totals (in the transaction that records the sends)."""
    if not lines:
        return
    statement = _upsert(dialect_of(session))
    for line in lines:  # a few (day, provider) pairs per batch of results
        await session.execute(statement.values(day=line.day, provider=line.provider, amount=line.amount,
                                               sms=line.sms, segments=line.segments))


async def daily_spend(session: AsyncSession, since: date) -> list[SpendLine]:
    rows = await session.execute(select(SmsSpend).where(SmsSpend.day >= since)
                                 .order_by(SmsSpend.day.desc(), SmsSpend.provider))
    return [SpendLine(r.day, r.provider, r.amount, r.sms, r.segments) for r in rows.scalars()]


@dataclass(frozen=True)
class Budget:
    spent: float  # this calendar month (UTC)
    budget: float  # 0: none
    currency: str
    reserved: float = 0.0  # broadcast SMS queued and not yet sent, at the estimate's price

    @property
    def share(self) -> float:
        return self.spent / self.budget if self.budget > 0 else 0.0

    @property
    def warning(self) -> bool:
        return self.budget > 0 and self.share >= WARN_AT

    @property
    def exhausted(self) -> bool:
        return self.budget > 0 and self.spent >= self.budget

    def refusal(self, estimate: float) -> str | None:
        """Why a broadcast costing about `estimate` may not leave (None: it may); alerts, replies and
        acknowledgements never ask."""
        if self.budget <= 0:
            return None
        if self.exhausted:
            return (f"the monthly SMS budget is spent ({self.spent:.0f} of {self.budget:.0f} {self.currency}): "
                    "broadcasts are stopped until next month or a higher [costs] monthly_budget")
        if self.spent + self.reserved + estimate > self.budget:
            queued = f", with {self.reserved:.0f} of broadcasts queued" if self.reserved else ""
            return (f"this broadcast (about {estimate:.0f} {self.currency}) would take the month's SMS spend "
                    f"({self.spent:.0f}{queued}) over the budget of {self.budget:.0f} {self.currency}")
        return None


async def month_budget(session: AsyncSession, costs: CostsSettings, now: datetime,
                       reserve_at: float | None = None, lock: bool = False) -> Budget:
    """The month's spend against the budget. `reserve_at` (the price of a segment): the check before
    queueing a broadcast, which counts the broadcast SMS queued and not yet sent as spent. Either that
    or `lock` holds the budget lock to the transaction's end, so two checks never both pass."""
    if (lock or reserve_at is not None) and costs.monthly_budget > 0:
        await lock_budget(session)
    first = now.date().replace(day=1)
    spent = (await session.execute(select(func.coalesce(func.sum(SmsSpend.amount), 0.0))
                                   .where(SmsSpend.day >= first))).scalar_one()
    reserved = 0.0
    if reserve_at is not None and costs.monthly_budget > 0:
        segments = (await session.execute(select(func.coalesce(func.sum(Outbox.segments), 0)).where(
            Outbox.kind == "broadcast", Outbox.status.in_(PENDING)))).scalar_one()
        reserved = float(segments) * reserve_at
    return Budget(float(spent), float(costs.monthly_budget), costs.currency, reserved)


async def charged_per_segment(session: AsyncSession, now: datetime) -> dict[str, float]:
    """What each provider charged a segment this month, from its own reports (sms_spend)."""
    first = now.date().replace(day=1)
    rows = await session.execute(select(SmsSpend.provider, func.sum(SmsSpend.amount), func.sum(SmsSpend.segments))
                                 .where(SmsSpend.day >= first).group_by(SmsSpend.provider))
    return {provider: float(amount) / segments for provider, amount, segments in rows if segments}


def segment_cost(costs: CostsSettings, provider: str, charged: dict[str, float]) -> float:
    """The budget's price of a segment not yet recorded: what the provider charged this month, or the
    configured price when that is higher or unknown (a budget errs on the side of stopping)."""
    return max(charged.get(provider, 0.0), segment_price(costs, provider))


async def broadcasts_in_flight(session: AsyncSession) -> list[tuple[str, str | None, str, int, int]]:
    """The broadcast SMS a sender has claimed and not yet recorded (recipient, provider, kind, attempts,
    segments): their cost is in no spend yet, so a concurrent budget check counts them itself."""
    rows = await session.execute(select(Outbox.recipient, Outbox.provider, Outbox.kind, Outbox.attempts,
                                        Outbox.segments).where(Outbox.kind == "broadcast", Outbox.status == "sending"))
    return [tuple(row) for row in rows]


async def lock_budget(session: AsyncSession) -> None:
    """The budget's lock, taken by a check and by the recording of broadcast SMS, so that a check reads
    the spend and the SMS in flight as one moment (under READ COMMITTED a recording committed between
    its two reads would be in neither). PostgreSQL: a lock held until the transaction ends. SQLite
    needs none: a gateway on SQLite writes through one connection, held by a transaction from its
    first statement to its end."""
    if dialect_of(session) == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _BUDGET_LOCK})
