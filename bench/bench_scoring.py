"""Benchmark: scoring cost per new report at 10k, 100k and 1M stored reports (it must stay flat),
and an alert fanned out to 1,000 committee members (rendered and queued in the outbox).

    .venv/bin/python bench/bench_scoring.py [--sizes 10000,100000,1000000] [--new 300]

Synthetic history is bulk-inserted into a SQLite file (spread over two years, already scored),
then fresh reports are scored through alerts.service.score_pending_reports exactly as the
gateway does. Handing the outbox to the provider is the sender's job and is not measured here."""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select  # noqa: E402

from alerts import service  # noqa: E402
from alerts.areas import StaticGazetteer  # noqa: E402
from alerts.rules import load_rules  # noqa: E402
from gateway.storage.db import create_engine, session_factory  # noqa: E402
from gateway.storage.models import Base, Outbox, Report  # noqa: E402

REPEATS = 3  # rounds of fresh reports scored at each size; the median is the figure
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
INCIDENTS = ["attack", "kidnapping", "cattle_theft", "armed_men", "explosive", "killing", "displacement", "arson",
             "communal_clash", "trafficking"]
REGIONS, DEPARTMENTS, COMMUNES = 8, 6, 6  # 288 communes, like Niger's 266
FANOUT_COMMUNE = "NE009009009"


def sqlite_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def communes() -> list[str]:
    return [f"NE{r:03d}{d:03d}{c:03d}" for r in range(1, REGIONS + 1) for d in range(1, DEPARTMENTS + 1)
            for c in range(1, COMMUNES + 1)]


def seed_places(db: sqlite3.Connection) -> StaticGazetteer:
    rows, parents = [], {}
    for r in range(1, REGIONS + 1):
        rows.append((f"NE{r:03d}", 1, None))
        for d in range(1, DEPARTMENTS + 1):
            rows.append((f"NE{r:03d}{d:03d}", 2, f"NE{r:03d}"))
    rows += [(pcode, 3, pcode[:8]) for pcode in [*communes(), FANOUT_COMMUNE]]
    rows.append(("NE009", 1, None))
    rows.append(("NE009009", 2, "NE009"))
    db.executemany("INSERT INTO admin_units (pcode, level, country, name, parent_pcode, alt_names, neighbours) "
                   "VALUES (?, ?, 'NE', ?, ?, '[]', '[]')", [(p, level, f"Commune {p}", parent) for p, level, parent in rows])
    for pcode, _level, parent in rows:
        parents[pcode] = parent
    db.commit()
    return StaticGazetteer({p: f"Commune {p}" for p, _, _ in rows}, parents)


def bulk_history(db: sqlite3.Connection, start: int, stop: int, rng: random.Random) -> None:
    """Reports from the past two years (already scored), in chunks of 50k rows."""
    places = communes()
    for chunk in range(start, stop, 50_000):
        ids = range(chunk, min(chunk + 50_000, stop))
        times = [sqlite_time(NOW - timedelta(days=1, seconds=rng.randrange(730 * 86400))) for _ in ids]
        db.executemany(
            "INSERT INTO messages (id, channel, external_id, text, received_at, stored_at, kind, parse) "
            "VALUES (?, 'sms', ?, 'ATTAQUE', ?, ?, 'report', '{}')",
            [(i, f"hist{i}", t, t) for i, t in zip(ids, times, strict=True)])
        db.executemany(
            "INSERT INTO reports (id, ref, message_id, channel, sender_key, trust, incident, secondary, commune_pcode,"
            " count, lang, status, received_at, scored_at) VALUES (?, ?, ?, 'sms', ?, ?, ?, '[]', ?, ?, 'fr', 'valid',"
            " ?, ?)",
            [(i, f"H{i}", i, f"p{rng.randrange(5000)}", rng.choice(("approved", "pending", "unknown")),
              rng.choice(INCIDENTS), rng.choice(places), rng.randint(1, 20), t, t) for i, t in zip(ids, times, strict=True)])
        db.commit()


def add_new_reports(db: sqlite3.Connection, first_id: int, n: int, rng: random.Random, now: datetime,
                    commune: str | None = None, incident: str | None = None) -> None:
    places = communes()
    rows = []
    for i in range(first_id, first_id + n):
        at = sqlite_time(now - timedelta(seconds=rng.randrange(60)))
        rows.append((i, at, (i, f"N{i}", i, f"p{rng.randrange(5000)}", "approved", incident or rng.choice(INCIDENTS),
                             commune or rng.choice(places), rng.randint(1, 20), at)))
    db.executemany("INSERT INTO messages (id, channel, external_id, text, received_at, stored_at, kind, parse) "
                   "VALUES (?, 'sms', ?, 'ATTAQUE', ?, ?, 'report', '{}')",
                   [(i, f"new{i}", at, at) for i, at, _ in rows])
    db.executemany("INSERT INTO reports (id, ref, message_id, channel, sender_key, trust, incident, secondary,"
                   " commune_pcode, count, lang, status, received_at, scored_at) VALUES (?, ?, ?, 'sms', ?, ?, ?, '[]',"
                   " ?, ?, 'fr', 'valid', ?, NULL)", [row for _, _, row in rows])
    db.commit()


async def score_all(factory, rules, places, now: datetime) -> float:
    """Score every unscored report in batches of 100, as the gateway's scorer loop does."""
    started = time.perf_counter()
    while True:
        async with factory() as session, session.begin():
            pending = (await session.execute(
                select(func.count()).select_from(Report).where(Report.scored_at.is_(None)))).scalar_one()
            if not pending:
                return time.perf_counter() - started
            await service.score_pending_reports(session, rules, places, now, batch_size=100)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--new", type=int, default=1000, help="fresh reports scored at each size")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # alerts in communes without committees would log a warning each
    sizes = [int(s) for s in args.sizes.split(",")]
    rng = random.Random(7)
    rules = load_rules(Path(__file__).resolve().parents[1] / "rules")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        factory = session_factory(engine)
        db = sqlite3.connect(path)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=OFF")  # bulk seeding only; scoring runs with the gateway's settings
        places = seed_places(db)
        # Warm-up, not measured, as large as a measured step: the statement caches (SQLAlchemy's and
        # SQLite's, one entry per IN-list length) are then as warm for the first size as for the last.
        add_new_reports(db, 10_000_000, args.new, rng, NOW - timedelta(days=30))
        await score_all(factory, rules, places, NOW - timedelta(days=30))

        stored, next_id, per_report = 0, 1, {}
        for offset, size in enumerate(sizes):
            seeding = time.perf_counter()
            bulk_history(db, next_id, next_id + size - stored, rng)
            next_id += size - stored
            stored = size
            seed_seconds = time.perf_counter() - seeding
            rounds = []
            for repeat in range(REPEATS):  # the median of three: this machine's noise is +-15% here
                now = NOW + timedelta(days=offset * 3 + repeat)  # fresh windows (a day at most) each time
                db.execute("UPDATE alerts SET status = 'resolved'")  # each round starts with no alert open
                db.commit()
                add_new_reports(db, next_id, args.new, rng, now)
                next_id += args.new
                rounds.append(await score_all(factory, rules, places, now) / args.new)
            per_report[size] = statistics.median(rounds)
            print(f"{size:>9,} stored: {per_report[size] * 1000:7.3f} ms per report scored (median of "
                  f"{REPEATS} rounds of {args.new}: {', '.join(f'{r * 1000:.3f}' for r in rounds)} ms; "
                  f"seeding took {seed_seconds:.1f} s)")
        first, last = per_report[sizes[0]], per_report[sizes[-1]]
        print(f"ratio {sizes[-1]:,} / {sizes[0]:,} stored: {last / first:.2f} (flat = 1.00; target within 1.20)")

        db.executemany("INSERT INTO committee_members (phone, name, area_pcode, role, lang, active) "
                       "VALUES (?, ?, ?, 'member', ?, 1)",
                       [(f"+2279{n:07d}", f"Membre {n}", FANOUT_COMMUNE, ("fr", "ha", "dje")[n % 3])
                        for n in range(1000)])
        db.commit()
        now = NOW + timedelta(days=len(sizes) * 3)
        add_new_reports(db, next_id, 1, rng, now, commune=FANOUT_COMMUNE, incident="attack")
        started = time.perf_counter()
        async with factory() as session, session.begin():
            [change] = await service.score_pending_reports(session, rules, places, now)
        fanout = time.perf_counter() - started
        async with factory() as session:
            queued = (await session.execute(select(func.count()).select_from(Outbox).where(
                Outbox.alert_id == change.alert_id))).scalar_one()
        print(f"fan-out: alert {change.code} L{change.level} rendered and queued for {queued} recipients "
              f"in {fanout:.3f} s (target: handed to the provider in batches under 2 s)")
        db.close()
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
