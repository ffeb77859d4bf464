"""Two gateways end to end (two `ewg serve` processes, two SQLite databases): Niger's, whose partner
is Mali's for the communes ML*, and Mali's, whose partner is Niger's for NE*. An attack reported in
Ayerou (Niger) while Mali's gateway is down: the CAP message to Mali waits in Niger's
partner_deliveries, retried; once Mali's gateway is back it is delivered, before its expiry, and
Ouattagouna's committee (on Mali's gateway only) is warned in Zarma, naming Ayerou, Niger. Mali's real
gateway then refuses a forged CAP (another token: 401, nobody warned) and one failing the CAP 1.2
schema (400 naming it); the alert resolved on Niger's gateway (`ewg alerts --resolve`) reaches Mali's
as a Cancel, which warns nobody; both gateways' /metrics count what happened."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from gateway.feeds.cap import CapAlert, PartnerMessage, partner_cap_xml
from gateway.kernel.taxonomy import load_taxonomy
from gateway.providers.africastalking_forms import inbound_sms_form
from tests.support.end_to_end import CALLBACKS_TOKEN, post_sms, wait_for
from tests.support.gateway_process import DEMO_GAZETTEER, PRODUCTION_SECRETS, GatewayProcess
from tests.support.ports import free_port

NIGER_TO_MALI, MALI_TO_NIGER = "niger-to-mali-token-0123456789", "mali-to-niger-token-0123456789"
FOCAL_POINT, AYEROU_CHAIR, OUATTAGOUNA_CHAIR = "+22790000105", "+22796000205", "+22396000503"
CODE = re.compile(r"\bOK ([2-9A-HJ-NP-Z]{4})\b")
FAST_RETRIES = {"EWG_OUTBOX__POLL_SECONDS": "0.2", "EWG_OUTBOX__BACKOFF_BASE_SECONDS": "0.3",
                "EWG_OUTBOX__BACKOFF_MAX_SECONDS": "1", "EWG_METRICS__REFRESH_SECONDS": "0.2"}


def partner(name: str, port: int, token: str, inbound_token: str, areas: list[str]) -> str:
    return json.dumps([{"name": name, "url": f"http://127.0.0.1:{port}", "token": token,
                        "inbound_token": inbound_token, "areas": areas}])


def forged_cap(msg_type: str = "Alert") -> bytes:
    """A CAP message as Niger's gateway would write it, about an alert it never raised, naming Ouattagouna."""
    alert = CapAlert(99, "F4K3", "attack", 2, "open", 0, datetime.now(UTC), datetime.now(UTC), "NE006002001",
                     "Ayerou", 14.77284, 0.89577, 1, None)
    message = PartnerMessage(1, msg_type, 2, {"ML070104": 1}, datetime.now(UTC))
    return partner_cap_xml(alert, message, load_taxonomy(), "ewg@niger.example")


async def post_cap(gateway: GatewayProcess, body: bytes, token: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.post(
            f"{gateway.url}/api/cap/inbound", data=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/cap+xml"}) as response:
        return response.status, await response.text()


async def metric(gateway: GatewayProcess, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """One metric's samples from the gateway's /metrics: its sorted labels -> value."""
    async with aiohttp.ClientSession() as http, http.get(
            f"{gateway.url}/metrics", headers={"Authorization": f"Bearer {PRODUCTION_SECRETS['EWG_API__TOKEN']}"}
    ) as response:
        text = await response.text()
    return {tuple(sorted(s.labels.items())): s.value for family in text_string_to_metric_families(text)
            for s in family.samples if s.name == name}


def deliveries(database: Path) -> list[tuple]:
    with sqlite3.connect(database) as db:
        return db.execute("SELECT msg_type, status, attempts, communes, last_error, expires_at > sent_at "
                          "FROM partner_deliveries ORDER BY id").fetchall()


async def test_an_attack_in_ayerou_reaches_ouattagouna_through_malis_gateway(tmp_path, fake_provider,
                                                                             _sqlite_template) -> None:
    niger_port, mali_port = free_port(), free_port()
    (tmp_path / "niger").mkdir()
    (tmp_path / "mali").mkdir()
    niger_db, mali_db = tmp_path / "niger" / "ewg.db", tmp_path / "mali" / "ewg.db"
    for database in (niger_db, mali_db):  # migrated once for the session: `db upgrade` is not under test here
        shutil.copy(_sqlite_template, database)
    common = {"EWG_AFRICASTALKING__BASE_URL": fake_provider.base_url, "EWG_CALLBACKS__TOKEN": CALLBACKS_TOKEN,
              **fake_provider.credentials_env(), **FAST_RETRIES}
    niger = GatewayProcess({**common, "EWG_DATABASE__URL": f"sqlite+aiosqlite:///{niger_db}",
                            "EWG_DASHBOARD__CAP_SENDER": "ewg@niger.example",
                            "EWG_SPILLOVER__PARTNERS": partner("mali", mali_port, NIGER_TO_MALI, MALI_TO_NIGER, ["ML"])},
                           niger_port, tmp_path / "niger", migrate=False)
    mali = GatewayProcess({**common, "EWG_DATABASE__URL": f"sqlite+aiosqlite:///{mali_db}",
                           "EWG_DASHBOARD__CAP_SENDER": "ewg@mali.example",
                           "EWG_SPILLOVER__PARTNERS": partner("niger", niger_port, MALI_TO_NIGER, NIGER_TO_MALI, ["NE"])},
                          mali_port, tmp_path / "mali", migrate=False, people=False)
    (tmp_path / "mali" / "committees.csv").write_text(
        f"phone,name,area,role,lang\n{OUATTAGOUNA_CHAIR},Comite Ouattagouna,ML070104,chair,dje\n")

    async def start_mali() -> None:
        """Mali's database as its operator sets it up (its gazetteer, its committees), then its gateway."""
        for command in (("gazetteer", "import", *map(str, DEMO_GAZETTEER)),
                        ("committees", "import", str(tmp_path / "mali" / "committees.csv"))):
            assert await mali.run_command(*command) == 0, mali.logs_tail()
        await mali.start(timeout=60)

    try:
        await asyncio.gather(niger.start(timeout=60), start_mali())
        await mali.terminate()  # Mali's gateway is down when the attack is reported

        reported = inbound_sms_form(FOCAL_POINT, "ATTAQUE AYEROU 3", received_at=datetime.now(UTC))
        assert (await post_sms(niger, reported))[0] == 200

        async def first_to(number: str) -> dict | None:
            return next((m for m in await fake_provider.messages() if m["to"] == number), None)

        alerted = await wait_for(lambda: first_to(AYEROU_CHAIR), timeout=30)
        assert alerted, niger.logs_tail(60)
        code = CODE.search(alerted["message"]).group(1)

        async def retried() -> bool:
            rows = deliveries(niger_db)
            return bool(rows) and rows[0][2] >= 2 and rows[0][1] == "queued"

        assert await wait_for(retried, timeout=30), (deliveries(niger_db), niger.logs_tail(40))
        msg_type, status, _attempts, communes, last_error, _ = deliveries(niger_db)[0]
        assert (msg_type, status, json.loads(communes)) == ("Alert", "queued", {"ML070104": 1})
        assert last_error.startswith("partner unreachable")
        assert await first_to(OUATTAGOUNA_CHAIR) is None  # nobody on Niger's gateway warns Ouattagouna

        await mali.start(timeout=60)  # back: the waiting CAP message goes through
        warned = await wait_for(lambda: first_to(OUATTAGOUNA_CHAIR), timeout=30)
        assert warned, (deliveries(niger_db), niger.logs_tail(40), mali.logs_tail(40))
        assert warned["message"] == (f"VIGILANCE {code}: wongu daraja 1 Ayerou (Niger) ra, war kwaara jarga. "
                                     f"Ma haggoy. Ma OK {code} sanba ka tabbatandi.")
        async def delivered() -> bool:
            return deliveries(niger_db)[0][1] == "sent"

        assert await wait_for(delivered, timeout=10), deliveries(niger_db)
        assert deliveries(niger_db)[0][5] == 1  # delivered before its expiry
        with sqlite3.connect(mali_db) as db:
            assert db.execute("SELECT partner, msg_type, code, place, country FROM cap_inbound").fetchall() == [
                ("niger", "Alert", code, "Ayerou", "NE")]

        # Mali's real gateway refuses what Niger's did not send: another's token, a broken document
        assert await post_cap(mali, forged_cap(), MALI_TO_NIGER) == (401, "a partner's bearer token is required")
        status, reason = await post_cap(mali, forged_cap().replace(b"<msgType>Alert<", b"<msgType>Warning<"),
                                        NIGER_TO_MALI)
        assert status == 400 and reason.startswith("CAP 1.2 schema: line") and "msgType" in reason, reason

        # resolved on Niger's gateway: Mali's hears of it as a Cancel, which warns nobody
        assert await niger.run_command("alerts", "--resolve", code) == 0, niger.logs_tail()

        def inbound() -> list[tuple]:
            with sqlite3.connect(mali_db) as db:
                return db.execute("SELECT partner, msg_type, code FROM cap_inbound ORDER BY id").fetchall()

        async def cancelled() -> bool:
            return len(inbound()) == 2 and deliveries(niger_db)[-1][:2] == ("Cancel", "sent")

        assert await wait_for(cancelled, timeout=20), (inbound(), deliveries(niger_db), niger.logs_tail(40))
        assert inbound() == [("niger", "Alert", code), ("niger", "Cancel", code)]

        async def counted() -> bool:
            return (await metric(niger, "ewg_partner_deliveries")).get(
                (("partner", "mali"), ("state", "sent"))) == 2
        assert await wait_for(counted, timeout=10), await metric(niger, "ewg_partner_deliveries")
        assert {labels: n for labels, n in (await metric(mali, "ewg_cap_inbound_total")).items() if n} == {
            (("outcome", "accepted"), ("partner", "niger"), ("reason", "new")): 2,
            (("outcome", "refused"), ("partner", "none"), ("reason", "token")): 1,
            (("outcome", "refused"), ("partner", "niger"), ("reason", "schema")): 1}
        everything = [m for m in await fake_provider.messages() if m["to"] == OUATTAGOUNA_CHAIR]
        assert len(everything) == 1  # neither the forged message nor the Cancel warned anyone
    finally:
        await asyncio.gather(niger.terminate(), mali.terminate())
