"""End to end through real HTTP callbacks, a real `ewg serve` and the fake provider:
two focal points of Gabi report an attack; the commune committee is alerted, then the
department and region; `OK <code>` acknowledges; a duplicate callback alerts no one twice."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

from gateway.providers.africastalking_forms import inbound_sms_form
from tests.support.end_to_end import CALLBACKS_TOKEN, post_sms, wait_for

FOCAL_POINTS = ("+22790000101", "+22790000102")  # demo: Gabi, approved
GABI_CHAIR, GABI_MEMBER = "+22796000201", "+22796000202"
DEPARTMENT, REGION = "+22796000301", "+22796000401"
CODE = re.compile(r"\b(?:OK|TO) ([2-9A-HJ-NP-Z]{4})\b")  # the code members are told to quote


async def test_two_focal_points_alert_commune_then_region_and_ok_acknowledges(served_gateway, fake_provider) -> None:
    async def sent_to(*numbers: str) -> list[dict]:
        return [m for m in await fake_provider.messages() if m["to"] in numbers]

    first = inbound_sms_form(FOCAL_POINTS[0], "ATTAQUE GABI 3", received_at=datetime.now(UTC))
    assert (await post_sms(served_gateway, first))[0] == 200
    alerts = await wait_for(lambda: _both(sent_to, GABI_CHAIR, GABI_MEMBER), timeout=30)
    assert alerts, f"commune committee not alerted: {await fake_provider.messages()}\n{served_gateway.logs_tail()}"
    chair_alert = next(m["message"] for m in alerts if m["to"] == GABI_CHAIR)
    assert "Gabi" in chair_alert
    code = _alert_code(chair_alert)
    assert not await sent_to(DEPARTMENT, REGION), "level 1 must stay in the commune"

    # The provider retries the first callback: nobody is alerted twice.
    assert await post_sms(served_gateway, first) == (200, "duplicate: already stored")
    await asyncio.sleep(1.5)
    assert len(await sent_to(GABI_CHAIR)) == 1

    second = inbound_sms_form(FOCAL_POINTS[1], "hari gabi", received_at=datetime.now(UTC))
    assert (await post_sms(served_gateway, second))[0] == 200
    upper = await wait_for(lambda: _both(sent_to, DEPARTMENT, REGION), timeout=30)
    assert upper, f"department and region not alerted: {await fake_provider.messages()}"
    assert all(code in m["message"] for m in upper)

    ack = inbound_sms_form(GABI_CHAIR, f"OK {code.lower()}", received_at=datetime.now(UTC))
    assert (await post_sms(served_gateway, ack)) == (200, "stored: command")

    async def notice_to_member() -> list[dict]:
        return [m for m in await sent_to(GABI_MEMBER) if m["message"] != alerts[0]["message"] and code in m["message"]
                and "Maire de Gabi" in m["message"]]

    assert await wait_for(notice_to_member, timeout=30), (await fake_provider.messages(), served_gateway.logs_tail(60))
    chair_replies = await wait_for(lambda: _replies_with(sent_to, GABI_CHAIR, "prise en charge par vous"))
    assert chair_replies, await sent_to(GABI_CHAIR)

    everything = await fake_provider.messages()
    for message in everything:
        if message["to"] in FOCAL_POINTS:
            continue  # their own confirmations
        for secret in (*FOCAL_POINTS, "90000101", "90000102", "Point focal"):
            assert secret not in message["message"], f"reporter identity leaked to {message['to']}"
    chair_alerts = [m for m in await sent_to(GABI_CHAIR) if code in m["message"]]
    assert len({m["message"] for m in chair_alerts}) == len(chair_alerts), "a committee member got a duplicate"


async def _both(sent_to, first: str, second: str) -> list[dict]:
    messages = await sent_to(first, second)
    return messages if {m["to"] for m in messages} == {first, second} else []


async def _replies_with(sent_to, number: str, fragment: str) -> list[dict]:
    return [m for m in await sent_to(number) if fragment in m["message"]]


def _alert_code(text: str) -> str:
    found = CODE.search(text)
    assert found, f"no alert code in {text!r}"
    return found.group(1)


async def test_ussd_report_alerts_the_committee_like_sms(served_gateway, fake_provider) -> None:
    import aiohttp

    typed: list[str] = []
    async with aiohttp.ClientSession() as http:
        for answer in (None, "1", "1", "1", "2", "1"):  # report, attack, my commune, count 2, send
            if answer is not None:
                typed.append(answer)
            async with http.post(f"{served_gateway.url}/callbacks/at/ussd", params={"token": CALLBACKS_TOKEN}, data={
                "sessionId": "ATUid_e2e", "serviceCode": "*384*3737#", "phoneNumber": FOCAL_POINTS[1],
                "networkCode": "61402", "text": "*".join(typed)}) as response:
                screen = await response.text()
    assert screen.startswith("END An karbi rahoto"), screen

    async def sent_to(*numbers: str) -> list[dict]:
        return [m for m in await fake_provider.messages() if m["to"] in numbers]

    alerts = await wait_for(lambda: _both(sent_to, GABI_CHAIR, GABI_MEMBER), timeout=30)
    assert alerts, served_gateway.logs_tail()
    assert all("Gabi" in m["message"] and FOCAL_POINTS[1] not in m["message"] for m in alerts)
