"""Queries the alert service needs, each small and index-backed."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import DateTime, String, and_, bindparam, func, insert, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.areas import AreaPath, StaticGazetteer
from alerts.pipeline import OtherAlert
from alerts.routing import Member
from alerts.scoring import WindowReport
from gateway.storage.dialects import conflict_insert, dialect_of
from gateway.storage.models import (
    AdminUnit,
    Alert,
    AlertReport,
    CommitteeMember,
    Notification,
    Outbox,
    Report,
    sqlite_time,
)
from gateway.storage.outbox import OutboundSms, enqueue

ACTIVE = ("open", "escalated", "acknowledged")  # an alert that still stands
UNACKNOWLEDGED = ("open", "escalated")
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, no 1/I: read aloud and typed on keypads
CODE_LENGTH = 4
LINKS_PER_STATEMENT = 500  # alert-report links per INSERT: well under SQLite's and asyncpg's bound parameters


# The statements every scoring pass runs, built once: building a statement and computing its cache
# key cost more CPU than running it (gateway.sms.ingest; BENCHMARKS.md).
# One row per sender, trust and count: the newest of them weighs the most (alerts.scoring), so a
# pass reads a few rows per reporter however many reports the windows hold (a mass event). The
# pass's (commune, incident, start) triples come as one table (SQLite: a JSON array read by
# json_each; PostgreSQL: three arrays unnested) joined to ix_reports_window, so each pair's own
# window is read and nothing else (IN lists of communes and of incidents would read their cross
# product, several times the rows in a flood spread over many communes).
_SQLITE_PAIRS = func.json_each(bindparam("pairs")).table_valued("value").alias("pairs")
_PG_PAIRS = func.unnest(bindparam("communes", type_=postgresql.ARRAY(String)),
                        bindparam("incidents", type_=postgresql.ARRAY(String)),
                        bindparam("starts", type_=postgresql.ARRAY(DateTime(timezone=True)))
                        ).table_valued("commune", "incident", "start").render_derived(name="pairs")


def _window_senders(pairs, commune, incident, start):
    return select(
        Report.commune_pcode, Report.incident, Report.sender_key, Report.trust, Report.count,
        func.max(Report.received_at), func.max(Report.id), func.count(),
    ).join_from(pairs, Report, and_(Report.commune_pcode == commune, Report.incident == incident,
                                    Report.received_at > start)
    ).where(Report.status != "retracted").group_by(
        Report.commune_pcode, Report.incident, Report.sender_key, Report.trust, Report.count)


_WINDOW_SENDERS = {
    "sqlite": _window_senders(_SQLITE_PAIRS, *(func.json_extract(_SQLITE_PAIRS.c.value, f"$[{n}]") for n in range(3))),
    "postgresql": _window_senders(_PG_PAIRS, _PG_PAIRS.c.commune, _PG_PAIRS.c.incident, _PG_PAIRS.c.start),
}
_WINDOW_IDS = select(Report.id).where(Report.commune_pcode == bindparam("commune"),
                                      Report.incident == bindparam("incident"), Report.received_at > bindparam("since"),
                                      Report.status != "retracted").order_by(Report.id)
_ACTIVE_ALERTS = select(Alert).where(
    Alert.commune_pcode.in_(bindparam("communes", expanding=True)),
    Alert.incident.in_(bindparam("incidents", expanding=True)), Alert.status.in_(ACTIVE)).order_by(Alert.id)
_COMMUNES_OPEN = select(Alert).where(
    Alert.commune_pcode.in_(bindparam("communes", expanding=True)), Alert.status.in_(ACTIVE)).order_by(Alert.id)
_MEMBERS_OF_AREAS = select(CommitteeMember).where(
    CommitteeMember.area_pcode.in_(bindparam("areas", expanding=True)), CommitteeMember.active.is_(True))
_SENT_LEVELS = select(Notification.alert_id, Notification.member_id, func.max(Notification.level)).where(
    Notification.alert_id.in_(bindparam("alerts", expanding=True)), Notification.decision == "sent",
    Notification.member_id.is_not(None)).group_by(Notification.alert_id, Notification.member_id)
_CODE_TAKEN = select(Alert.id).where(Alert.code == bindparam("code"))
_INSERT_NOTIFICATIONS = insert(Notification)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything here is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


async def load_gazetteer(session: AsyncSession) -> StaticGazetteer:
    """Names and parents of every administrative unit (about a thousand rows for Niger and Mali)."""
    rows = (await session.execute(select(AdminUnit.pcode, AdminUnit.name, AdminUnit.parent_pcode))).all()
    return StaticGazetteer({p: n for p, n, _ in rows}, {p: parent for p, _, parent in rows})


async def window_reports(session: AsyncSession, commune: str, incident: str,
                         since: datetime) -> list[WindowReport]:
    """The reports of one commune and incident since a time: served by ix_reports_window, so the
    cost depends on the window's reports, not on how many are stored."""
    rows = await session.execute(
        select(Report.id, Report.sender_key, Report.trust, Report.count, Report.received_at, Report.status)
        .where(Report.commune_pcode == commune, Report.incident == incident, Report.received_at > since)
    )
    return [WindowReport(i, key, trust, count, as_utc(at), status == "retracted")
            for i, key, trust, count, at, status in rows]


async def windows_senders(session: AsyncSession, since: dict[tuple[str, str], datetime]
                          ) -> tuple[dict[tuple[str, str], list[WindowReport]], dict[tuple[str, str], int]]:
    """For many (commune, incident) pairs in one query (each pair its own start), the reports that
    can be a sender's best in `score_window`: per sender, trust and count, the newest one not
    retracted. They give the score every report of the window gives; its `report_ids` are only
    these (`window_report_ids` reads them all). Also, per pair, how many reports its window holds."""
    found: dict[tuple[str, str], list[WindowReport]] = {pair: [] for pair in since}
    reports = dict.fromkeys(since, 0)
    if not since:
        return found, reports
    dialect = dialect_of(session)
    if dialect == "postgresql":
        pairs = list(since.items())
        parameters = {"communes": [c for (c, _), _ in pairs], "incidents": [i for (_, i), _ in pairs],
                      "starts": [start for _, start in pairs]}
    else:
        starts = {start: sqlite_time(start) for start in set(since.values())}  # most pairs share a window
        parameters = {"pairs": json.dumps([[c, i, starts[start]] for (c, i), start in since.items()])}
    await session.flush()  # read through the connection (plain rows, no ORM machinery per row): see pending changes
    rows = await (await session.connection()).execute(_WINDOW_SENDERS[dialect], parameters)
    for commune, incident, key, trust, count, newest, report_id, alike in rows:
        found[(commune, incident)].append(WindowReport(report_id, key, trust, count, as_utc(newest)))
        reports[(commune, incident)] += alike
    return found, reports


async def window_report_ids(session: AsyncSession, pair: tuple[str, str], since: datetime) -> list[int]:
    """Every report of a pair's window that is not retracted (what a new alert is linked to)."""
    commune, incident = pair
    return list((await session.execute(_WINDOW_IDS, {"commune": commune, "incident": incident,
                                                     "since": since})).scalars())


async def active_alerts(session: AsyncSession, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Alert]:
    """The standing alert of each (commune, incident) pair that has one (the newest)."""
    pairs = list(pairs)
    if not pairs:
        return {}
    wanted = set(pairs)
    rows = await session.execute(_ACTIVE_ALERTS, {"communes": sorted({c for c, _ in wanted}),
                                                  "incidents": sorted({i for _, i in wanted})})
    return {(alert.commune_pcode, alert.incident): alert for alert in rows.scalars()
            if (alert.commune_pcode, alert.incident) in wanted}


async def lock_communes(session: AsyncSession, communes: Iterable[str]) -> None:
    """Serialise scorers of these communes across replicas (PostgreSQL; SQLite has one writer).
    NO KEY UPDATE does not block the key-share lock every report insert takes (its foreign key);
    taken in P-code order so two scorers cannot deadlock."""
    if dialect_of(session) != "postgresql":
        return
    await session.execute(select(AdminUnit.pcode).where(AdminUnit.pcode.in_(sorted(set(communes))))
                          .order_by(AdminUnit.pcode).with_for_update(key_share=True))


async def others_open(session: AsyncSession, alert: Alert) -> tuple[OtherAlert, ...]:
    rows = await session.execute(
        select(Alert.code, Alert.incident, Alert.level).where(
            Alert.commune_pcode == alert.commune_pcode, Alert.status.in_(ACTIVE), Alert.id != alert.id)
        .order_by(Alert.id)
    )
    return tuple(OtherAlert(code, incident, level) for code, incident, level in rows)


async def members_for(session: AsyncSession, path: AreaPath) -> list[Member]:
    return await members_of(session, path.pcodes)


async def members_of(session: AsyncSession, pcodes: Iterable[str]) -> list[Member]:
    """The active committee members of these areas, in the order they were added."""
    rows = await session.execute(
        select(CommitteeMember).where(CommitteeMember.area_pcode.in_(sorted(pcodes)), CommitteeMember.active.is_(True))
        .order_by(CommitteeMember.id)
    )
    return [Member(m.id, m.phone, m.name, m.area_pcode, m.role, m.lang) for m in rows.scalars()]


async def standing_in(session: AsyncSession, communes: Iterable[str], *, besides: int | None = None
                      ) -> dict[str, list[OtherAlert]]:
    """Commune -> the alerts still standing there (all but `besides`), oldest first."""
    query = select(Alert.commune_pcode, Alert.code, Alert.incident, Alert.level).where(
        Alert.commune_pcode.in_(sorted(communes)), Alert.status.in_(ACTIVE))
    if besides is not None:
        query = query.where(Alert.id != besides)
    standing: dict[str, list[OtherAlert]] = {}
    for commune, code, incident, level in await session.execute(query.order_by(Alert.id)):
        standing.setdefault(commune, []).append(OtherAlert(code, incident, level))
    return standing


async def sent_levels(session: AsyncSession, alert_id: int) -> dict[int, int]:
    """Member id -> the highest level already sent to them for this alert."""
    rows = await session.execute(
        select(Notification.member_id, func.max(Notification.level))
        .where(Notification.alert_id == alert_id, Notification.decision == "sent",
               Notification.member_id.is_not(None))
        .group_by(Notification.member_id)
    )
    return {member_id: level for member_id, level in rows}


async def notified_members(session: AsyncSession, alert_id: int) -> list[CommitteeMember]:
    sent = select(Notification.member_id).where(Notification.alert_id == alert_id, Notification.decision == "sent")
    rows = await session.execute(select(CommitteeMember).where(CommitteeMember.id.in_(sent)))
    return list(rows.scalars())


@dataclass(frozen=True)
class AlertEvidence:
    """What the reports linked to an alert say, for its text: no numbers, no names."""

    reporters: int
    max_count: int | None


async def alert_evidence(session: AsyncSession, alert_id: int) -> AlertEvidence:
    row = (await session.execute(
        select(func.count(func.distinct(Report.sender_key)), func.max(Report.count))
        .join(AlertReport, and_(AlertReport.report_id == Report.id, AlertReport.alert_id == alert_id))
        .where(Report.status == "valid")
    )).one()
    return AlertEvidence(int(row[0] or 0), row[1])


async def new_alert_code(session: AsyncSession, draw=secrets.choice) -> str:
    """A short code not used by any alert yet (about a million possibilities)."""
    while True:
        code = "".join(draw(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if (await session.execute(_CODE_TAKEN, {"code": code})).first() is None:
            return code


async def enqueue_by_key(session: AsyncSession, messages: list[OutboundSms], now: datetime) -> dict[str, int]:
    """Queue and map dedup keys to the ids of rows created now (a key already queued maps to nothing)."""
    new_ids = set(await enqueue(session, messages, now))
    if not new_ids:
        return {}
    found: dict[str, int] = {}
    keys = [m.dedup_key for m in messages]
    for start in range(0, len(keys), 500):
        rows = await session.execute(select(Outbox.dedup_key, Outbox.id).where(Outbox.dedup_key.in_(keys[start:start + 500])))
        found.update({key: row_id for key, row_id in rows if row_id in new_ids})
    return found


def minutes_between(start: datetime, end: datetime) -> int:
    return max(int((end - start) / timedelta(minutes=1)), 0)


@dataclass
class PassReads:
    """What the notifications of one scoring pass read, fetched for all its pairs at once, and what
    they write, written at once at the end of the pass: a pass that updates k standing alerts runs
    a few statements for all of them instead of a few for each (the single SQLite writer is held
    for that long, and USSD hops wait for it)."""

    members_by_area: dict[str, list[Member]]
    open_by_commune: dict[str, list[Alert]]  # the session's own Alert objects: levels raised in the pass show
    sent_by_alert: dict[int, dict[int, int]]
    links: list[dict] = field(default_factory=list)
    notifications: list[dict] = field(default_factory=list)

    def members_for(self, path: AreaPath) -> list[Member]:
        return sorted((m for pcode in path.pcodes for m in self.members_by_area.get(pcode, ())), key=lambda m: m.id)

    def others_open(self, alert: Alert) -> tuple[OtherAlert, ...]:
        return tuple(OtherAlert(other.code, other.incident, other.level)
                     for other in self.open_by_commune.get(alert.commune_pcode, ())
                     if other.id != alert.id and other.status in ACTIVE)

    def sent_levels(self, alert_id: int) -> dict[int, int]:
        return self.sent_by_alert.get(alert_id, {})

    def opened(self, alert: Alert) -> None:
        self.open_by_commune.setdefault(alert.commune_pcode, []).append(alert)

    async def write_links(self, session: AsyncSession) -> None:
        for start in range(0, len(self.links), LINKS_PER_STATEMENT):
            statement = conflict_insert(dialect_of(session), AlertReport).values(
                self.links[start:start + LINKS_PER_STATEMENT])
            await session.execute(statement.on_conflict_do_nothing(index_elements=["alert_id", "report_id"]))
        self.links = []

    async def write(self, session: AsyncSession) -> None:
        await self.write_links(session)
        if self.notifications:
            await session.execute(_INSERT_NOTIFICATIONS, self.notifications)
            self.notifications = []


async def pass_reads(session: AsyncSession, paths: Iterable[AreaPath], alerts: Iterable[Alert]) -> PassReads:
    """Members of every area of `paths`, the open alerts of their communes, and the levels already
    sent for each of `alerts`: three queries."""
    paths = list(paths)
    pcodes = {pcode for path in paths for pcode in path.pcodes}
    members: dict[str, list[Member]] = {}
    for m in (await session.execute(_MEMBERS_OF_AREAS, {"areas": sorted(pcodes)})).scalars():
        members.setdefault(m.area_pcode, []).append(Member(m.id, m.phone, m.name, m.area_pcode, m.role, m.lang))
    open_alerts: dict[str, list[Alert]] = {}
    for alert in (await session.execute(_COMMUNES_OPEN, {"communes": sorted({path.commune for path in paths})})
                  ).scalars():
        open_alerts.setdefault(alert.commune_pcode, []).append(alert)
    sent: dict[int, dict[int, int]] = {}
    alert_ids = [alert.id for alert in alerts]
    if alert_ids:
        for alert_id, member_id, level in await session.execute(_SENT_LEVELS, {"alerts": alert_ids}):
            sent.setdefault(alert_id, {})[member_id] = level
    return PassReads(members, open_alerts, sent)
