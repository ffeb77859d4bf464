"""A real Kannel (bearerbox, smsbox and fakesmsc from Debian's packages) and `ewg serve` over real
HTTP: a Hausa text with hooked letters goes from the phone (fakesmsc) through Kannel to the gateway
intact, and the confirmation comes back to the phone through smsbox's sendsms, with delivery
reports at /callbacks/kannel/delivery."""

from __future__ import annotations

from urllib.parse import quote_from_bytes

import pytest
from sqlalchemy import select

from gateway.storage.db import create_engine, session_factory
from gateway.storage.models import DeliveryEvent, Message, Outbox
from tests.support import kannel as kannel_support
from tests.support.components import require
from tests.support.end_to_end import CALLBACKS_TOKEN, wait_for
from tests.support.gateway_process import GatewayProcess
from tests.support.kannel import Kannel
from tests.support.ports import free_port

pytestmark = require(kannel_support.available(), kannel_support.REASON)

FOCAL_POINT = "+22790000101"  # demo: an approved focal point of Gabi
HAUSA = "an kai hari a Gabi, ɓarayi sun ɗauki shanu ƙwarai, ƴan bindiga biyar"


async def rows(db_url: str, statement) -> list:
    engine = create_engine(db_url)
    try:
        async with session_factory(engine)() as session:
            return list((await session.execute(statement)).all())
    finally:
        await engine.dispose()


@pytest.mark.timeout(120)
async def test_a_hausa_text_through_kannel_is_stored_intact_and_confirmed(db_url, tmp_path) -> None:
    port = free_port()
    gateway_url = f"http://127.0.0.1:{port}"
    kannel = Kannel(tmp_path, gateway_url, CALLBACKS_TOKEN)
    gateway = GatewayProcess({"EWG_DATABASE__URL": db_url, "EWG_CALLBACKS__TOKEN": CALLBACKS_TOKEN,
                              "EWG_OUTBOX__POLL_SECONDS": "0.1", "EWG_PROVIDERS__ORDER": '["kannel"]',
                              **kannel.env(gateway_url)}, port, tmp_path)
    try:
        await kannel.start()
        await gateway.start(timeout=60)  # production mode (the test secrets), Kannel its only provider
        # a phone sends hooked letters as UCS-2: fakesmsc hands Kannel the UTF-16BE bytes
        await kannel.send_from_phone(FOCAL_POINT, "3737", "ucs2", quote_from_bytes(HAUSA.encode("utf-16-be")))

        async def confirmed() -> list:
            return [sms for sms in kannel.phone_received() if sms[1] == FOCAL_POINT]
        to_phone = await wait_for(confirmed, timeout=45)
        assert to_phone, f"no confirmation reached the phone\n{kannel.logs()}\n{gateway.logs_tail()}"

        async def reported() -> list:
            return [row for row in await rows(db_url, select(DeliveryEvent.provider_message_id, DeliveryEvent.status))
                    if row.status == "Delivered"]
        delivered = await wait_for(reported, timeout=30)
        assert delivered, f"no delivery report\n{kannel.logs()}"
    finally:
        await kannel.stop()
        if gateway.is_running():
            await gateway.terminate()

    stored = await rows(db_url, select(Message.text, Message.provider, Message.sender, Message.network_code))
    assert stored == [(HAUSA, "kannel", FOCAL_POINT, "fake")], "stored once, the hooked letters intact"
    reply = (await rows(db_url, select(Outbox).where(Outbox.kind == "reply")))[0][0]
    assert (reply.recipient, reply.status, reply.provider) == (FOCAL_POINT, "sent", "kannel")
    assert reply.provider_message_id == f"kannel-{reply.id}"
    assert to_phone == [("3737", FOCAL_POINT, reply.body)], "the confirmation, word for word, once"
    assert (f"kannel-{reply.id}", "Delivered") in delivered, "the dlr-url named the confirmation's outbox row"
    assert reply.delivery_status in {"Submitted", "Delivered"}
