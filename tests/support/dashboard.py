"""Traffic for the dashboard, API, feed and export tests (four demo focal points and what they report,
scored by the gateway's own scorer), and dashboard users who log in."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from urllib.parse import urlencode

from aiohttp.test_utils import TestClient

from alerts.service import AckOutcome, acknowledge
from gateway.dashboard.users import ensure_user
from gateway.runtime import RUNTIME
from tests.support.callbacks import FORM
from tests.support.gateway import FakeClock

GABI_1, GABI_2, GUIDAN_SORI, TERA = "+22790000101", "+22790000102", "+22790000103", "+22790000104"
GUIDAN_SORI_CHAIR = "+22796000203"  # demo committee member of Guidan Sori
ADMIN, ADMIN_PASSWORD = "admin", "sahel-admin-2026"


async def post_sms(client: TestClient, sender: str, text: str, message_id: str) -> str:
    body = urlencode({"from": sender, "to": "3737", "text": text, "date": "2026-11-24 11:59:00", "id": message_id})
    response = await client.post("/callbacks/at/sms?token=s3cret", data=body, headers=FORM)
    assert response.status == 200, await response.text()
    return await response.text()


async def seed_traffic(client: TestClient, clock: FakeClock) -> dict[str, dict]:
    """Two focal points report an attack in Gabi (level 2), one a kidnapping in Guidan Sori
    (level 1, acknowledged 12 minutes later by its committee chair), and one text is not understood.
    Returns the alerts by commune P-code, as /api/alerts gives them."""
    await post_sms(client, GABI_1, "ATTAQUE GABI 12", "s-1")
    await post_sms(client, GABI_2, "hari gabi 20", "s-2")
    await post_sms(client, GUIDAN_SORI, "sace guidan sori uku", "s-3")
    await post_sms(client, TERA, "bonjour kaykay", "s-4")
    alerts = await scored(client, lambda a: a.get("NE004006003", {}).get("level") == 2 and "NE004005003" in a)
    clock.advance(minutes=12)
    # Through the alert service rather than an "OK <code>" SMS: the seed is about the dashboard, and the
    # SMS path has tests of its own.
    runtime = client.server.app[RUNTIME]
    async with runtime.sessions() as session, session.begin():
        result = await acknowledge(session, GUIDAN_SORI_CHAIR, alerts["NE004005003"]["code"], clock.now)
    assert result.outcome is AckOutcome.ACKNOWLEDGED
    return await api_alerts(client)


async def scored(client: TestClient, ready: Callable[[dict[str, dict]], bool],
                 timeout: float = 10.0) -> dict[str, dict]:
    """Waits for the gateway's own scorer task (calling score_once beside it would race it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not ready(alerts := await api_alerts(client)):
        assert loop.time() < deadline, f"alerts not raised in time: {alerts}"
        await asyncio.sleep(0.05)
    return alerts


async def api_alerts(client: TestClient) -> dict[str, dict]:
    response = await client.get("/api/alerts", headers={"Authorization": "Bearer api-token"})
    return {a["commune"]: a for a in (await response.json())["alerts"]}


async def add_dashboard_user(client: TestClient, name: str = ADMIN, password: str = ADMIN_PASSWORD,
                             role: str = "admin") -> None:
    async with client.server.app[RUNTIME].sessions() as session, session.begin():
        await ensure_user(session, name, password, role)


async def log_in(client: TestClient, user: str = ADMIN, password: str = ADMIN_PASSWORD) -> None:
    """Logs in as a dashboard user; the default admin is created first if missing."""
    if (user, password) == (ADMIN, ADMIN_PASSWORD):
        await add_dashboard_user(client)
    response = await client.post("/dashboard/login", data={"user": user, "password": password},
                                 allow_redirects=False)
    assert response.status == 303, await response.text()
    assert response.headers["Location"] == "/dashboard"
