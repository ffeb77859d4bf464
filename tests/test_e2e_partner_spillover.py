"""Two gateways end to end (two `ewg serve` processes, two SQLite databases): Niger's, whose partner
is Mali's for the communes ML*, and Mali's, whose partner is Niger's for NE*. An attack reported in
Ayerou (Niger) while Mali's gateway is down: the CAP message to Mali waits in Niger's
partner_deliveries, retried; once Mali's gateway is back it is delivered, before its expiry, and
Ouattagouna's committee (on Mali's gateway only) is warned in Zarma, naming Ayerou, Niger."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from gateway.providers.africastalking_forms import inbound_sms_form
from tests.support.end_to_end import CALLBACKS_TOKEN, post_sms, wait_for
from tests.support.gateway_process import DEMO_GAZETTEER, GatewayProcess
from tests.support.ports import free_port

NIGER_TO_MALI, MALI_TO_NIGER = "niger-to-mali-token-0123456789", "mali-to-niger-token-0123456789"
FOCAL_POINT, AYEROU_CHAIR, OUATTAGOUNA_CHAIR = "+22790000105", "+22796000205", "+22396000503"
CODE = re.compile(r"\bOK ([2-9A-HJ-NP-Z]{4})\b")
FAST_RETRIES = {"EWG_OUTBOX__POLL_SECONDS": "0.2", "EWG_OUTBOX__BACKOFF_BASE_SECONDS": "0.3",
                "EWG_OUTBOX__BACKOFF_MAX_SECONDS": "1"}


def partner(name: str, port: int, token: str, inbound_token: str, areas: list[str]) -> str:
    return json.dumps([{"name": name, "url": f"http://127.0.0.1:{port}", "token": token,
                        "inbound_token": inbound_token, "areas": areas}])


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
        everything = [m for m in await fake_provider.messages() if m["to"] == OUATTAGOUNA_CHAIR]
        assert len(everything) == 1
    finally:
        await asyncio.gather(niger.terminate(), mali.terminate())
