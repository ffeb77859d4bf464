"""End to end through real HTTP callbacks, a real `ewg serve` and the fake provider, on the shared
gazetteers imported and the people loaded the way an operator does it (the CLI and CSV files): a
focal point of Ayerou reports an attack; Ayerou's committee is alerted, and the committees of Inatès
(Niger) and Ouattagouna (Mali, across the border) are each warned within 30 s, in their own
language, naming Ayerou; a committee in Gabi hears nothing. Inatès acknowledges its warning for
itself: the alert stays for Ayerou's committee to take charge of."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

import pytest

from gateway.providers.africastalking_forms import inbound_sms_form
from tests.support.end_to_end import CALLBACKS_TOKEN, post_sms, wait_for
from tests.support.gateway_process import GatewayProcess
from tests.support.paths import SHARED_DATA, needs_shared
from tests.support.ports import free_port

SHARED_FILES = ("ner_adm3_gazetteer.csv", "mli_adm3_gazetteer.csv", "ner_pcodes_adm1_adm2_hdx_fixture.csv",
                "mli_pcodes_adm1_adm2_hdx_fixture.csv", "ner_renaloc_localities.csv")
FOCAL_POINT = "+22790000301"
AYEROU_CHAIR, INATES_MEMBER, OUATTAGOUNA_CHAIR, GABI_CHAIR = (
    "+22796000501", "+22796000502", "+22396000503", "+22796000504")
REPORTERS = f"phone,name,commune,lang\n{FOCAL_POINT},Point focal Ayerou,NE006002001,fr\n"
COMMITTEES = (
    "phone,name,area,role,lang\n"
    f"{AYEROU_CHAIR},Maire Ayerou,NE006002001,chair,fr\n"
    f"{INATES_MEMBER},Comite Inates,NE006002002,member,ha\n"
    f"{OUATTAGOUNA_CHAIR},Comite Ouattagouna,ML070104,chair,dje\n"
    f"{GABI_CHAIR},Maire Gabi,NE004006003,chair,fr\n"
)
CODE = re.compile(r"\b(?:OK|TO) ([2-9A-HJ-NP-Z]{4})\b")


@pytest.fixture
async def ayerou_gateway(tmp_path, db_url, fake_provider):
    gateway = GatewayProcess({
        "EWG_DATABASE__URL": db_url, "EWG_AFRICASTALKING__BASE_URL": fake_provider.base_url,
        "EWG_CALLBACKS__TOKEN": CALLBACKS_TOKEN, "EWG_API__TOKEN": "api-token-0123456789",
        "EWG_OUTBOX__POLL_SECONDS": "0.2", **fake_provider.credentials_env(),
    }, free_port(), tmp_path, people=False)
    (tmp_path / "reporters.csv").write_text(REPORTERS)
    (tmp_path / "committees.csv").write_text(COMMITTEES)
    for command in (("db", "upgrade"), ("gazetteer", "import", *(str(SHARED_DATA / n) for n in SHARED_FILES)),
                    ("reporters", "import", str(tmp_path / "reporters.csv")),
                    ("committees", "import", str(tmp_path / "committees.csv"))):
        assert await gateway.run_command(*command) == 0, gateway.logs_tail()
    await gateway.start(timeout=60)
    yield gateway
    await gateway.terminate()


@needs_shared
async def test_an_attack_in_ayerou_warns_inates_and_ouattagouna_across_the_border(ayerou_gateway, fake_provider):
    async def first_to(number: str) -> dict | None:
        return next((m for m in await fake_provider.messages() if m["to"] == number), None)

    loop = asyncio.get_running_loop()
    reported = inbound_sms_form(FOCAL_POINT, "ATTAQUE AYEROU 3", received_at=datetime.now(UTC))
    started = loop.time()
    assert (await post_sms(ayerou_gateway, reported))[0] == 200

    arrived = {}
    for number in (AYEROU_CHAIR, INATES_MEMBER, OUATTAGOUNA_CHAIR):
        message = await wait_for(lambda n=number: first_to(n), timeout=30 - (loop.time() - started))
        assert message, (number, await fake_provider.messages(), ayerou_gateway.logs_tail(60))
        arrived[number] = message["message"]
    assert loop.time() - started < 30
    code = CODE.search(arrived[AYEROU_CHAIR]).group(1)

    assert arrived[AYEROU_CHAIR].startswith(f"ALERTE {code} niveau 1: attaque à Ayerou.")
    assert arrived[INATES_MEMBER] == (f"HATTARA {code}: hari mataki 1 a Ayerou (Nijar), kusa da komin ku. "
                                      f"Ku yi hankali. Ku amsa TO {code} don tabbatar da samu.")
    assert arrived[OUATTAGOUNA_CHAIR] == (f"VIGILANCE {code}: wongu daraja 1 Ayerou (Niger) ra, war kwaara jarga. "
                                          f"Ma haggoy. Ma OK {code} sanba ka tabbatandi.")
    await asyncio.sleep(2)  # the scorer and the sender have long had their turn: Gabi stays quiet
    everything = await fake_provider.messages()
    assert [m for m in everything if m["to"] == GABI_CHAIR] == []
    for message in everything:
        if message["to"] != FOCAL_POINT:
            assert "90000301" not in message["message"] and "Point focal" not in message["message"]

    # Inatès takes note for itself (Hausa TO); the alert still waits for Ayerou's committee.
    noted = inbound_sms_form(INATES_MEMBER, f"TO {code}", received_at=datetime.now(UTC))
    assert await post_sms(ayerou_gateway, noted) == (200, "stored: command")

    async def reply_to(number: str, fragment: str) -> list[dict]:
        return [m for m in await fake_provider.messages() if m["to"] == number and fragment in m["message"]]

    assert await wait_for(lambda: reply_to(INATES_MEMBER, f"An lura da HATTARA {code} don komin ku."), timeout=30)
    taken = inbound_sms_form(AYEROU_CHAIR, f"OK {code}", received_at=datetime.now(UTC))
    assert await post_sms(ayerou_gateway, taken) == (200, "stored: command")
    assert await wait_for(lambda: reply_to(AYEROU_CHAIR, f"Alerte {code} prise en charge par vous."), timeout=30), \
        await fake_provider.messages()
