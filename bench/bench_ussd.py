"""Figure 3: USSD latency per hop with 300 concurrent sessions over real HTTP.

    .venv/bin/python bench/bench_ussd.py [--sessions 300] [--rounds 2] [--think 1.0,3.0]

Each session is a demo focal point (+22790000101..105, who have a home commune) walking the report
path: main menu -> report -> incident (attack) -> my commune -> count -> send -> END with a report
reference. Sessions run concurrently, start spread over the first think time, and pause a random
"think time" between hops (people read and type; 1-3 s is quicker than anyone on a basic phone). A second pass with no think time at all
shows the stress case: all sessions dialling at once and firing each hop as soon as the last answer
arrives (a queue: its latencies measure the hop rate the gateway sustains, not a user's wait).
Latency is measured by the client (an aiohttp client in this process, sharing the machine).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiohttp  # noqa: E402
import harness  # noqa: E402

FOCAL_POINTS = [f"+2279000010{n}" for n in range(1, 6)]
ANSWERS = (None, "1", "1", "1", "2", "1")  # main menu, report, attack, my commune, count 2, send
STEP_NAMES = ("dial", "report", "attack", "my commune", "count", "send")


async def walk(http: aiohttp.ClientSession, url: str, session_id: str, phone: str, think: tuple[float, float],
               rng: random.Random, latencies: list[float], by_step: dict[int, list[float]] | None = None) -> bool:
    typed: list[str] = []
    screen = ""
    await asyncio.sleep(rng.uniform(0, think[1]))  # sessions start spread out, as people dial
    for step, answer in enumerate(ANSWERS):
        if answer is not None:
            typed.append(answer)
            if think[1] > 0:
                await asyncio.sleep(rng.uniform(*think))
        started = time.perf_counter()
        async with http.post(url, data={"sessionId": session_id, "serviceCode": "*384*3737#", "phoneNumber": phone,
                                        "networkCode": "61402", "text": "*".join(typed)}) as response:
            screen = await response.text()
        latencies.append(time.perf_counter() - started)
        if by_step is not None:
            by_step.setdefault(step, []).append(latencies[-1])
        if response.status != 200:
            return False
    return screen.startswith("END")


async def run_round(url: str, sessions: int, tag: str, think: tuple[float, float],
                    by_step: dict[int, list[float]] | None = None) -> tuple[list[float], int, float]:
    rng = random.Random(tag)
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=sessions)
    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector) as http:
        ended = await asyncio.gather(*(
            walk(http, url, f"ATUid_{tag}_{n}", FOCAL_POINTS[n % len(FOCAL_POINTS)], think, rng, latencies, by_step)
            for n in range(sessions)))
    return latencies, sum(ended), time.perf_counter() - started


def summary(label: str, latencies: list[float], completed: int, sessions: int, seconds: float) -> str:
    return (f"{label}: {len(latencies):,} hops in {seconds:.1f} s ({len(latencies) / seconds:,.0f} hops/s), "
            f"p50 {harness.percentile(latencies, 50) * 1000:.1f} ms, p99 {harness.percentile(latencies, 99) * 1000:.1f} ms, "
            f"max {max(latencies) * 1000:.1f} ms; {completed}/{sessions} sessions ended with a report reference")


async def server_side(base_url: str) -> str:
    """The share of hops answered within each bucket of the gateway's own histogram."""
    text = await harness.metrics_text(base_url)
    buckets = {float(le): float(n) for le, n in re.findall(r'^ewg_ussd_hop_seconds_bucket\{le="([^"+]+)"\} (\S+)$',
                                                           text, re.M)}
    total = float(re.search(r"^ewg_ussd_hop_seconds_count (\S+)$", text, re.M).group(1))
    return ", ".join(f"{n / total:.1%} within {le * 1000:g} ms" for le, n in sorted(buckets.items()) if le <= 0.1)


async def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--sessions", type=int, default=300)
    options.add_argument("--rounds", type=int, default=2)
    options.add_argument("--think", default="1.0,3.0", help="think time between hops, seconds (min,max)")
    options.add_argument("--profile", help="write py-spy raw stacks of ewg serve during the stress round here")
    args = options.parse_args()
    think = tuple(float(x) for x in args.think.split(","))
    print(f"machine: {harness.machine()}")
    with harness.workdir("ussd") as name:
        folder = Path(name)
        async with harness.gateway_stack(harness.sqlite_url(folder), folder) as stack:
            url = harness.callback_url(stack.gateway.url, "ussd")
            print(f"ewg serve: parser {stack.parser_build}")
            await run_round(url, 20, "warm", (0.0, 0.0))
            latencies, completed, total = [], 0, 0
            by_step: dict[int, list[float]] = {}
            started = time.perf_counter()
            for n in range(args.rounds):
                got, ok, _ = await run_round(url, args.sessions, f"think{n}", think, by_step)
                latencies += got
                completed += ok
                total += args.sessions
            print(summary(f"{args.sessions} concurrent sessions, think time {think[0]:g}-{think[1]:g} s", latencies,
                          completed, total, time.perf_counter() - started))
            print("  p99 by hop: " + ", ".join(f"{STEP_NAMES[step]} {harness.percentile(values, 99) * 1000:.1f} ms"
                                             for step, values in sorted(by_step.items())))
            print(f"  measured by the gateway itself (ewg_ussd_hop_seconds): {await server_side(stack.gateway.url)}")
            profiler = harness.start_profiler(stack.gateway.pid, 5, args.profile) if args.profile else None
            got, ok, seconds = await run_round(url, args.sessions, "stress", (0.0, 0.0))
            if profiler:
                profiler.wait(timeout=60)
            print(summary(f"{args.sessions} concurrent sessions, no think time (stress)", got, ok, args.sessions,
                          seconds))
            print(f"target: p99 per hop < 20 ms; ewg serve peak RSS {harness.peak_rss_mb(stack.gateway.pid):.0f} MB")


if __name__ == "__main__":
    asyncio.run(main())
