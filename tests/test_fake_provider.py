"""The fake Africa's Talking server, exercised with the gateway's real client: the JSON answers it
gives, the requests it refuses, and the callbacks it posts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from aiohttp import web

from gateway.providers.africastalking import AfricasTalkingSender, ProviderHttpError
from gateway.providers.africastalking_fake import AUTH_FAILED_TEXT, FAKE_API_KEY, FAKE_USERNAME
from gateway.providers.africastalking_forms import delivery_report_form, inbound_sms_form
from tests.support.fake_provider import FakeProviderProcess, FakeProviderServer
from tests.support.ports import free_port

FIXED_NOW = datetime(2026, 11, 24, 17, 10, 25, tzinfo=UTC)
NIGER_MOBILE = "+22790123456"
NIGER_MOBILE_2 = "+22796123456"
NIGER_LANDLINE = "+22720723456"


async def client_send(fake: FakeProviderServer | FakeProviderProcess, message: str, recipients: list[str],
                      username: str = FAKE_USERNAME, api_key: str = FAKE_API_KEY) -> dict:
    """The fake's JSON answer to the gateway's client, sending from "3737" (ProviderHttpError otherwise)."""
    client = AfricasTalkingSender(username, api_key, fake.base_url, sender_id="3737")
    try:
        return await client.post_messaging(message, recipients)
    finally:
        await client.close()


async def test_a_send_returns_the_providers_json_and_the_fake_records_it() -> None:
    async with FakeProviderServer(clock=lambda: FIXED_NOW) as fake:
        answer = await client_send(fake, "Alerte: attaque signalee a Ouallam", [NIGER_MOBILE])

        [recipient] = answer["SMSMessageData"]["Recipients"]
        assert answer["SMSMessageData"]["Message"] == "Sent to 1/1 Total Cost: XOF 25.0000"
        assert recipient["statusCode"] == 101
        assert recipient["status"] == "Success"
        assert recipient["number"] == NIGER_MOBILE
        assert recipient["cost"] == "XOF 25.0000"
        assert recipient["messageId"].startswith("ATXid_")
        assert await fake.messages() == [{
            "to": NIGER_MOBILE, "message": "Alerte: attaque signalee a Ouallam", "from": "3737",
            "messageId": recipient["messageId"], "at": "2026-11-24T17:10:25+00:00",
        }]


async def test_cost_counts_segments_and_recipients() -> None:
    async with FakeProviderServer() as fake:
        answer = await client_send(fake, "x" * 161, [NIGER_MOBILE, NIGER_MOBILE_2])
        assert answer["SMSMessageData"]["Message"] == "Sent to 2/2 Total Cost: XOF 100.0000"
        assert [r["cost"] for r in answer["SMSMessageData"]["Recipients"]] == ["XOF 50.0000"] * 2


async def test_invalid_and_unsupported_numbers_get_per_recipient_statuses() -> None:
    async with FakeProviderServer() as fake:
        answer = await client_send(fake, "Test", [NIGER_MOBILE, "+2279012345", NIGER_LANDLINE])

        recipients = answer["SMSMessageData"]["Recipients"]
        assert [(r["statusCode"], r["status"]) for r in recipients] == [
            (101, "Success"), (403, "InvalidPhoneNumber"), (404, "UnsupportedNumberType"),
        ]
        assert recipients[1] == {"statusCode": 403, "number": "+2279012345", "status": "InvalidPhoneNumber",
                                 "cost": "0", "messageId": "None"}
        assert answer["SMSMessageData"]["Message"] == "Sent to 1/3 Total Cost: XOF 25.0000"
        assert [m["to"] for m in await fake.messages()] == [NIGER_MOBILE]


@pytest.mark.parametrize("username, api_key", [(FAKE_USERNAME, "wrong-key"), ("someone-else", FAKE_API_KEY)])
async def test_wrong_credentials_are_refused_with_the_providers_plain_text(username: str, api_key: str) -> None:
    async with FakeProviderServer() as fake:
        with pytest.raises(ProviderHttpError) as refused:
            await client_send(fake, "Test", [NIGER_MOBILE], username=username, api_key=api_key)
        assert (refused.value.status, refused.value.body) == (401, AUTH_FAILED_TEXT)
        assert await fake.messages() == []


async def test_error500_mode_fails_every_send_until_reset() -> None:
    async with FakeProviderServer() as fake:
        await fake.set_mode("error500")
        with pytest.raises(ProviderHttpError, match="HTTP 500: Internal Server Error"):
            await client_send(fake, "Test", [NIGER_MOBILE])
        await fake.reset()
        answer = await client_send(fake, "Test", [NIGER_MOBILE])
        assert answer["SMSMessageData"]["Recipients"][0]["statusCode"] == 101
        assert await fake.stats() == {"requests": 1, "accepted": 1}


async def test_timeout_mode_hangs_until_the_mode_changes_then_answers_504() -> None:
    async with FakeProviderServer() as fake:
        await fake.set_mode("timeout")
        hung = asyncio.create_task(client_send(fake, "Test", [NIGER_MOBILE]))
        while (await fake.stats())["requests"] == 0:
            await asyncio.sleep(0.01)
        assert not hung.done()
        await fake.set_mode("ok")
        with pytest.raises(ProviderHttpError, match="HTTP 504: Gateway Timeout"):
            await hung
        assert await fake.messages() == []


async def test_reject_all_and_per_number_statuses() -> None:
    async with FakeProviderServer() as fake:
        await fake.set_mode("reject_all", reject_status=405)
        answer = await client_send(fake, "Test", [NIGER_MOBILE])
        assert answer["SMSMessageData"]["Recipients"][0]["status"] == "InsufficientBalance"
        assert answer["SMSMessageData"]["Message"] == "Sent to 0/1 Total Cost: 0"

        await fake.set_mode("ok", number_statuses={NIGER_MOBILE_2: 406})
        answer = await client_send(fake, "Test", [NIGER_MOBILE, NIGER_MOBILE_2])
        assert [r["status"] for r in answer["SMSMessageData"]["Recipients"]] == ["Success", "UserInBlacklist"]


async def test_unknown_mode_is_refused_with_its_name() -> None:
    async with FakeProviderServer() as fake:
        with pytest.raises(AssertionError, match="'down' is not a valid Mode"):
            await fake.set_mode("down")


async def test_deliver_and_inbound_post_the_providers_forms_to_a_callback() -> None:
    received: list[dict] = []

    async def callback(request: web.Request) -> web.Response:
        received.append(dict(await request.post()))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/callbacks/at/{kind}", callback)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with FakeProviderServer(clock=lambda: FIXED_NOW) as fake:
            answer = await client_send(fake, "Test", [NIGER_MOBILE])
            message_id = answer["SMSMessageData"]["Recipients"][0]["messageId"]
            report = await fake.deliver(message_id, "Failed", f"http://127.0.0.1:{port}/callbacks/at/delivery",
                                        failure_reason="AbsentSubscriber", retry_count=2)
            inbound = await fake.send_inbound(f"http://127.0.0.1:{port}/callbacks/at/sms", NIGER_MOBILE,
                                              "ATTAQUE OUALLAM 3", id="in-1")
    finally:
        await runner.cleanup()

    assert report["status"] == 200
    assert received[0] == delivery_report_form(message_id, "Failed", NIGER_MOBILE,
                                               failure_reason="AbsentSubscriber", retry_count=2)
    assert received[0]["retryCount"] == "2"
    assert inbound["status"] == 200
    assert received[1]["date"] == "2026-11-24 17:10:25"
    assert received[1] == inbound_sms_form(NIGER_MOBILE, "ATTAQUE OUALLAM 3", received_at=FIXED_NOW,
                                           message_id="in-1", link_id=received[1]["linkId"])


async def test_the_fake_runs_as_a_process_too() -> None:
    async with FakeProviderProcess() as fake:
        answer = await client_send(fake, "Test", [NIGER_MOBILE])
        assert answer["SMSMessageData"]["Recipients"][0]["statusCode"] == 101
        assert [m["to"] for m in await fake.messages()] == [NIGER_MOBILE]
