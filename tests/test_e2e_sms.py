"""End to end: a real `ewg serve` process, a fake Africa's Talking reached through the
real SDK via EWG_AFRICASTALKING__BASE_URL, and plain HTTP between them."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

import aiohttp
import pytest

from gateway.providers.africastalking_forms import inbound_sms_form
from tests.support.end_to_end import post_sms, wait_for
from tests.support.gateway_process import GatewayProcess, GatewayStartError
from tests.support.ports import free_port

FOCAL_POINT = "+22790000101"  # demo: approved focal point of Gabi, Hausa


async def test_report_in_confirmation_out(served_gateway, fake_provider) -> None:
    form = inbound_sms_form(FOCAL_POINT, "sace guidan sori uku", received_at=datetime.now(UTC))
    assert await post_sms(served_gateway, form) == (200, "stored: report")

    async def confirmation():
        return [m for m in await fake_provider.messages() if m["to"] == FOCAL_POINT]

    replies = await wait_for(confirmation)
    assert len(replies) == 1, served_gateway.logs_tail()
    text = replies[0]["message"]
    # Hausa, the reporter's language: reference, incident, place, count, and how to retract.
    assert re.fullmatch(r"An karba (R[2-9A-Z]{3,}): garkuwa Guidan Sori \(3\)\. Mun gode\. Kuskure\? Ku aika KARYA \1",
                        text), text

    # The provider retries the same callback: stored once, confirmed once.
    assert await post_sms(served_gateway, form) == (200, "duplicate: already stored")
    await asyncio.sleep(1.0)
    assert len(await confirmation()) == 1
    assert FOCAL_POINT not in served_gateway.logs(), "a reporter's number reached the log unmasked"


async def test_unknown_text_gets_help_and_healthz_reports_ready(served_gateway, fake_provider) -> None:
    form = inbound_sms_form("+22791112233", "bonjour", received_at=datetime.now(UTC))
    assert await post_sms(served_gateway, form) == (200, "stored: unknown")

    async def help_reply():
        return [m for m in await fake_provider.messages() if m["to"] == "+22791112233"]

    replies = await wait_for(help_reply)
    assert replies and replies[0]["message"].startswith("Envoyez: INCIDENT LIEU NOMBRE"), replies
    async with aiohttp.ClientSession() as http, http.get(f"{served_gateway.url}/healthz") as response:
        assert response.status == 200
        body = await response.json()
    assert body["database"] == "ok" and body["status"] == "ok"


async def test_serve_refuses_a_stale_schema(tmp_path) -> None:
    process = GatewayProcess({"EWG_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path}/empty.db"}, free_port(),
                             tmp_path, migrate=False)
    with pytest.raises(GatewayStartError):
        await process.start(timeout=30)
    assert "run `ewg db upgrade`" in process.logs()
    assert "Traceback" not in process.logs()
