"""Flood: one number sending hundreds of messages is stored in full, answered only
`gateway.reply_limit` times per window, cannot raise an alert alone, and shows in /metrics."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from gateway.providers.africastalking_forms import inbound_sms_form
from gateway.runtime import RUNTIME
from gateway.storage.models import Alert, Message, Outbox, Report
from tests.support.gateway import count, running_gateway, settle
from tests.support.providers import ScriptedProvider

FLOOD = 300
UNKNOWN_NUMBER = "+22791234567"
FOCAL_POINT, SECOND_FOCAL_POINT = "+22790000101", "+22790000102"  # demo: approved, Gabi
GABI_COMMITTEE = {"+22796000201", "+22796000202"}
DEPARTMENT_AND_REGION = {"+22796000301", "+22796000401"}


async def send_flood(client: TestClient, clock, number: str, text: str, count: int) -> list[str]:
    answers = []
    for n in range(count):
        form = inbound_sms_form(number, text, received_at=clock(), message_id=f"flood-{number}-{n}")
        response = await client.post("/callbacks/at/sms", params={"token": "s3cret"}, data=form)
        answers.append(f"{response.status} {await response.text()}")
    return answers


async def withheld_metric(client: TestClient) -> float:
    text = await (await client.get("/metrics", headers={"Authorization": "Bearer api-token"})).text()
    return float(re.search(r"^ewg_replies_withheld_total (\S+)$", text, re.M).group(1))


async def test_an_unknown_number_flooding_is_stored_answered_three_times_and_raises_nothing(settings, clock) -> None:
    provider = ScriptedProvider()
    async with running_gateway(settings, clock, provider) as client:
        answers = await send_flood(client, clock, UNKNOWN_NUMBER, "VOL GABI 200", FLOOD)
        await settle(client)

        assert answers == ["200 stored: report"] * FLOOD
        assert await count(client, select(func.count()).select_from(Message)) == FLOOD
        assert await count(client, select(func.count()).select_from(Report)) == FLOOD
        limit = settings.gateway.reply_limit
        assert await count(client, select(func.count()).select_from(Outbox).where(Outbox.kind == "reply")) == limit
        assert await count(client, select(func.count()).select_from(Message)
                           .where(Message.reply_status == "rate_limited")) == FLOOD - limit
        assert [to for to, _ in provider.delivered] == [UNKNOWN_NUMBER] * limit
        assert await count(client, select(func.count()).select_from(Alert)) == 0
        assert await withheld_metric(client) == FLOOD - limit


async def test_one_approved_number_repeating_itself_alerts_no_further_than_one_report(settings, clock) -> None:
    provider = ScriptedProvider()
    async with running_gateway(settings, clock, provider) as client:
        await send_flood(client, clock, FOCAL_POINT, "ATTAQUE GABI 3", FLOOD)
        await settle(client)

        async with client.app[RUNTIME].sessions() as session:
            alerts = [(a.level, a.status) for a in (await session.execute(select(Alert))).scalars()]
        assert alerts == [(1, "open")], "one reporter repeating itself raised the alert beyond level 1"
        alert_recipients = sorted(to for to, text in provider.delivered if to != FOCAL_POINT)
        assert alert_recipients == sorted(GABI_COMMITTEE), "each commune member alerted once, nobody above"
        assert [to for to, _ in provider.delivered].count(FOCAL_POINT) == settings.gateway.reply_limit
        assert await withheld_metric(client) == FLOOD - settings.gateway.reply_limit

        # Control: one report from a second, independent focal point does what the flood could not.
        await send_flood(client, clock, SECOND_FOCAL_POINT, "ATTAQUE GABI 3", 1)
        await settle(client)
        async with client.app[RUNTIME].sessions() as session:
            assert (await session.execute(select(Alert.level))).scalar_one() == 2
        assert DEPARTMENT_AND_REGION <= {to for to, _ in provider.delivered}
