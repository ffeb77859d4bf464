"""Backtest: which alerts a rule set would have raised on stored reports. Changes nothing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.areas import Gazetteer, as_gazetteer
from alerts.outcomes import ReplayedAlert
from alerts.rules import RuleSet
from alerts.scoring import WindowReport, score_window
from alerts.store import as_utc, load_gazetteer
from gateway.storage.models import Report


@dataclass(frozen=True)
class HistoricReport:
    commune: str
    incident: str
    report: WindowReport


@dataclass
class _Open:
    opened_at: datetime
    level: int
    raised_at: list[tuple[int, datetime]]
    report_ids: set[int]
    senders: set[str]
    last_report_at: datetime


@dataclass
class _Pair:
    window: list[WindowReport] = field(default_factory=list)
    open: _Open | None = None


def replay_reports(history: Iterable[HistoricReport], rules: RuleSet, gazetteer: Gazetteer, since: datetime,
                   until: datetime) -> list[ReplayedAlert]:
    """Score each report at its own arrival time, in time order. Reports before `since` only fill
    the window; an alert closes once its quiet period passes without a report."""
    pairs: dict[tuple[str, str], _Pair] = {}
    done: list[ReplayedAlert] = []
    for item in sorted(history, key=lambda h: (h.report.received_at, h.report.report_id)):
        if item.incident not in rules.defaults or item.report.received_at > until:
            continue
        rule = rules.rule_for(gazetteer.area_path(item.commune), item.incident)
        now = item.report.received_at
        state = pairs.setdefault((item.commune, item.incident), _Pair())
        if state.open and now - state.open.last_report_at >= rule.resolve_after:
            done.append(_closed(item.commune, item.incident, state.open, state.open.last_report_at + rule.resolve_after))
            state.open = None
        state.window = [r for r in state.window if now - r.received_at < rule.window] + [item.report]
        if now < since:
            continue
        score = score_window(state.window, rule, rules.scoring, now)
        if state.open is None and score.level > 0:
            state.open = _Open(now, score.level, [(score.level, now)], set(), set(), now)
        elif state.open and score.level > state.open.level:
            state.open.level = score.level
            state.open.raised_at.append((score.level, now))
        if state.open:
            state.open.last_report_at = now
            counted = set(score.report_ids)
            state.open.report_ids |= counted
            state.open.senders |= {r.sender_key for r in state.window if r.report_id in counted}
    for (commune, incident), state in pairs.items():
        if state.open:
            rule = rules.rule_for(gazetteer.area_path(commune), incident)
            end = state.open.last_report_at + rule.resolve_after
            done.append(_closed(commune, incident, state.open, end if end <= until else None))
    return sorted(done, key=lambda a: (a.opened_at, a.commune, a.incident))


def _closed(commune: str, incident: str, state: _Open, resolved_at: datetime | None) -> ReplayedAlert:
    return ReplayedAlert(commune, incident, state.opened_at, state.level, tuple(state.raised_at),
                         tuple(sorted(state.report_ids)), len(state.senders), resolved_at)


async def replay(session: AsyncSession, rules: RuleSet, since: datetime, until: datetime | None = None,
                 gazetteer: object = None) -> list[ReplayedAlert]:
    """Load the reports from `since` minus the longest window up to `until` (default: all) and
    replay them under `rules`."""
    if until is None:
        latest = (await session.execute(select(func.max(Report.received_at)))).scalar_one_or_none()
        until = max(as_utc(latest) or since, since)
    places = as_gazetteer(gazetteer) if gazetteer is not None else await load_gazetteer(session)
    rows = await session.execute(
        select(Report.id, Report.commune_pcode, Report.incident, Report.sender_key, Report.trust, Report.count,
               Report.received_at, Report.status)
        .where(Report.received_at > since - rules.max_window, Report.received_at <= until,
               Report.commune_pcode.is_not(None))
        .order_by(Report.received_at, Report.id)
    )
    history = [
        HistoricReport(commune, incident,
                       WindowReport(report_id, key, trust, count, as_utc(at), status == "retracted"))
        for report_id, commune, incident, key, trust, count, at, status in rows
    ]
    return replay_reports(history, rules, places, since, until)
