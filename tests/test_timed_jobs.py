"""The timed jobs as they run in production: a real `ewg serve` (SQLite here, PostgreSQL in the
database pass) with every job of the scheduler at a one-second interval (`jobs.interval_seconds`,
a setting for tests), an alert open so that escalations, repeats and the digest have work to do.
Each job must run at least twice (ewg_timed_job_runs_total) and the log must hold no error."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import aiohttp

from gateway.alerting.jobs import timed_jobs
from gateway.config import Settings
from gateway.metrics import Metrics
from gateway.providers.africastalking_forms import inbound_sms_form
from tests.support.fake_provider import FakeProviderServer
from tests.support.gateway_process import PRODUCTION_SECRETS, GatewayProcess
from tests.support.ports import free_port

FOCAL_POINTS = ("+22790000101", "+22790000102")  # demo: approved focal points of Gabi
# Every job the scheduler runs against the database with these settings; rules_watch only reads files.
JOBS = {"escalations", "repeats", "auto_resolve", "retention", "silent_reporters", "digest"}
RUNS = re.compile(r'^ewg_timed_job_runs_total\{job="([^"]+)",outcome="([^"]+)"\} ([0-9.e+]+)$', re.M)
LAG = re.compile(r'^ewg_scheduler_lag_seconds\{job="([^"]+)"\}', re.M)
ERROR_LINE = re.compile(r"\b(ERROR|CRITICAL)\b|Traceback")


async def scrape(gateway: GatewayProcess) -> str:
    headers = {"Authorization": f"Bearer {PRODUCTION_SECRETS['EWG_API__TOKEN']}"}
    async with aiohttp.ClientSession() as http, http.get(f"{gateway.url}/metrics", headers=headers) as answer:
        assert answer.status == 200, await answer.text()
        return await answer.text()


def runs_by_job(metrics: str) -> dict[tuple[str, str], float]:
    return {(job, outcome): float(count) for job, outcome, count in RUNS.findall(metrics)}


async def test_every_timed_job_runs_through_the_scheduler_without_an_error(db_url, tmp_path) -> None:
    async with FakeProviderServer() as fake:
        gateway = GatewayProcess({
            "EWG_DATABASE__URL": db_url, "EWG_AFRICASTALKING__BASE_URL": fake.base_url, **fake.credentials_env(),
            "EWG_JOBS__INTERVAL_SECONDS": "1", "EWG_GATEWAY__RETENTION_DAYS": "90", "EWG_DIGEST__HOUR": "0",
            "EWG_OUTBOX__POLL_SECONDS": "0.2"}, free_port(), tmp_path)
        await gateway.start(timeout=60)
        try:
            async with aiohttp.ClientSession() as http:
                for n, phone in enumerate(FOCAL_POINTS):
                    form = inbound_sms_form(phone, "ATTAQUE GABI 3", received_at=datetime.now(UTC),
                                            message_id=f"jobs-{n}")
                    async with http.post(f"{gateway.url}/callbacks/at/sms", data=form,
                                         params={"token": PRODUCTION_SECRETS["EWG_CALLBACKS__TOKEN"]}) as answer:
                        assert answer.status == 200, await answer.text()
            deadline = asyncio.get_running_loop().time() + 30
            while True:
                metrics = await scrape(gateway)
                runs = runs_by_job(metrics)
                scheduled = set(LAG.findall(metrics)) - {"rules_watch"}
                short = {job for job in JOBS | scheduled if runs.get((job, "ok"), 0) < 2}
                if not short or asyncio.get_running_loop().time() > deadline:
                    break
                await asyncio.sleep(0.5)
            await asyncio.sleep(1.0)  # one more round of every job, whose errors would show below
            messages = await fake.messages()
        finally:
            exit_code = await gateway.terminate()

    log = gateway.logs()
    assert short == set(), f"jobs that did not run twice: {sorted(short)}; runs {runs}\n{gateway.logs_tail()}"
    assert JOBS <= scheduled, f"not scheduled: {sorted(JOBS - scheduled)}"
    assert not any(outcome == "failed" for _, outcome in runs), runs
    errors = [line for line in log.splitlines() if ERROR_LINE.search(line)]
    assert errors == [], "\n".join(errors[:20])
    assert exit_code == 0
    assert any(m["to"] not in FOCAL_POINTS for m in messages), "no alert went out: the jobs had nothing to do"


def test_the_alert_jobs_use_the_configured_alert_expiry(settings: Settings) -> None:
    """Escalations, repeats and auto-resolution send alert SMS that expire as the settings say."""
    short = replace(settings, outbox=replace(settings.outbox, alert_expiry_minutes=17))
    jobs = {job.name: job.work for job in timed_jobs(short, gazetteer=None, metrics=Metrics())}
    for name in ("escalations", "repeats", "auto_resolve"):
        assert jobs[name].keywords["alert_expiry"] == timedelta(minutes=17), name
