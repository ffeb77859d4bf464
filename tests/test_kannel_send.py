"""KannelSender against a stand-in for smsbox's sendsms over real HTTP: the parameters of each SMS
(UTF-8, coding=2 only when GSM-7 cannot carry it, a dlr-url naming the outbox row, validity), and
each answer's outcome (a refused number is final, anything else the provider's)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web

from gateway.kernel.envelopes import Outgoing, SendOutcome
from gateway.providers.kannel import KannelSender


class Smsbox:
    """Answers sendsms with a fixed status and body, and keeps every query."""

    def __init__(self, status: int = 202, body: str = "0: Accepted for delivery") -> None:
        self.status, self.body, self.queries = status, body, []
        app = web.Application()
        app.router.add_get("/cgi-bin/sendsms", self.sendsms)
        self.runner = web.AppRunner(app)

    async def sendsms(self, request: web.Request) -> web.Response:
        self.queries.append(dict(request.query))
        return web.Response(status=self.status, text=self.body)

    async def __aenter__(self) -> str:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{self.runner.addresses[0][1]}/cgi-bin/sendsms"

    async def __aexit__(self, *exc_info) -> None:
        await self.runner.cleanup()


async def test_each_sms_carries_its_outbox_id_and_coding() -> None:
    smsbox = Smsbox()
    async with smsbox as url:
        sender = KannelSender(url, "ewg", "pw", smsc="orange", dlr_base_url="http://gw:8080/",
                              callback_token="tok")
        try:
            # the expiry from the time of sending: a time taken at import is minutes old in a long run
            hausa = await sender.send("Mun karɓa: ƙarin bayani", ["+22790000101"],
                                      [Outgoing(41, "+22790000101", datetime.now(UTC) + timedelta(minutes=90))])
            french = await sender.send("Bien recu: attaque à Gabi", ["+22370000001"], [Outgoing(42, "+22370000001")])
        finally:
            await sender.close()
    assert [(r.outcome, r.provider_message_id) for r in hausa + french] == [
        (SendOutcome.SENT, "kannel-41"), (SendOutcome.SENT, "kannel-42")]
    first, second = smsbox.queries
    assert first["text"] == "Mun karɓa: ƙarin bayani" and first["charset"] == "UTF-8" and first["coding"] == "2"
    assert (first["user"], first["pass"], first["to"], first["smsc"]) == ("ewg", "pw", "+22790000101", "orange")
    assert first["dlr-mask"] == "31"
    assert first["dlr-url"] == "http://gw:8080/callbacks/kannel/delivery?token=tok&outbox=41&status=%d"
    assert 89 <= int(first["validity"]) <= 90
    assert "coding" not in second, "à is GSM-7: the SMS stays in 160-character segments"
    assert second["dlr-url"].endswith("outbox=42&status=%d") and "validity" not in second


@pytest.mark.parametrize(("status", "body", "outcome"), [
    (202, "3: Queued for later delivery", SendOutcome.SENT),
    (400, "Number(s) has/have been denied by white- and/or black-lists.", SendOutcome.FAILED),
    (403, "Authorization failed for sendsms", SendOutcome.RETRY),
    (400, "Sender missing and no global set, rejected", SendOutcome.RETRY),
    (503, "Temporal failure, try again later.", SendOutcome.RETRY),
])
async def test_answers(status, body, outcome) -> None:
    async with Smsbox(status, body) as url:
        sender = KannelSender(url, "ewg", "pw")
        try:
            [result] = await sender.send("OK", ["+22790000101"], [Outgoing(7, "+22790000101")])
        finally:
            await sender.close()
    assert result.outcome is outcome, result


async def test_kannel_down_is_the_providers_failure() -> None:
    sender = KannelSender("http://127.0.0.1:9/cgi-bin/sendsms", "ewg", "pw")
    try:
        [result] = await sender.send("OK", ["+22790000101"], [Outgoing(7, "+22790000101")])
    finally:
        await sender.close()
    assert result.outcome is SendOutcome.RETRY and result.reason.startswith("connection")
