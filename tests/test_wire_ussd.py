"""Wire tests for the USSD callbacks (courier table style) and a report walked through the
menu over HTTP, stored once and scored like an SMS report."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from gateway.runtime import RUNTIME
from gateway.storage.models import Message, Report, UssdSession
from tests.support.callbacks import FOCAL_POINT, FORM, TOKEN, hop
from tests.support.gateway import running_gateway


@pytest.fixture(params=["memory", "database"])
def settings(request, settings):  # every test here runs against both session stores
    from dataclasses import replace

    return replace(settings, ussd=replace(settings.ussd, session_store=request.param))


async def written(runtime) -> None:
    """Sessions kept in memory reach their rows within ussd.flush_seconds; tests do not wait."""
    if runtime.ussd_live is not None:
        await runtime.ussd_live.flush()


@dataclass(frozen=True)
class Case:
    label: str
    body: str
    status: int
    starts: str  # the answer's beginning
    sessions: int
    query: str = TOKEN
    headers: dict = field(default_factory=dict)


def charset(name: str) -> dict:
    return {"Content-Type": f"application/x-www-form-urlencoded; charset={name}"}


USSD_CASES = [
    Case("first hop", hop(), 200, "CON Gargadi da wuri\n1 ", 1),
    Case("no networkCode", hop(networkCode=None), 200, "CON ", 1),
    Case("text missing counts as first hop", hop(text=None), 200, "CON ", 1),
    Case("unknown number chooses a language", hop(phoneNumber="+22791112233"), 200, "CON Langue? Harshe?", 1),
    Case("session starting mid-way", hop(text="1*4"), 200, "CON Gargadi da wuri", 1),
    Case("missing sessionId", hop(sessionId=None), 400, "field 'sessionId' required", 0),
    Case("missing serviceCode", hop(serviceCode=None), 400, "field 'serviceCode' required", 0),
    Case("missing phoneNumber", hop(phoneNumber=None), 400, "field 'phoneNumber' required", 0),
    Case("bad phoneNumber", hop(phoneNumber="12"), 400, "field 'phoneNumber' is not a usable phone number", 0),
    Case("missing token", hop(), 403, "wrong or missing token", 0, query=""),
    Case("wrong token", hop(), 403, "wrong or missing token", 0, query="?token=nope"),
    Case("charset unicode_escape with a lone surrogate", hop(text="1*\\ud800"), 400,
         "body charset 'unicode_escape' is not accepted: send UTF-8 or Latin-1", 0, headers=charset("unicode_escape")),
    Case("charset utf-16", hop(), 400, "body charset 'utf-16' is not accepted", 0, headers=charset("utf-16")),
    Case("charset latin-1", hop(), 200, "CON Gargadi da wuri", 1, headers=charset("latin-1")),
]


@pytest.mark.parametrize("case", USSD_CASES, ids=lambda c: c.label)
async def test_ussd_wire(gateway, case: Case) -> None:
    response = await gateway.post("/callbacks/at/ussd" + case.query, data=case.body, headers={**FORM, **case.headers})
    assert response.status == case.status
    assert response.content_type == "text/plain"
    assert (await response.text()).startswith(case.starts)
    runtime = gateway.server.app[RUNTIME]
    await written(runtime)
    async with runtime.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(UssdSession))).scalar_one() == case.sessions


async def test_unknown_service_code_ends_politely(settings, clock) -> None:
    from dataclasses import replace

    settings = replace(settings, africastalking=replace(settings.africastalking, ussd_codes=["*384*3737#"]))
    async with running_gateway(settings, clock) as client:
        response = await client.post("/callbacks/at/ussd" + TOKEN, data=hop(serviceCode="*999#"), headers=FORM)
        assert (response.status, await response.text()) == (200, "END Service code not in use.")


async def walk(client, answers: list[str], session_id: str = "ATUid_walk", phone: str = FOCAL_POINT) -> list[str]:
    screens = []
    typed: list[str] = []
    for answer in [None, *answers]:
        if answer is not None:
            typed.append(answer)
        response = await client.post("/callbacks/at/ussd" + TOKEN, headers=FORM,
                                     data=hop(sessionId=session_id, phoneNumber=phone, text="*".join(typed)))
        assert response.status == 200
        screens.append(await response.text())
    return screens


async def test_report_by_ussd_is_stored_once_and_alerts_like_sms(gateway) -> None:
    # main menu -> 1 report -> 1 attack -> 1 my commune (Gabi) -> count 5 -> 1 send
    screens = await walk(gateway, ["1", "1", "1", "5", "1"])
    assert all(s.startswith("CON ") for s in screens[:-1]) and screens[-1].startswith("END ")
    assert all(len(s) - 4 <= 160 for s in screens)
    ref = screens[-1].split("lamba ")[1].split(".")[0]

    # The provider repeats the last hop: same screen, nothing stored twice.
    again = await gateway.post("/callbacks/at/ussd" + TOKEN, headers=FORM,
                               data=hop(sessionId="ATUid_walk", text="1*1*1*5*1"))
    assert await again.text() == screens[-1]
    runtime = gateway.server.app[RUNTIME]
    async with runtime.sessions() as session:
        reports = (await session.execute(select(Report))).scalars().all()
        messages = (await session.execute(select(Message).where(Message.channel == "ussd"))).scalars().all()
        row = (await session.execute(select(UssdSession))).scalar_one()
    assert [(r.ref, r.channel, r.incident, r.commune_pcode, r.count, r.trust) for r in reports] == [
        (ref, "ussd", "attack", "NE004006003", 5, "approved")]
    assert len(messages) == 1 and row.report_id == reports[0].id and row.end_reason == "completed"
    assert (messages[0].kind, messages[0].lang) == ("report", reports[0].lang) == ("report", "ha")

    # Scored like an SMS report: the Gabi committee gets the alert (the background scorer may
    # hold the report's row lock on PostgreSQL, so wait for its commit rather than racing it).
    import asyncio

    from gateway.storage.models import Alert, Outbox

    alert = None
    for _ in range(100):
        await runtime.score_once()
        async with runtime.sessions() as session:
            alert = (await session.execute(select(Alert))).scalar_one_or_none()
            recipients = {r for (r,) in await session.execute(select(Outbox.recipient).where(Outbox.kind == "alert"))}
        if alert is not None:
            break
        await asyncio.sleep(0.1)
    assert alert is not None
    assert (alert.commune_pcode, alert.incident, alert.level) == ("NE004006003", "attack", 1)
    assert recipients == {"+22796000201", "+22796000202"}


async def test_session_end_event_is_recorded(gateway) -> None:
    await walk(gateway, ["1"], session_id="ATUid_gone")
    response = await gateway.post("/callbacks/at/ussd/events" + TOKEN, headers=FORM, data=urlencode({
        "sessionId": "ATUid_gone", "phoneNumber": FOCAL_POINT, "status": "Incomplete", "durationInMillis": "40000",
        "input": "1", "serviceCode": "*384*3737#", "networkCode": "61402"}))
    assert (response.status, await response.text()) == (200, "ok")
    missing = await gateway.post("/callbacks/at/ussd/events" + TOKEN, headers=FORM, data="status=Success")
    assert (missing.status, await missing.text()) == (400, "field 'sessionId' required")
    runtime = gateway.server.app[RUNTIME]
    async with runtime.sessions() as session:
        row = (await session.execute(select(UssdSession))).scalar_one()
    assert (row.end_reason, row.state["step"]) == ("Incomplete", "incident")
    assert row.ended_at is not None


def session_end(**fields: str) -> str:
    return urlencode({"sessionId": "ATUid_gone", "phoneNumber": FOCAL_POINT, "status": "Incomplete",
                      "durationInMillis": "40000", "input": "1", **fields})


@pytest.mark.parametrize(("body", "headers", "status", "answer"), [
    (session_end(), FORM, 200, "ok"),
    (session_end(errorMessage="\\ud800"), charset("unicode_escape"), 400,
     "body charset 'unicode_escape' is not accepted: send UTF-8 or Latin-1"),
    (session_end(), charset("utf-16"), 400, "body charset 'utf-16' is not accepted: send UTF-8 or Latin-1"),
    (session_end(), charset("iso-8859-1"), 200, "ok"),
], ids=["plain", "unicode_escape", "utf-16", "latin-1"])
async def test_session_end_event_charsets(gateway, body: str, headers: dict, status: int, answer: str) -> None:
    await walk(gateway, ["1"], session_id="ATUid_gone")
    response = await gateway.post("/callbacks/at/ussd/events" + TOKEN, headers=headers, data=body)
    assert (response.status, await response.text()) == (status, answer)


async def test_a_hop_holding_a_lone_surrogate_leaves_the_session_store_working(gateway) -> None:
    """A unicode_escape hop once put a lone surrogate in the sessions written behind: every flush
    failed, and the session-end callback and the funnel answered 500 until a restart."""
    await walk(gateway, ["1"], session_id="ATUid_ok")
    poisoned = await gateway.post("/callbacks/at/ussd" + TOKEN, headers=charset("unicode_escape"),
                                  data=hop(sessionId="ATUid_bad", text="1*\\ud800"))
    assert poisoned.status == 400
    runtime = gateway.server.app[RUNTIME]
    await written(runtime)
    ended = await gateway.post("/callbacks/at/ussd/events" + TOKEN, headers=FORM,
                               data=session_end(sessionId="ATUid_ok"))
    assert (ended.status, await ended.text()) == (200, "ok")
    funnel = await gateway.get("/api/ussd/funnel", headers={"Authorization": "Bearer api-token"})
    assert funnel.status == 200 and (await funnel.json())["sessions"] == 1


async def test_a_hop_that_raises_ends_the_session_politely_not_a_500(gateway, caplog) -> None:
    async def broken(_hop):
        raise RuntimeError(f"a bug handling {FOCAL_POINT}")

    gateway.server.app[RUNTIME].answer_hop = broken
    response = await gateway.post("/callbacks/at/ussd" + TOKEN, headers=FORM, data=hop(sessionId="ATUid_bug"))
    assert (response.status, await response.text()) == (200, "END Service temporarily unavailable. Please try again later.")
    assert "ATUid_bug" in caplog.text and FOCAL_POINT[4:] not in caplog.text


async def test_a_session_end_the_database_refuses_for_itself_is_a_400_not_a_503(gateway, monkeypatch) -> None:
    from sqlalchemy.exc import IntegrityError

    from gateway.ussd import flow as ussd_flow

    async def refuse(*_args, **_kwargs):
        raise IntegrityError("UPDATE ussd_sessions ...", None, Exception("refused"))

    monkeypatch.setattr(ussd_flow, "record_session_end", refuse)
    response = await gateway.post("/callbacks/at/ussd/events" + TOKEN, headers=FORM, data=session_end())
    assert (response.status, await response.text()) == (400, "session end could not be stored (IntegrityError)")


async def test_abandoned_sessions_are_visible_to_analysts(gateway, clock) -> None:
    await walk(gateway, ["1", "1"], session_id="ATUid_a")  # stops at the place question
    await walk(gateway, ["1", "1", "1", "5", "1"], session_id="ATUid_b")  # completes
    clock.advance(minutes=5)
    unauthorised = await gateway.get("/api/ussd/funnel")
    assert unauthorised.status == 401
    response = await gateway.get("/api/ussd/funnel", headers={"Authorization": "Bearer api-token"})
    body = await response.json()
    assert body["sessions"] == 2
    assert body["by_outcome_and_step"] == {"abandoned": {"place": 1}, "completed": {"submitted": 1}}


async def test_concurrent_sessions_share_commits_and_a_doubled_last_hop_stores_once(gateway) -> None:
    """Hops arriving together are group-committed: 30 sessions of five focal points walk at once,
    and each sends its last hop twice at the same moment (the provider retrying): one report per
    session, both answers the same END screen with the same reference."""
    import asyncio

    phones = [f"+2279000010{n}" for n in range(1, 6)]  # demo focal points, each with a home commune

    async def session(n: int) -> tuple[str, str]:
        sid, phone = f"ATUid_c{n}", phones[n % len(phones)]
        screens = await walk(gateway, ["1", "1", "1", "3"], session_id=sid, phone=phone)
        assert screens[-1].startswith("CON "), screens[-1]
        last = hop(sessionId=sid, phoneNumber=phone, text="1*1*1*3*1")
        answers = await asyncio.gather(*(gateway.post("/callbacks/at/ussd" + TOKEN, headers=FORM, data=last)
                                         for _ in range(2)))
        first, second = [await answer.text() for answer in answers]
        return first, second

    results = await asyncio.gather(*(session(n) for n in range(30)))
    for first, second in results:
        assert first.startswith("END ") and first == second
    runtime = gateway.server.app[RUNTIME]
    async with runtime.sessions() as db:
        reports = (await db.execute(select(func.count()).select_from(Report))).scalar_one()
        linked = (await db.execute(select(func.count()).select_from(UssdSession)
                                   .where(UssdSession.report_id.is_not(None)))).scalar_one()
    assert (reports, linked) == (30, 30)
