"""Partner API tokens (`ewg tokens`): a scoped token sees only its area in /api/* and the CAP feed
(another area's alert by URL is a 404); an expired token gets 401; a revoked one gets 401 at once;
only a hash is stored; every change is an audit row. The deployment's api.token still sees everything."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from sqlalchemy import select

from gateway.dashboard.scope import Scope
from gateway.dashboard.tokens import add_token, revoke_token
from gateway.runtime import RUNTIME
from gateway.storage.models import ApiToken, AuditEntry
from tests.support.cli import ewg
from tests.support.dashboard import TERA, post_sms, scored, seed_traffic
from tests.support.gateway import make_settings, running_gateway

ADMIN = {"Authorization": "Bearer api-token"}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


async def get_json(client, path: str, headers: dict, status: int = 200) -> dict | str:
    response = await client.get(path, headers=headers)
    assert response.status == status, (path, response.status, await response.text())
    return await response.json() if status == 200 else await response.text()


async def make_token(client, name: str, scope: tuple[str, ...] | None, days: float = 30) -> str:
    runtime = client.server.app[RUNTIME]
    now = runtime.clock()
    async with runtime.sessions() as session, session.begin():
        _, token = await add_token(session, name, "viewer", Scope(scope), now + timedelta(days=days), now)
    return token


async def test_a_scoped_token_sees_only_its_area(gateway, clock) -> None:
    alerts = await seed_traffic(gateway, clock)
    await post_sms(gateway, TERA, "ATTAQUE TERA 3", "t-1")
    everything = await scored(gateway, lambda a: "NE006011005" in a)
    maradi = await make_token(gateway, "maradi-partner", ("NE004",))

    seen = await get_json(gateway, "/api/alerts", bearer(maradi))
    assert {a["commune"] for a in seen["alerts"]} == {"NE004006003", "NE004005003"}
    reports = (await get_json(gateway, "/api/reports", bearer(maradi)))["reports"]
    assert reports and {r["commune"][:5] for r in reports} == {"NE004"}
    communes = (await get_json(gateway, "/api/communes", bearer(maradi)))["communes"]
    assert communes and all(c["pcode"].startswith("NE004") for c in communes)
    # a filter for another area finds nothing, it does not widen the scope
    assert (await get_json(gateway, "/api/alerts?region=NE006", bearer(maradi)))["alerts"] == []
    assert "scoped token" in await get_json(gateway, "/api/ussd/funnel", bearer(maradi), 403)

    feed = await (await gateway.get("/feeds/cap.atom", headers=bearer(maradi))).text()
    assert alerts["NE004006003"]["code"] in feed and everything["NE006011005"]["code"] not in feed
    tera_id = everything["NE006011005"]["id"]
    assert (await gateway.get(f"/feeds/cap/{tera_id}.xml", headers=bearer(maradi))).status == 404
    assert (await gateway.get(f"/feeds/cap/{tera_id}.xml?token={maradi}")).status == 404
    assert (await gateway.get(f"/feeds/cap/{alerts['NE004006003']['id']}.xml?token={maradi}")).status == 200
    # the deployment's own token sees every area
    assert {a["commune"] for a in (await get_json(gateway, "/api/alerts", ADMIN))["alerts"]} == {
        "NE004006003", "NE004005003", "NE006011005"}


async def test_expired_and_revoked_tokens_get_401(gateway, clock) -> None:
    token = await make_token(gateway, "short", None, days=1)
    assert (await get_json(gateway, "/api/alerts", bearer(token)))["alerts"] == []
    clock.advance(days=1, seconds=1)
    assert await get_json(gateway, "/api/alerts", bearer(token), 401) == "API token expired"

    other = await make_token(gateway, "revoked-partner", None)
    assert (await gateway.get("/api/reports", headers=bearer(other))).status == 200
    runtime = gateway.server.app[RUNTIME]
    async with runtime.sessions() as session, session.begin():
        assert await revoke_token(session, "revoked-partner", clock.now) == 1
    assert await get_json(gateway, "/api/reports", bearer(other), 401) == "API token revoked"
    assert (await gateway.get(f"/feeds/cap.atom?token={other}")).status == 401
    for wrong in ("ewg_" + "x" * 43, "not-a-token", other[:-1]):
        assert await get_json(gateway, "/api/alerts", bearer(wrong), 401) == "wrong or missing API token"


async def test_tokens_on_the_command_line(db_url, clock) -> None:
    assert ewg("db", "upgrade", db_url=db_url).returncode == 0
    settings = make_settings(db_url, callbacks={"token": "s3cret"}, api={"token": "api-token"})
    async with running_gateway(settings, clock) as client:  # loads the demo gazetteer the scope names
        pass
    made = ewg("tokens", "add", "ocha-niamey", "--scope", "Maradi,Téra", "--days", "30", db_url=db_url)
    assert made.returncode == 0, made.stderr
    token, summary = made.stdout.strip().splitlines()
    assert re.fullmatch(r"ewg_[A-Za-z0-9_-]{43}", token)
    assert "scope NE004, NE006011," in summary  # Téra: the department, the widest unit so named and "viewer" in summary
    again = ewg("tokens", "add", "ocha-niamey", db_url=db_url)
    assert again.returncode == 1 and "already has a token" in again.stderr
    bad = ewg("tokens", "add", "x", "--scope", "Maradii", db_url=db_url)
    assert bad.returncode == 1 and "unknown area 'Maradii'" in bad.stderr and "Traceback" not in bad.stderr
    listing = [json.loads(line) for line in ewg("tokens", "list", "--json", db_url=db_url).stdout.splitlines()]
    assert [(r["name"], r["scope"], r["state"]) for r in listing] == [("ocha-niamey", "NE004,NE006011", "active")]
    assert token not in json.dumps(listing)

    async with running_gateway(settings, clock) as client:
        async with client.server.app[RUNTIME].sessions() as session:
            [row] = (await session.execute(select(ApiToken))).scalars()
            assert token not in (row.token_hash, row.name) and len(row.token_hash) == 64
        assert (await client.get("/api/alerts", headers=bearer(token))).status == 200
        revoked = ewg("tokens", "revoke", "ocha-niamey", db_url=db_url)
        assert revoked.returncode == 0, revoked.stderr
        assert (await client.get("/api/alerts", headers=bearer(token))).status == 401  # at once
        async with client.server.app[RUNTIME].sessions() as session:
            trail = [(e.action, e.target) for e in (await session.execute(select(AuditEntry))).scalars()]
        assert trail == [("token_add", "ocha-niamey"), ("token_revoke", "ocha-niamey")]
    assert "no live token" in ewg("tokens", "revoke", "ocha-niamey", db_url=db_url).stderr


async def test_users_get_a_scope_on_the_command_line(db_url, clock) -> None:
    assert ewg("db", "upgrade", db_url=db_url).returncode == 0
    async with running_gateway(make_settings(db_url), clock):
        pass  # the demo gazetteer
    result = ewg("users", "add", "zara", "--role", "viewer", "--scope", "maradi", "--password-stdin",
                 stdin="sahel-2026-zara\n", db_url=db_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "dashboard user zara added (viewer, scope NE004)"
    assert "scope of zara: everywhere" in ewg("users", "scope", "zara", "--everywhere", db_url=db_url).stdout
    failed = ewg("users", "scope", "zara", "Gabii", db_url=db_url)
    assert failed.returncode == 1 and "unknown area 'Gabii'" in failed.stderr
