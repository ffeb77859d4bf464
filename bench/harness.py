"""Shared by the benchmark scripts: the machine, the real gateway and fake provider as processes,
the load generator (wrk with a Lua script, or an aiohttp client when wrk is missing), peak memory.

Everything listens on 127.0.0.1; every run is bounded by a duration or a request count.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
SHARED_DATA = ROOT.parent / "shared" / "data"
GAZETTEER_FILES = ("ner_pcodes_adm1_adm2_hdx_fixture.csv", "mli_pcodes_adm1_adm2_hdx_fixture.csv",
                   "ner_adm3_gazetteer.csv", "mli_adm3_gazetteer.csv", "ner_renaloc_localities.csv")
sys.path.insert(0, str(ROOT))

from tests.support.fake_provider import FakeProviderProcess  # noqa: E402
from tests.support.gateway_process import PRODUCTION_SECRETS, GatewayProcess, GatewayStartError  # noqa: E402
from tests.support.ports import free_port  # noqa: E402

# `ewg serve` runs in production mode, which refuses to start without its secrets: the tests' own.
CALLBACK_TOKEN = PRODUCTION_SECRETS["EWG_CALLBACKS__TOKEN"]
API_HEADERS = {"Authorization": f"Bearer {PRODUCTION_SECRETS['EWG_API__TOKEN']}"}


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    return (f"{os.cpu_count()} CPUs ({cpu}), {mem_kb / 1024 / 1024:.1f} GiB RAM, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}, "
            f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}, load average {load_average()}")


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: other work on the machine lowers every figure."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the process's peak resident set size so far."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


def shared_gazetteer_paths() -> list[Path] | None:
    paths = [SHARED_DATA / name for name in GAZETTEER_FILES]
    return paths if all(p.exists() for p in paths) else None


# --- the gateway under test ------------------------------------------------------------------

@dataclass
class Stack:
    gateway: GatewayProcess
    fake: FakeProviderProcess
    startup_seconds: float
    database_url: str
    parser_build: str  # what `ewg serve` logged: "compiled", or "pure Python" (slower)


@asynccontextmanager
async def gateway_stack(database_url: str, workdir: Path, *, full_gazetteer: bool = True,
                        extra_env: dict[str, str] | None = None):
    """The fake provider and `ewg serve` on a database set up as an operator would: `ewg db upgrade`,
    then `ewg gazetteer import` of the demo places (and of ../shared/data's full gazetteer when present),
    `ewg reporters import` and `ewg committees import` of the demo people. `startup_seconds` is the
    start of `serve` to /healthz 200."""
    async with FakeProviderProcess() as fake:
        env = {"EWG_DATABASE__URL": database_url, "EWG_AFRICASTALKING__BASE_URL": fake.base_url,
               "EWG_RULES__WATCH": "false", **fake.credentials_env(), **(extra_env or {})}
        if os.environ.get("BENCH_RULES"):  # diagnosis: an empty folder means no rules, so nothing is scored
            env["EWG_RULES__PATH"] = os.environ["BENCH_RULES"]
        refuse_stale_build()
        gateway = GatewayProcess(env, free_port(), workdir, migrate=False, people=False)
        await operator_setup(gateway, shared_gazetteer_paths() if full_gazetteer else None)
        started = time.perf_counter()
        await gateway.start(timeout=60)
        startup = time.perf_counter() - started
        try:
            yield Stack(gateway, fake, startup, database_url, parser_build(gateway))
        finally:
            if gateway.is_running():
                await stop_gateway(gateway)


async def operator_setup(gateway: GatewayProcess, gazetteer: list[Path] | None) -> None:
    """The schema, the demo places and people, then the full gazetteer when given, through the CLI."""
    await run_cli(gateway, "db", "upgrade")
    await gateway.import_demo_people(timeout=120)
    if gazetteer:
        await run_cli(gateway, "gazetteer", "import", *map(str, gazetteer))


async def run_cli(gateway: GatewayProcess, *args: str) -> None:
    code = await gateway.run_command(*args, timeout=300)
    if code != 0:
        raise RuntimeError(f"`ewg {' '.join(args[:2])}` exited with {code}:\n{gateway.logs_tail()}")


async def stop_gateway(gateway: GatewayProcess, timeout: float = 30) -> None:
    """SIGTERM; after a load the scorer may still be working off its backlog, so a slow stop is
    reported (and the process killed) rather than failing the benchmark whose figures are printed."""
    started = time.perf_counter()
    try:
        await gateway.terminate(timeout=timeout)
    except GatewayStartError:
        print(f"note: ewg serve did not stop within {timeout:g} s of SIGTERM after the load (killed)")
        return
    if time.perf_counter() - started > 5:
        print(f"note: ewg serve took {time.perf_counter() - started:.0f} s to stop after SIGTERM")


def callback_url(base_url: str, channel: str) -> str:
    """The provider's callback for `channel` (sms, ussd), carrying the token the gateway checks."""
    return f"{base_url}/callbacks/at/{channel}?token={CALLBACK_TOKEN}"


async def metrics_text(base_url: str) -> str:
    """The gateway's /metrics, read with the API token as an operator's scraper would."""
    import aiohttp

    async with aiohttp.ClientSession() as http, http.get(f"{base_url}/metrics", headers=API_HEADERS) as response:
        response.raise_for_status()
        return await response.text()


def refuse_stale_build() -> None:
    """A compiled module older than its source would measure other code than the source's."""
    from gateway.compiled import build_state

    _kind, stale = build_state()
    if stale:
        raise RuntimeError(f"compiled modules older than their sources ({', '.join(stale)}): "
                           "run `.venv/bin/pip install -e . --no-deps` first")


def parser_build(gateway: GatewayProcess) -> str:
    """What `ewg serve` logged at start-up: "compiled", or "pure Python" (slower)."""
    found = [line for line in gateway.logs().splitlines() if "parser:" in line]
    return found[-1].split("parser:", 1)[1].strip() if found else "unknown"


def sqlite_url(workdir: Path) -> str:
    return f"sqlite+aiosqlite:///{workdir / 'bench.db'}"


def workdir(prefix: str) -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix=f"ewg-bench-{prefix}-")


# --- load generation ---------------------------------------------------------------------------

@dataclass(frozen=True)
class LoadResult:
    tool: str
    requests: int
    seconds: float
    errors: int  # non-2xx answers and socket errors
    p50_ms: float
    p99_ms: float
    cpu_seconds: float | None = None  # the server process's CPU time during the run, when measured

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def line(self) -> str:
        cpu = (f"; server CPU {self.cpu_seconds / self.seconds:.0%} of a core, "
               f"{self.cpu_seconds / self.requests * 1e6:,.0f} us per request") if self.cpu_seconds else ""
        return (f"{self.rate:8,.0f} req/s  p50 {self.p50_ms:6.2f} ms  p99 {self.p99_ms:6.2f} ms  "
                f"({self.requests:,} requests in {self.seconds:.1f} s, {self.errors} errors, {self.tool}{cpu})")


_FALLBACK_NOTED: list[bool] = []


def ensure_wrk() -> str | None:
    """wrk's path; tries `apt-get install -y wrk` once when running as root. None (BENCH_NO_WRK=1, or no
    wrk): the caller uses the aiohttp load generator, noted once on stdout."""
    found = None if os.environ.get("BENCH_NO_WRK") else shutil.which("wrk")
    if found is None and not _FALLBACK_NOTED and not os.environ.get("BENCH_NO_WRK") and os.geteuid() == 0 \
            and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], capture_output=True, timeout=300)
        found = shutil.which("wrk")
    if found is None and not _FALLBACK_NOTED:
        _FALLBACK_NOTED.append(True)
        print("note: no wrk (apt-get install wrk); using the slower aiohttp load generator, whose own CPU use "
              "on this machine lowers every figure: compare ratios only")
    return found


def run_wrk(url: str, connections: int, seconds: float, lua_env: dict[str, str]) -> LoadResult:
    """wrk with bench/sms_form.lua: one thread, a unique message id and phone number per request."""
    wrk = shutil.which("wrk")
    command = [wrk, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s", "--latency",
               "-s", str(BENCH / "sms_form.lua"), url]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **lua_env},
                          timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr or done.stdout}")
    summary = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("{")))
    return LoadResult("wrk", summary["requests"], summary["seconds"], summary["errors"],
                      summary["p50_us"] / 1000, summary["p99_us"] / 1000)


Request = tuple[object, "dict[str, str] | None"]  # a body (a form dict or bytes) and its headers


async def run_python_load(url: str, connections: int, seconds: float,
                          body: Callable[[int], dict[str, str]]) -> LoadResult:
    """The fallback load generator: `connections` aiohttp workers posting forms for `seconds`."""
    return await post_for(url, connections, seconds, lambda n: (body(n), None))


async def post_for(url: str, connections: int, seconds: float, requests: Callable[[int], Request]) -> LoadResult:
    """`connections` aiohttp workers posting `requests(n)` (a body and its headers) for `seconds`."""
    import aiohttp

    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**12))

    async def worker(client: aiohttp.ClientSession) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            data, headers = requests(next(counter))
            started = time.perf_counter()
            try:
                async with client.post(url, data=data, headers=headers) as answer:
                    await answer.read()
                    ok = answer.status < 300
            except aiohttp.ClientError:
                ok = False
            latencies.append(time.perf_counter() - started)
            errors += not ok

    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as client:
        await asyncio.gather(*(worker(client) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    return LoadResult("aiohttp client", len(latencies), elapsed, errors,
                      percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


# --- what focal points text ------------------------------------------------------------------

REPORT_WORDS = ("ATTAQUE", "sace", "vol de betail", "hommes armes", "mine", "meurtre", "deplaces", "incendie",
                "conflit", "trafic", "hari", "satar shanu", "yan bindiga", "kashe", "gobara", "zuru", "3", "#1")
COUNT_WORDS = ("", "5", "12", "40", "uku", "biyar", "vingt", "hinza")
FREE_WORDS = ("", "a moto", "cette nuit", "da dare", "venez vite")
OTHER_TEXTS = ("bonjour", "AIDE", "allo", "merci")


def sms_texts(count: int = 5000, full_gazetteer: bool = True, seed: int = 7) -> list[str]:
    """Reports spread over every commune of the gazetteer (so alert windows stay realistic),
    in three languages, with counts and free text; 1 in 12 is a command or not understood."""
    import random

    from gateway.demo.gazetteer import load_demo_batch
    from gateway.gazetteer import Gazetteer, read_gazetteer_files

    paths = shared_gazetteer_paths() if full_gazetteer else None
    batch = read_gazetteer_files(paths) if paths else load_demo_batch()
    names = sorted(unit.name for unit in Gazetteer(batch.units, batch.places).communes())
    rng = random.Random(seed)
    texts = []
    for n in range(count):
        if n % 12 == 11:
            texts.append(rng.choice(OTHER_TEXTS))
            continue
        words = [rng.choice(REPORT_WORDS), rng.choice(names), rng.choice(COUNT_WORDS), rng.choice(FREE_WORDS)]
        texts.append(" ".join(word for word in words if word))
    return texts


def write_texts(folder: Path, texts: list[str]) -> Path:
    path = folder / "texts.txt"
    path.write_text("".join(text.replace("\n", " ") + "\n" for text in texts))
    return path


def start_profiler(pid: int, seconds: float, path: str) -> subprocess.Popen | None:
    """py-spy's raw stacks of `pid` for `seconds`. BENCH_PROFILE_GIL=1: only the thread holding the
    GIL at each sample, which is what the threads' turns under it cost."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        print("note: py-spy not installed (pip install py-spy); no profile")
        return None
    return subprocess.Popen([spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "250",
                             "--format", "raw", "--output", path, "--nonblocking",
                             *(["--gil"] if os.environ.get("BENCH_PROFILE_GIL") else [])],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
