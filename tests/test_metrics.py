"""/metrics scraped after real traffic: the series operators alert on exist, with no phone number."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from datetime import timedelta
from urllib.parse import urlencode

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event, func, select, update

from gateway.kernel.envelopes import SendOutcome, SendResult
from gateway.runtime import RUNTIME
from gateway.storage.models import Outbox
from gateway.storage.outbox import PRIORITY_REPLY, OutboundSms, enqueue
from tests.support.callbacks import FORM
from tests.support.dashboard import GABI_1, GABI_2, GUIDAN_SORI, TERA, post_sms, scored
from tests.support.gateway import make_settings, running_gateway
from tests.support.ports import free_port

TOKEN = {"Authorization": "Bearer api-token"}


class RefusingProvider:
    """Every SMS refused for good, as Africa's Talking does for a blacklisted number."""

    mode = "fake"

    async def send(self, text: str, recipients: Sequence[str]) -> list[SendResult]:
        return [SendResult(r, SendOutcome.FAILED, reason="UserInBlacklist") for r in recipients]


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(scraped: dict, name: str, **labels: str) -> float | None:
    return scraped.get((name, frozenset(labels.items())))


@pytest.fixture
async def scraped(settings, clock) -> tuple[str, dict, int]:
    """Traffic (reports raising alerts, a text not understood, a bad callback, delivery reports, refused
    sends), then one scrape. Returns (body, samples, failed outbox rows)."""
    async with running_gateway(settings, clock, provider=RefusingProvider()) as client:
        await post_sms(client, GABI_1, "ATTAQUE GABI 12", "m-1")
        await post_sms(client, GABI_2, "hari gabi 20", "m-2")
        await post_sms(client, GUIDAN_SORI, "sace guidan sori uku", "m-3")
        await post_sms(client, TERA, "bonjour", "m-4")
        response = await client.post("/callbacks/at/sms?token=s3cret", data="to=3737", headers=FORM)
        assert response.status == 400
        for status in ("Success", "Failed"):
            body = urlencode({"id": f"ATXid_{status}", "status": status, "phoneNumber": GABI_1})
            assert (await client.post("/callbacks/at/delivery?token=s3cret", data=body, headers=FORM)).status == 200
        await scored(client, lambda a: a.get("NE004006003", {}).get("level") == 2 and "NE004005003" in a)
        runtime = client.server.app[RUNTIME]
        await runtime.sender.send_due()
        # The gateway's own sender runs beside this test: wait until nothing is left to send, so the
        # failure counter and the failed rows describe the same, finished set.
        for _ in range(100):
            async with runtime.sessions() as session:
                waiting = (await session.execute(select(func.count()).select_from(Outbox).where(
                    Outbox.status.in_(("queued", "sending"))))).scalar_one()
            if not waiting:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # a pass that just committed has finished counting
        async with runtime.sessions() as session:
            failed = (await session.execute(
                select(func.count()).select_from(Outbox).where(Outbox.status == "failed"))).scalar_one()
        response = await client.get("/metrics", headers=TOKEN)
        assert response.status == 200 and response.content_type == "text/plain"
        text = await response.text()
    return text, samples(text), failed


def test_callbacks_by_outcome(scraped) -> None:
    _, s, _ = scraped
    assert value(s, "ewg_callbacks_total", endpoint="sms", outcome="stored") == 4
    assert value(s, "ewg_callbacks_total", endpoint="sms", outcome="bad_request") == 1
    assert value(s, "ewg_callbacks_total", endpoint="delivery", outcome="stored") == 2
    assert value(s, "ewg_delivery_reports_total", status="Failed") == 1


def test_parse_outcomes(scraped) -> None:
    _, s, _ = scraped
    parsed = {dict(labels)["kind"]: v for (name, labels), v in s.items() if name == "ewg_messages_parsed_total"}
    assert parsed == {"report": 3, "unknown": 1}


def test_parse_outcomes_by_language(scraped) -> None:
    _, s, _ = scraped
    langs = {dict(labels)["lang"] for (name, labels), _ in s.items() if name == "ewg_messages_parsed_total"}
    assert langs <= {"fr", "ha", "dje"}


def test_outbox_depth_and_age(scraped) -> None:
    _, s, _ = scraped
    for kind in ("reply", "alert", "ack_notice", "digest"):
        assert value(s, "ewg_outbox_depth", kind=kind) is not None, kind
    assert value(s, "ewg_outbox_oldest_age_seconds") is not None


def test_send_failures_by_reason(scraped) -> None:
    _, s, failed = scraped
    failures = {labels: v for (name, labels), v in s.items() if name == "ewg_sms_send_failures_total"}
    assert failed > 0 and sum(failures.values()) == failed
    assert all(dict(labels)["retryable"] == "false" for labels in failures)


def test_alert_counts_by_level(scraped) -> None:
    _, s, _ = scraped
    levels = {dict(labels)["level"] for (name, labels), v in s.items() if name == "ewg_alerts_total" and v > 0}
    assert {"1", "2"} <= levels


def test_time_to_acknowledge_series_exists(scraped) -> None:
    _, s, _ = scraped
    assert value(s, "ewg_alert_time_to_acknowledge_seconds_count") is not None
    assert value(s, "ewg_alert_time_to_acknowledge_seconds_bucket", le="+Inf") is not None


async def test_time_to_acknowledge_is_observed(gateway, clock) -> None:
    from alerts.service import acknowledge

    await post_sms(gateway, GUIDAN_SORI, "sace guidan sori uku", "t-1")
    alerts = await scored(gateway, lambda a: "NE004005003" in a)
    clock.advance(minutes=12)
    await post_sms(gateway, "+22796000203", f"OK {alerts['NE004005003']['code']}", "t-2")
    runtime = gateway.server.app[RUNTIME]
    async with runtime.sessions() as session, session.begin():
        await acknowledge(session, "+22796000203", alerts["NE004005003"]["code"], clock.now)
    s = samples(await (await gateway.get("/metrics", headers=TOKEN)).text())
    assert value(s, "ewg_alert_time_to_acknowledge_seconds_count") == 1


def test_scheduler_lag(scraped) -> None:
    _, s, _ = scraped
    assert any(name == "ewg_scheduler_lag_seconds" for name, _ in s)


# A number standing alone: a sample's value is a float whose digits can spell one by chance (a duration
# sum of 0.0022753604517 s once did), so digits after a point or beside other digits do not count.
PHONE_NUMBER = re.compile(r"(?<![\d.])\+?22[37]\d{8}(?![\d.])")


@pytest.mark.parametrize(("line", "leaks"), [
    ('ewg_reports_total{reporter="+22796000203"} 1.0', True),
    ('ewg_reports_total{reporter="22796000203"} 1.0', True),
    ("ewg_callback_seconds_sum 0.0022753604517", False),
    ("ewg_callback_seconds_sum 1.22796000203e-05", False),
])
def test_phone_number_detector(line: str, leaks: bool) -> None:
    assert bool(PHONE_NUMBER.search(line)) is leaks


def test_no_phone_number_in_metrics(scraped) -> None:
    text, _, _ = scraped
    assert not PHONE_NUMBER.search(text)


# --- access and cost of a scrape -----------------------------------------------------

@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "api-token"}])
async def test_metrics_need_the_api_token(gateway, headers: dict) -> None:
    response = await gateway.get("/metrics", headers=headers)
    assert response.status == 401
    assert "ewg_" not in await response.text()


async def test_a_scrape_issues_no_database_query(db_url, clock) -> None:
    settings = make_settings(db_url, api={"token": "api-token"}, metrics={"refresh_seconds": 3600.0})
    async with running_gateway(settings, clock) as gateway:
        runtime = gateway.server.app[RUNTIME]
        runtime.sender.request_stop()  # nothing else in this test reads the outbox
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while value(samples(await (await gateway.get("/metrics", headers=TOKEN)).text()),
                    "ewg_outbox_depth", kind="reply") is None:  # the gauges' first refresh, at start
            assert loop.time() < deadline
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # its last query (flooding numbers) follows the outbox one
        statements: list[str] = []

        def count(conn, cursor, statement, parameters, context, executemany) -> None:
            statements.append(statement)

        event.listen(runtime.engine.sync_engine, "before_cursor_execute", count)
        try:
            for _ in range(3):
                response = await gateway.get("/metrics", headers=TOKEN)
                assert response.status == 200 and "ewg_outbox_depth" in await response.text()
        finally:
            event.remove(runtime.engine.sync_engine, "before_cursor_execute", count)
    # Only the scorer's idle poll may have run meanwhile; it never reads the outbox.
    assert not [s for s in statements if "outbox" in s.lower()], statements


async def test_database_gauges_are_refreshed_by_a_task(db_url, clock) -> None:
    settings = make_settings(db_url, callbacks={"token": "s3cret"}, api={"token": "api-token"},
                             metrics={"refresh_seconds": 0.1})
    async with running_gateway(settings, clock, provider=RefusingProvider()) as client:
        runtime = client.server.app[RUNTIME]
        async with runtime.sessions() as session, session.begin():
            await enqueue(session, [OutboundSms("gauge-test", "digest", GABI_1, "x", PRIORITY_REPLY)],
                          clock.now - timedelta(minutes=3))
            await session.execute(update(Outbox).values(next_attempt_at=clock.now + timedelta(days=1)))  # stays queued
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while True:
            s = samples(await (await client.get("/metrics", headers=TOKEN)).text())
            if value(s, "ewg_outbox_depth", kind="digest") == 1:
                break
            assert loop.time() < deadline, "the gauges were not refreshed"
            await asyncio.sleep(0.05)
        assert value(s, "ewg_outbox_oldest_age_seconds") == 180


async def test_metrics_on_a_port_of_their_own_on_localhost(db_url, clock) -> None:
    port = free_port()
    settings = make_settings(db_url, api={"token": "api-token"}, metrics={"port": port})
    async with running_gateway(settings, clock) as client:
        assert (await client.get("/metrics", headers=TOKEN)).status == 404  # not on the main port
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as response:
            assert response.status == 200
            assert "ewg_outbox_depth" in await response.text()
        with pytest.raises(aiohttp.ClientConnectorError):  # 127.0.0.1 only, not every address of the machine
            async with aiohttp.ClientSession() as http:
                await http.get(f"http://127.0.0.2:{port}/metrics")
