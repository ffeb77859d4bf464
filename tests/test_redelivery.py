"""A failed delivery is acted on. Each provider's words map to one closed set of causes (tables
below); over real HTTP, a delivery report of Africa's Talking that blames the provider sends the
alert again through the phone (the fake Android device), once however often the report comes; an
absent phone is tried again until the SMS expires; an alert none of whose commune committee can be
reached escalates at once (the injected clock never moves past the acknowledgement delay)."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from gateway.kernel.envelopes import FailureCause
from gateway.providers import africastalking, android, kannel
from gateway.providers.android import AndroidSender
from gateway.providers.android_fake import FAKE_PASSWORD, FAKE_USERNAME
from gateway.providers.registry import Providers
from gateway.runtime import RUNTIME
from gateway.storage.models import Alert, Outbox
from tests.support.callbacks import FOCAL_POINT, FORM, TOKEN, send
from tests.support.gateway import FakeClock, make_settings, running_gateway, settle
from tests.support.phone import FakePhone
from tests.support.providers import NumberedProvider

PROVIDER, ABSENT, RECIPIENT = FailureCause.PROVIDER, FailureCause.ABSENT, FailureCause.RECIPIENT
GABI_CHAIR, GABI_MEMBER = "+22796000201", "+22796000202"
DEPARTMENT = "+22796000301"

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


@pytest.fixture
async def setup(db_url):
    clock = FakeClock()
    settings = make_settings(db_url, callbacks={"token": "s3cret"}, api={"token": "api-token"},
                             outbox={"backoff_base_seconds": 60.0, "backoff_max_seconds": 600.0})
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
    assert setup.phone.messages[0]["id"] == str(row.id)
    assert "Gabi" in setup.phone.messages[0]["text"]

    # The provider posts the same report again, then with its own retry count: nothing more goes out.
    await setup.report(GABI_CHAIR, "Failed", "DeliveryFailure")
    await setup.report(GABI_CHAIR, "Failed", "DeliveryFailure", retry_count=1)
    assert len(setup.phone.messages) == 1
    assert (await setup.alert_rows())[GABI_CHAIR].attempts == row.attempts
    assert [number for number, _ in setup.at.ids].count(GABI_CHAIR) == 1
    assert (await setup.alert()).status == "open"


async def test_an_absent_phone_is_tried_again_until_the_sms_expires(setup: Setup) -> None:
    await setup.report(GABI_MEMBER, "Failed", "AbsentSubscriber")
    row = (await setup.alert_rows())[GABI_MEMBER]
    assert row.status == "queued"
    assert [number for number, _ in setup.at.ids].count(GABI_MEMBER) == 1, "a back-off first, not at once"

    setup.clock.advance(seconds=61)
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
