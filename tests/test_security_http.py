"""Hostile requests at the HTTP edge: wrong or missing tokens leave no trace, the source
allow-list, oversize bodies, SQL-looking text stored verbatim, the API and feeds behind the API
token, and tokens compared in constant time."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, select

from gateway.providers.africastalking_forms import delivery_report_form, inbound_sms_form
from gateway.runtime import RUNTIME
from gateway.storage.models import DeliveryEvent, Message, Outbox, Report, Reporter, UssdSession
from gateway.views import common
from tests.support.gateway import running_gateway

CALLBACKS = {
    "/callbacks/at/sms": lambda clock: inbound_sms_form("+22791234567", "ATTAQUE GABI 12", received_at=clock()),
    "/callbacks/at/delivery": lambda clock: delivery_report_form("ATXid_1", "Success", "+22791234567"),
    "/callbacks/at/ussd": lambda clock: {"sessionId": "S1", "serviceCode": "*384*3737#",
                                         "phoneNumber": "+22791234567", "networkCode": "61402", "text": ""},
    "/callbacks/at/ussd/events": lambda clock: {"sessionId": "S1", "phoneNumber": "+22791234567",
                                                "status": "Success", "durationInMillis": "100"},
}
TRACES = (Message, Report, Outbox, DeliveryEvent, UssdSession)
PROTECTED = ["/api/reports", "/api/alerts", "/api/communes", "/feeds/cap.atom", "/feeds/cap/1.xml"]


async def traces(client) -> dict[str, int]:
    async with client.app[RUNTIME].sessions() as session:
        counts = {model.__tablename__: int((await session.execute(select(func.count()).select_from(model))).scalar_one())
                  for model in TRACES}
        counts["unregistered reporters"] = int((await session.execute(
            select(func.count()).select_from(Reporter).where(Reporter.status == "unregistered"))).scalar_one())
    return counts


NO_TRACE = {"messages": 0, "reports": 0, "outbox": 0, "delivery_events": 0, "ussd_sessions": 0,
            "unregistered reporters": 0}


@pytest.mark.parametrize("endpoint", list(CALLBACKS))
@pytest.mark.parametrize("token", [None, "", "wrong", "s3cre", "s3cret ", "S3CRET"])
async def test_wrong_or_missing_token_is_refused_and_leaves_no_trace(gateway, clock, endpoint, token) -> None:
    params = {} if token is None else {"token": token}
    response = await gateway.post(endpoint, params=params, data=CALLBACKS[endpoint](clock))
    assert (response.status, await response.text()) == (403, "wrong or missing token")
    assert await traces(gateway) == NO_TRACE


@pytest.mark.parametrize("endpoint", list(CALLBACKS))
async def test_the_right_token_is_accepted(gateway, clock, endpoint) -> None:
    response = await gateway.post(endpoint, params={"token": "s3cret"}, data=CALLBACKS[endpoint](clock))
    assert response.status == 200


@pytest.mark.parametrize(("allow_from", "status"), [(["10.0.0.0/8"], 403), (["196.201.214.0/24", "127.0.0.0/8"], 200),
                                                    (["127.0.0.1"], 200), ([], 200)])
async def test_source_allow_list(settings, clock, allow_from, status) -> None:
    guarded = replace(settings, callbacks=replace(settings.callbacks, allow_from=allow_from))
    async with running_gateway(guarded, clock) as client:
        for endpoint, form in CALLBACKS.items():
            response = await client.post(endpoint, params={"token": "s3cret"}, data=form(clock))
            assert response.status == status, endpoint
        if status == 403:
            assert await traces(client) == NO_TRACE


@pytest.mark.parametrize("endpoint", list(CALLBACKS))
async def test_oversize_bodies_are_refused(gateway, clock, endpoint, settings) -> None:
    form = CALLBACKS[endpoint](clock)
    form["text"] = "ATTAQUE GABI " + "x" * settings.http.max_body_bytes
    response = await gateway.post(endpoint, params={"token": "s3cret"}, data=form)
    assert response.status == 413
    assert await traces(gateway) == NO_TRACE


@pytest.mark.parametrize("text", [
    "ATTAQUE GABI'; DROP TABLE messages;--",
    "1); DELETE FROM reports WHERE (1=1",
    "' OR '1'='1' -- ",
    'hari gabi " ; UPDATE reporters SET status=\'approved\'; --',
    "vol 5 \\'; SELECT pg_sleep(10); --",
    "%27%20OR%201%3D1 \x1b[31m \u202e",
])
async def test_sql_looking_text_is_stored_verbatim(gateway, clock, text) -> None:
    form = inbound_sms_form("+22791234567", text, received_at=clock())
    response = await gateway.post("/callbacks/at/sms", params={"token": "s3cret"}, data=form)
    assert response.status == 200
    async with gateway.app[RUNTIME].sessions() as session:
        stored = (await session.execute(select(Message.text).where(Message.external_id == form["id"]))).scalar_one()
        approved = set((await session.execute(select(Reporter.phone).where(Reporter.status == "approved"))).scalars())
    assert stored == text
    assert len(approved) == 5  # the demo focal points, nothing more
    assert (await traces(gateway))["messages"] == 1


@pytest.mark.parametrize("path", PROTECTED)
@pytest.mark.parametrize("authorization", [None, "Bearer ", "Bearer wrong", "Basic YXBpLXRva2Vu", "api-token",
                                           "Bearer api-tokenx"])
async def test_api_and_feeds_refuse_requests_without_the_api_token(gateway, path, authorization) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = await gateway.get(path, headers=headers)
    assert response.status == 401, path
    assert "Traceback" not in await response.text()


@pytest.mark.parametrize("path", PROTECTED[:4])
async def test_api_and_feeds_answer_with_the_token(gateway, path) -> None:
    response = await gateway.get(path, headers={"Authorization": "Bearer api-token"})
    assert response.status == 200


@pytest.mark.parametrize("path", ["/api/reports", "/api/alerts", "/api/communes", "/api/ussd/funnel", "/metrics"])
async def test_the_api_token_is_taken_from_the_authorization_header_only(gateway, path) -> None:
    """A token in a URL ends up in proxy and access logs."""
    response = await gateway.get(path, params={"token": "api-token"})
    assert response.status == 401
    response = await gateway.get(path, params={"token": "api-token"}, headers={"Authorization": "Bearer wrong"})
    assert response.status == 401
    assert (await gateway.get(path, headers={"Authorization": "Bearer api-token"})).status == 200


async def test_the_cap_feed_still_takes_a_query_token_for_feed_readers(gateway) -> None:
    assert (await gateway.get("/feeds/cap.atom", params={"token": "api-token"})).status == 200
    assert (await gateway.get("/feeds/cap.atom", params={"token": "wrong"})).status == 401


async def test_api_is_disabled_without_a_configured_token(settings, clock) -> None:
    open_settings = replace(settings, api=replace(settings.api, token=""))
    async with running_gateway(open_settings, clock) as client:
        for path in PROTECTED:
            for headers in ({}, {"Authorization": "Bearer "}):
                assert (await client.get(path, headers=headers)).status == 403, path


async def test_tokens_are_compared_in_constant_time(gateway, clock, monkeypatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = common.hmac.compare_digest

    def spy(given: bytes, expected: bytes) -> bool:
        compared.append((given, expected))
        return real(given, expected)

    monkeypatch.setattr(common.hmac, "compare_digest", spy)
    await gateway.post("/callbacks/at/sms", params={"token": "guess"}, data=CALLBACKS["/callbacks/at/sms"](clock))
    await gateway.get("/api/reports", headers={"Authorization": "Bearer api-guess"})
    assert compared == [(b"guess", b"s3cret"), (b"api-guess", b"api-token")]


@pytest.mark.parametrize("endpoint", list(CALLBACKS))
async def test_a_rotation_accepts_the_previous_token_until_it_is_removed(settings, clock, endpoint) -> None:
    rotating = replace(settings, callbacks=replace(settings.callbacks, token="new-token", previous_token="s3cret"))
    async with running_gateway(rotating, clock) as client:
        for token, status in (("s3cret", 200), ("new-token", 200), ("older", 403)):
            response = await client.post(endpoint, params={"token": token}, data=CALLBACKS[endpoint](clock))
            assert response.status == status, token
    done = replace(settings, callbacks=replace(settings.callbacks, token="new-token"))
    async with running_gateway(done, clock) as client:
        response = await client.post(endpoint, params={"token": "s3cret"}, data=CALLBACKS[endpoint](clock))
        assert response.status == 403


async def test_a_rotation_of_the_api_token_accepts_both(settings, clock) -> None:
    rotating = replace(settings, api=replace(settings.api, token="new-api-token", previous_token="api-token"))
    async with running_gateway(rotating, clock) as client:
        for token, status in (("api-token", 200), ("new-api-token", 200), ("older", 401)):
            response = await client.get("/api/reports", headers={"Authorization": f"Bearer {token}"})
            assert response.status == status, token
