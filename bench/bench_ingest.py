"""Inbound SMS callbacks per second, each stored durably, parsed, scored and its confirmation queued,
against a bare aiohttp handler parsing the same form under the same load (and, with --floor, the
durable floor handler); p50/p99 at N connections; peak RSS of `ewg serve` during the run and its
start-up time to /healthz 200; the CPU microseconds per callback of each server, from this one run.

    .venv/bin/python bench/bench_ingest.py [--db sqlite|postgresql] [--connections 64] [--seconds 10]
                                          [--profile stacks.txt] [--demo-gazetteer]

The gateway is the real `ewg serve` (python -m gateway) in production mode with test secrets, on a
fresh database set up through the CLI (`ewg db upgrade`, the demo places and people imported, the full
shared gazetteer when ../shared/data is present), sending its confirmations to the fake Africa's
Talking; every callback carries the callback token. SQLite runs with the gateway's own PRAGMA synchronous=FULL; the PostgreSQL
cluster is a throw-away one started here with fsync and synchronous_commit on.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

WARM_UP_SECONDS = 3


async def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 20) -> None:
    import aiohttp

    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"reference handler exited ({process.returncode})")
            try:
                async with client.get(url) as answer:
                    if answer.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} not answering")


@dataclass(frozen=True)
class Load:
    """What the load generator sends (texts in turn), how hard and how long."""

    texts: list[str]
    texts_file: Path
    connections: int
    seconds: float


async def load(url: str, spec: Load, run: str, phones: str, seconds: float | None = None) -> harness.LoadResult:
    seconds = seconds or spec.seconds
    if harness.ensure_wrk():
        return await asyncio.to_thread(harness.run_wrk, url, spec.connections, seconds,
                                       {"BENCH_RUN": run, "BENCH_PHONES": phones, "BENCH_TEXTS": str(spec.texts_file)})
    from datetime import UTC, datetime

    from gateway.providers.africastalking_forms import inbound_sms_form

    now = datetime.now(UTC)
    return await harness.run_python_load(url, spec.connections, seconds, lambda n: inbound_sms_form(
        f"+227{phones}{n % 1_000_000:06d}", spec.texts[n % len(spec.texts)], received_at=now,
        message_id=f"{run}-{n}"))


async def group_commits(base_url: str) -> tuple[float, float]:
    """(batches, callbacks) the gateway has group-committed so far (ewg_group_commit_size, SMS)."""
    import re

    text = await harness.metrics_text(base_url)
    found = dict(re.findall(r'^ewg_group_commit_size_(count|sum)\{queue="sms"\} (\S+)$', text, re.M))
    return float(found.get("count", 0)), float(found.get("sum", 0))


async def measured_load(pid: int, url: str, spec: Load, run: str, phones: str) -> harness.LoadResult:
    """A load run, with the CPU time the server process spent on it (all threads)."""
    cpu_before = harness.cpu_seconds(pid)
    result = await load(url, spec, run, phones)
    return dataclasses.replace(result, cpu_seconds=harness.cpu_seconds(pid) - cpu_before)


async def reference_run(spec: Load, script: str, run: str, *arguments: str) -> harness.LoadResult:
    """A reference handler of bench/ (its own process, its own port) under the same load."""
    port = harness.free_port()
    process = subprocess.Popen([sys.executable, str(harness.BENCH / script), "--port", str(port), *arguments])
    try:
        await wait_healthy(f"http://127.0.0.1:{port}/healthz", process, timeout=60)
        url = f"http://127.0.0.1:{port}/callbacks/at/sms"
        await load(url, spec, "warm", "91", WARM_UP_SECONDS)
        return await measured_load(process.pid, url, spec, run, "90")
    finally:
        process.terminate()
        process.wait(timeout=10)


async def bare_reference(spec: Load) -> harness.LoadResult:
    return await reference_run(spec, "bare_handler.py", "bare")


async def floor_reference(spec: Load, gazetteer_db: str, folder: Path) -> harness.LoadResult:
    """bench/floor_handler.py: the gateway's parser and reply text, three rows per message through
    plain sqlite3, group-committed; the least a durable handler does in this stack."""
    return await reference_run(spec, "floor_handler.py", "floor", "--gazetteer-db", gazetteer_db,
                               "--store", str(folder / "floor.db"))


async def stored_counts(database_url: str, run: str) -> tuple[int, int, int]:
    """(messages, reports, queued or sent replies) stored for this run's message ids."""
    from sqlalchemy import text

    from gateway.storage.db import create_engine

    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            pattern = {"p": f"{run}-%"}
            messages = (await connection.execute(text(
                "SELECT count(*) FROM messages WHERE external_id LIKE :p"), pattern)).scalar_one()
            reports = (await connection.execute(text(
                "SELECT count(*) FROM reports r JOIN messages m ON m.id = r.message_id "
                "WHERE m.external_id LIKE :p"), pattern)).scalar_one()
            replies = (await connection.execute(text(
                "SELECT count(*) FROM messages WHERE external_id LIKE :p AND reply_status = 'queued'"),
                pattern)).scalar_one()
    finally:
        await engine.dispose()
    return messages, reports, replies


async def gateway_run(database_url: str, folder: Path, spec: Load, profile: str | None,
                      full_gazetteer: bool) -> harness.LoadResult:
    async with harness.gateway_stack(database_url, folder, full_gazetteer=full_gazetteer) as stack:
        pid = stack.gateway.pid
        rss_idle = harness.peak_rss_mb(pid)
        url = harness.callback_url(stack.gateway.url, "sms")
        await load(url, spec, "warm", "91", WARM_UP_SECONDS)
        # Measured as the figure is defined (stored, parsed, scored, confirmation queued): the fake
        # provider holds the sender's requests meanwhile, so sending does not share the two cores.
        await stack.fake.set_mode("timeout")
        profiler = harness.start_profiler(pid, spec.seconds, profile) if profile else None
        before = await group_commits(stack.gateway.url)
        result = await measured_load(pid, url, spec, "measure", "90")
        after = await group_commits(stack.gateway.url)
        batches, callbacks = after[0] - before[0], after[1] - before[1]
        rss_peak = harness.peak_rss_mb(pid)
        if profiler:
            profiler.wait(timeout=60)
        await stack.fake.set_mode("ok")
        # The same with the sender live: every confirmation also handed to the provider over HTTP.
        live = await load(url, spec, "live", "92")
        rss_peak = max(rss_peak, harness.peak_rss_mb(pid))
        await asyncio.sleep(3)  # let the sender and the scorer catch up before counting
        messages, reports, replies = await stored_counts(database_url, "measure")
        sent = (await stack.fake.stats())["accepted"]
        print(f"gateway ({database_url.split(':')[0]}), confirmations queued:  {result.line()}")
        print(f"gateway ({database_url.split(':')[0]}), confirmations sent too: {live.line()}")
        print(f"  stored for the first measured run: {messages:,} messages, {reports:,} reports, {replies:,} "
              f"confirmations queued; provider accepted {sent:,} SMS in all")
        if batches:
            print(f"  group commits during the first measured run: {batches:,.0f} transactions, "
                  f"{callbacks / batches:.1f} callbacks each on average")
        print(f"  ewg serve: parser {stack.parser_build}; start-up to /healthz 200 in {stack.startup_seconds:.2f} s; RSS {rss_idle:.0f} MB "
              f"after start-up, peak (VmHWM) {rss_peak:.0f} MB during the runs")
        return result


async def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    options.add_argument("--connections", type=int, default=64)
    options.add_argument("--seconds", type=float, default=10)
    options.add_argument("--profile", help="write py-spy raw stacks of ewg serve during the run here")
    options.add_argument("--demo-gazetteer", action="store_true", help="skip importing ../shared/data")
    options.add_argument("--no-bare", action="store_true", help="skip the bare reference run")
    options.add_argument("--floor", action="store_true",
                         help="also run bench/floor_handler.py (SQLite): plain sqlite3, no reporters, no scoring")
    options.add_argument("--keep", action="store_true", help="keep the work folder (gateway.log, database)")
    args = options.parse_args()
    print(f"machine: {harness.machine()}")
    folder = Path(tempfile.mkdtemp(prefix="ewg-bench-ingest-"))
    texts = harness.sms_texts(full_gazetteer=not args.demo_gazetteer)
    spec = Load(texts, harness.write_texts(folder, texts), args.connections, args.seconds)
    print(f"load: {args.connections} connections, {args.seconds:g} s after a {WARM_UP_SECONDS} s warm-up")
    floor = None
    bare = None if args.no_bare else await bare_reference(spec)
    if bare:
        print(f"bare aiohttp handler:  {bare.line()}")
    try:
        if args.db == "sqlite":
            result = await gateway_run(harness.sqlite_url(folder), folder, spec, args.profile,
                                       not args.demo_gazetteer)
            if args.floor:
                floor = await floor_reference(spec, harness.sqlite_url(folder), folder)
                print(f"durable floor handler: {floor.line()}")
                if bare:
                    print(f"ratio floor / bare: {floor.rate / bare.rate:.2f}")
        else:
            from durable_postgres import durable_cluster

            with durable_cluster() as url:
                result = await gateway_run(url, folder, spec, args.profile, not args.demo_gazetteer)
    finally:
        if args.keep:
            print(f"work folder kept: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    if bare:
        print(f"ratio gateway / bare: {result.rate / bare.rate:.2f} (target >= 0.50); "
              f"p99 {result.p99_ms:.1f} ms (target < 50 ms)")
    print_cpu_per_callback({"gateway": result, "durable floor handler": floor, "bare handler": bare})


def print_cpu_per_callback(runs: dict[str, harness.LoadResult | None]) -> None:
    """Each server process's CPU time (all threads) over the callbacks it answered in its measured run:
    on a shared machine it moves less than throughput, which also counts the time others took."""
    measured = {name: result.cpu_seconds / result.requests * 1e6 for name, result in runs.items()
                if result and result.cpu_seconds and result.requests}
    print("CPU per callback, this run: " + ", ".join(f"{name} {us:,.0f} us" for name, us in measured.items()))
    if "gateway" in measured and "durable floor handler" in measured:
        print(f"  gateway / durable floor: {measured['gateway'] / measured['durable floor handler']:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
