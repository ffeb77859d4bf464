"""A failed delivery is acted on. Each provider's words map to one closed set of causes (tables
below); over real HTTP, a delivery report of Africa's Talking that blames the provider sends the
alert again through the phone (the fake Android device), once however often the report comes; an
absent phone is tried again until the SMS expires; an alert none of whose commune committee can be
reached escalates at once (the injected clock never moves past the acknowledgement delay)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from lxml import etree
from sqlalchemy import select

from gateway.kernel.envelopes import FailureCause
from gateway.providers import africastalking, android, kannel
from gateway.providers.android import AndroidSender
from gateway.providers.android_fake import FAKE_PASSWORD, FAKE_USERNAME, signed_webhook
from gateway.providers.registry import Providers
from gateway.runtime import RUNTIME
from gateway.storage.models import Alert, Outbox
from tests.support.callbacks import FOCAL_POINT, FORM, TOKEN, send
from tests.support.dashboard import log_in
from tests.support.gateway import FakeClock, make_settings, running_gateway, settle
from tests.support.phone import SIGNING_KEY, FakePhone
from tests.support.providers import NumberedProvider

PROVIDER, ABSENT, RECIPIENT = FailureCause.PROVIDER, FailureCause.ABSENT, FailureCause.RECIPIENT
GABI_CHAIR, GABI_MEMBER = "+22796000201", "+22796000202"
DEPARTMENT = "+22796000301"
CAP_XSD = Path("/work/shared/data/CAP-v1.2.xsd")
CAP = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}

AT_CASES = [  # status, failureReason, cause
    ("Failed", "DeliveryFailure", PROVIDER),
    ("Rejected", "InsufficientCredit", PROVIDER),
    ("Rejected", "RejectedByGateway", PROVIDER),
    ("Failed", "InvalidLinkId", PROVIDER),
    ("Failed", "", PROVIDER),
    ("Failed", "ANewReason", PROVIDER),
    ("Failed", "AbsentSubscriber", ABSENT),
    ("AbsentSubscriber", "", ABSENT),
    ("Expired", "", ABSENT),
    ("Failed", "UserInBlackList", RECIPIENT),
    ("Rejected", "InvalidPhoneNumber", RECIPIENT),
    ("Failed", "UserIsInactive", RECIPIENT),
    ("Failed", "UserAccountSuspended", RECIPIENT),
    ("Success", "", None),
    ("Buffered", "", None),
    ("Sent", "", None),
]


@pytest.mark.parametrize(("status", "reason", "cause"), AT_CASES)
def test_africastalking_failure_causes(status: str, reason: str, cause: FailureCause | None) -> None:
    report = africastalking.parse_delivery_report({"id": "ATXid_1", "status": status, "failureReason": reason})
    assert report.cause is cause


ANDROID_CASES = [  # event, reason, cause
    ("sms:failed", "RESULT_ERROR_NO_SERVICE", PROVIDER),
    ("sms:failed", "RESULT_ERROR_RADIO_OFF", PROVIDER),
    ("sms:failed", "RESULT_ERROR_GENERIC_FAILURE", PROVIDER),
    ("sms:failed", None, PROVIDER),
    ("sms:failed", "RESULT_ERROR_SHORT_CODE_NOT_ALLOWED", RECIPIENT),
    ("sms:failed", "RESULT_INVALID_DESTINATION_ADDRESS", RECIPIENT),
    ("sms:delivered", None, None),
    ("sms:sent", None, None),
]


@pytest.mark.parametrize(("event", "reason", "cause"), ANDROID_CASES)
def test_android_failure_causes(event: str, reason: str | None, cause: FailureCause | None) -> None:
    payload = {"messageId": "17", **({"reason": reason} if reason else {})}
    body = json.dumps({"event": event, "id": "evt-1", "payload": payload}).encode()
    assert android.parse_webhook(body, "NE").delivery.cause is cause


KANNEL_CASES = [("1", None), ("2", PROVIDER), ("4", None), ("8", None), ("16", PROVIDER)]  # %d, cause


@pytest.mark.parametrize(("kind", "cause"), KANNEL_CASES)
def test_kannel_failure_causes(kind: str, cause: FailureCause | None) -> None:
    assert kannel.parse_delivery_report({"outbox": b"17", "status": kind.encode()}).cause is cause


class Setup:
    """A gateway on the fake clock sending through a scripted Africa's Talking, then the phone."""

    def __init__(self, client, at: NumberedProvider, phone: FakePhone, clock: FakeClock):
        self.client, self.at, self.phone, self.clock = client, at, phone, clock

    async def alert_rows(self) -> dict[str, Outbox]:
        async with self.client.app[RUNTIME].sessions() as session:
            rows = (await session.execute(select(Outbox).where(Outbox.kind == "alert"))).scalars().all()
        return {row.recipient: row for row in rows}

    async def alert(self) -> Alert:
        async with self.client.app[RUNTIME].sessions() as session:
            return (await session.execute(select(Alert))).scalar_one()

    async def report(self, recipient: str, status: str, reason: str, retry_count: int = 0) -> None:
        form = {"id": self.at.last_id(recipient), "status": status, "phoneNumber": recipient,
                "networkCode": "61402", "failureReason": reason, "retryCount": str(retry_count)}
        response = await self.client.post("/callbacks/at/delivery" + TOKEN, headers=FORM, data=urlencode(form))
        assert response.status == 200, await response.text()
        await settle(self.client)


    async def phone_failed(self, message_id: str, reason: str) -> None:
        body, headers = signed_webhook(SIGNING_KEY, "sms:failed", {"messageId": message_id, "reason": reason},
                                       timestamp=int(self.clock.now.timestamp()))
        response = await self.client.post("/callbacks/android", data=body, headers=headers)
        assert response.status == 200, await response.text()
        await settle(self.client)


@pytest.fixture
async def setup(db_url):
    clock = FakeClock()
    settings = make_settings(db_url, callbacks={"token": "s3cret"}, api={"token": "api-token"},
                             outbox={"backoff_base_seconds": 60.0, "backoff_max_seconds": 600.0},
                             android={"signing_key": SIGNING_KEY})
    at = NumberedProvider()
    async with FakePhone() as phone:
        providers = Providers({"africastalking": at, "android": AndroidSender(phone.url, FAKE_USERNAME, FAKE_PASSWORD)},
                              ["africastalking", "android"])
        async with running_gateway(settings, clock, provider=providers) as client:
            await send(client, FOCAL_POINT, "ATTAQUE GABI 3")
            await settle(client)
            ready = Setup(client, at, phone, clock)
            assert {row.provider for row in (await ready.alert_rows()).values()} == {"africastalking"}
            yield ready


async def test_a_provider_caused_failure_goes_out_again_through_the_phone_once(setup: Setup) -> None:
    await setup.report(GABI_CHAIR, "Failed", "DeliveryFailure")
    row = (await setup.alert_rows())[GABI_CHAIR]
    assert (row.status, row.provider) == ("sent", "android")
    assert [m["phoneNumbers"] for m in setup.phone.messages] == [[GABI_CHAIR]]
    assert setup.phone.messages[0]["id"] == row.provider_message_id == f"{row.id}-{row.attempts - 1}"
    assert "Gabi" in setup.phone.messages[0]["text"]

    # The provider posts the same report again, then with its own retry count: nothing more goes out.
    await setup.report(GABI_CHAIR, "Failed", "DeliveryFailure")
    await setup.report(GABI_CHAIR, "Failed", "DeliveryFailure", retry_count=1)
    assert len(setup.phone.messages) == 1
    assert (await setup.alert_rows())[GABI_CHAIR].attempts == row.attempts
    assert [number for number, _ in setup.at.ids].count(GABI_CHAIR) == 1
    assert (await setup.alert()).status == "open"


async def test_failover_goes_round_and_each_try_through_the_phone_is_a_new_sms(setup: Setup) -> None:
    await setup.report(GABI_CHAIR, "Failed", "DeliveryFailure")
    first = (await setup.alert_rows())[GABI_CHAIR].provider_message_id
    await setup.phone_failed(first, "RESULT_ERROR_NO_SERVICE")  # the phone has no signal: back to Africa's Talking
    assert [number for number, _ in setup.at.ids].count(GABI_CHAIR) == 2
    await setup.report(GABI_CHAIR, "Rejected", "RejectedByGateway")  # and round again to the phone
    ids = [m["id"] for m in setup.phone.messages]
    assert len(ids) == 2 and len(set(ids)) == 2, ids  # the phone answers 409 to an id it has seen
    row = (await setup.alert_rows())[GABI_CHAIR]
    assert (row.status, row.provider, row.provider_message_id) == ("sent", "android", ids[1])


async def test_an_absent_phone_is_tried_again_until_the_sms_expires(setup: Setup) -> None:
    await setup.report(GABI_MEMBER, "Failed", "AbsentSubscriber")
    row = (await setup.alert_rows())[GABI_MEMBER]
    assert row.status == "queued"
    assert [number for number, _ in setup.at.ids].count(GABI_MEMBER) == 1, "a back-off first, not at once"

    setup.clock.advance(minutes=29)  # outbox.absent_retry_minutes: each try is a paid SMS
    await settle(setup.client)
    assert [number for number, _ in setup.at.ids].count(GABI_MEMBER) == 1, "not on the short back-off"
    setup.clock.advance(minutes=1, seconds=1)
    await settle(setup.client)
    assert [number for number, _ in setup.at.ids].count(GABI_MEMBER) == 2
    assert (await setup.alert_rows())[GABI_MEMBER].status == "sent"
    assert setup.phone.messages == [], "an absent phone is no reason to change provider"

    # Still absent when the SMS is about to expire: failed for good, nothing more is sent.
    expires_at = (await setup.alert_rows())[GABI_MEMBER].expires_at
    setup.clock.now = expires_at.replace(tzinfo=setup.clock.now.tzinfo) - timedelta(seconds=1)
    await setup.report(GABI_MEMBER, "AbsentSubscriber", "")
    row = (await setup.alert_rows())[GABI_MEMBER]
    assert (row.status, row.delivery_status) == ("failed", "AbsentSubscriber")
    assert "AbsentSubscriber" in row.last_error
    setup.clock.advance(minutes=30)
    await settle(setup.client)
    assert [number for number, _ in setup.at.ids].count(GABI_MEMBER) == 2


async def test_an_alert_nobody_of_its_committee_can_receive_escalates_at_once(setup: Setup) -> None:
    runtime = setup.client.app[RUNTIME]
    escalations = runtime.scheduler.get_job("escalations")

    await setup.report(GABI_CHAIR, "Failed", "UserInBlackList")
    await escalations.func(*escalations.args)
    alert = await setup.alert()
    assert (alert.status, alert.escalation_step) == ("open", 0), "one member can still be reached"

    await setup.report(GABI_MEMBER, "Rejected", "InvalidPhoneNumber")
    await escalations.func(*escalations.args)
    alert = await setup.alert()
    assert (alert.status, alert.escalation_step) == ("escalated", 1)
    await settle(setup.client)
    assert DEPARTMENT in {number for number, _ in setup.at.ids}
    rows = await setup.alert_rows()
    assert (rows[GABI_CHAIR].status, rows[GABI_MEMBER].status) == ("failed", "failed")


async def test_an_alert_the_provider_refuses_for_every_member_escalates_at_once(db_url) -> None:
    clock = FakeClock()
    at = NumberedProvider()
    at.refused = {GABI_CHAIR, GABI_MEMBER}
    settings = make_settings(db_url, callbacks={"token": "s3cret"}, api={"token": "api-token"})
    async with running_gateway(settings, clock, provider=Providers.single(at)) as client:
        await send(client, FOCAL_POINT, "ATTAQUE GABI 3")
        await settle(client)
        setup = Setup(client, at, None, clock)
        rows = await setup.alert_rows()
        assert (rows[GABI_CHAIR].status, rows[GABI_MEMBER].status) == ("failed", "failed")
        assert (await setup.alert()).escalation_due_at.replace(tzinfo=clock.now.tzinfo) == clock.now
        escalations = client.app[RUNTIME].scheduler.get_job("escalations")
        await escalations.func(*escalations.args)
        assert (await setup.alert()).status == "escalated"
        await settle(client)
        assert DEPARTMENT in {number for number, _ in at.ids}


async def test_the_alert_page_and_the_cap_feed_say_who_was_reached(setup: Setup) -> None:
    await setup.report(GABI_MEMBER, "Success", "")
    await setup.report(GABI_CHAIR, "Failed", "DeliveryFailure")  # sent again through the phone
    alert = await setup.alert()

    await log_in(setup.client)
    page = await (await setup.client.get(f"/dashboard/alerts/{alert.code}")).text()
    reached = page[page.index('id="reached"'):]
    reached = reached[:reached.index("</table>")]
    rows = re.findall(r'<tr class="recipient (\w+)">(.*?)</tr>', reached)
    assert [status for status, _ in rows] == ["delivered", "sent"], reached  # by name: the member, the mayor
    member, chair = (cells for _, cells in rows)
    assert "<td>membre</td>" in member and "<td>atteint</td><td>africastalking</td>" in member
    assert "<td>président</td>" in chair and "<td>envoyé</td><td>android</td>" in chair
    assert "<code>+227*****201</code>" in chair and GABI_CHAIR not in page and GABI_MEMBER not in page

    await setup.report(GABI_MEMBER, "Failed", "UserInBlackList")  # too late: it was delivered
    # The phone could not send the chair's SMS either, and the number is the reason: failed for good.
    await setup.phone_failed((await setup.alert_rows())[GABI_CHAIR].provider_message_id,
                             "RESULT_ERROR_SHORT_CODE_NOT_ALLOWED")
    response = await setup.client.get(f"/feeds/cap/{alert.id}.xml", headers={"Authorization": "Bearer api-token"})
    document = await response.read()
    schema = etree.XMLSchema(etree.parse(str(CAP_XSD)))
    assert schema.validate(etree.fromstring(document)), schema.error_log
    info = etree.fromstring(document).find("cap:info", CAP)
    parameters = [(p.findtext("cap:valueName", namespaces=CAP), p.findtext("cap:value", namespaces=CAP))
                  for p in info.findall("cap:parameter", CAP)]
    assert ("ewg:reached", "1 delivered, 0 sent, 1 failed, 0 pending") in parameters
    recipients = [value for name, value in parameters if name == "ewg:recipient"]
    assert len(recipients) == 2
    assert recipients[0].startswith("member; Gabi (NE004006003); ")
    assert recipients[0].endswith("; delivered; africastalking")
    assert recipients[1].startswith("chair; Gabi (NE004006003); ")
    assert recipients[1].endswith("; failed (not delivered (Failed: RESULT_ERROR_SHORT_CODE_NOT_ALLOWED)); android")
    for number in (GABI_CHAIR, GABI_MEMBER):
        assert number[-7:].encode() not in document and number[-3:].encode() + b";" not in document


async def test_the_delivery_page_shows_each_provider_and_a_phone_that_stopped_pinging(setup: Setup) -> None:
    await log_in(setup.client)

    async def providers() -> dict[str, str]:
        page = await (await setup.client.get("/dashboard/delivery")).text()
        return dict(re.findall(r'<tr class="provider (\w+)" id="provider-(\w+)">', page)[::-1]
                    and [(name, health) for health, name in
                         re.findall(r'<tr class="provider (\w+)" id="provider-(\w+)">', page)])

    async def metric() -> dict[str, str]:
        text = await (await setup.client.get("/metrics", headers={"Authorization": "Bearer api-token"})).text()
        return dict(re.findall(r'^ewg_provider_healthy\{provider="(\w+)"\} (\S+)$', text, re.M))

    assert await providers() == {"africastalking": "healthy", "android": "unhealthy"}, "no ping yet"
    assert await metric() == {"africastalking": "1.0", "android": "0.0"}
    body, headers = signed_webhook(SIGNING_KEY, "system:ping", {}, timestamp=int(setup.clock.now.timestamp()))
    response = await setup.client.post("/callbacks/android", data=body, headers=headers)
    assert response.status == 200, await response.text()
    assert await providers() == {"africastalking": "healthy", "android": "healthy"}
    assert await metric() == {"africastalking": "1.0", "android": "1.0"}
    page = await (await setup.client.get("/dashboard/delivery")).text()
    row = re.search(r'id="provider-africastalking">(.*?)</tr>', page).group(1)
    assert re.findall(r"<td>(\d+)</td>", row) == ["3", "0"], row  # the focal point's reply and two alerts
    assert re.search(r"\d\.\d\d s</td>", row), row

    setup.clock.advance(seconds=setup.client.app[RUNTIME].settings.android.ping_stale_seconds + 60)
    assert await providers() == {"africastalking": "healthy", "android": "unhealthy"}
    assert await metric() == {"africastalking": "1.0", "android": "0.0"}
