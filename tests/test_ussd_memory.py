"""USSD sessions kept in memory (ussd.session_store = "memory", the default on SQLite): menu
positions reach the database in the background, a restart continues a session from its row,
and a hop that fails to commit its action changes nothing, so the provider's retry acts."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from gateway.runtime import RUNTIME
from gateway.storage.models import Report, UssdSession
from tests.support.callbacks import FORM, TOKEN, hop
from tests.support.gateway import running_gateway


@pytest.fixture
def memory_settings(settings):
    return replace(settings, ussd=replace(settings.ussd, session_store="memory", flush_seconds=0.05))


async def post(client, text: str, session_id: str = "ATUid_m") -> str:
    response = await client.post("/callbacks/at/ussd" + TOKEN, headers=FORM, data=hop(sessionId=session_id, text=text))
    assert response.status == 200
    return await response.text()


async def stored_row(runtime) -> UssdSession | None:
    async with runtime.sessions() as session:
        return (await session.execute(select(UssdSession))).scalar_one_or_none()


async def test_menu_positions_reach_the_database_without_anyone_asking(memory_settings, clock) -> None:
    async with running_gateway(memory_settings, clock) as client:
        runtime = client.server.app[RUNTIME]
        assert runtime.ussd_live is not None
        await post(client, "")
        await post(client, "1")  # report: the incident question
        row = None
        for _ in range(100):  # flush_seconds is 0.05 here
            row = await stored_row(runtime)
            if row is not None and row.hops == 2:
                break
            await asyncio.sleep(0.02)
        assert row is not None and (row.hops, row.last_text, row.state["step"]) == (2, "1", "incident")


async def test_a_restart_continues_the_session_from_its_row(memory_settings, clock) -> None:
    slow_flush = replace(memory_settings, ussd=replace(memory_settings.ussd, flush_seconds=3600))
    async with running_gateway(slow_flush, clock) as client:
        await post(client, "")
        incident_screen = await post(client, "1")
    # Stopping writes what is in memory; a new process knows the session only from its row.
    async with running_gateway(memory_settings, clock) as client:
        assert await post(client, "1") == incident_screen  # a repeated hop: the same screen
        place_screen = await post(client, "1*1")  # attack
        assert place_screen.startswith("CON ") and place_screen != incident_screen
        runtime = client.server.app[RUNTIME]
        await runtime.ussd_live.flush()
        row = await stored_row(runtime)
        assert (row.hops, row.state["step"]) == (3, "place")


async def test_an_action_that_fails_to_commit_changes_nothing_and_the_retry_stores_it(memory_settings, clock) -> None:
    async with running_gateway(memory_settings, clock) as client:
        runtime = client.server.app[RUNTIME]
        for text in ["", "1", "1*1", "1*1*1", "1*1*1*5"]:
            assert (await post(client, text)).startswith("CON ")
        real_submit = runtime.ussd.submit

        async def database_down(item):
            raise ConnectionError("database down")

        runtime.ussd.submit = database_down
        down = await post(client, "1*1*1*5*1")
        assert down == "END Service temporarily unavailable. Please try again later."
        runtime.ussd.submit = real_submit
        stored = await post(client, "1*1*1*5*1")  # the provider retries the same hop
        assert stored.startswith("END ") and "lamba" in stored
        assert await post(client, "1*1*1*5*1") == stored
        async with runtime.sessions() as session:
            assert (await session.execute(select(func.count()).select_from(Report))).scalar_one() == 1


def test_idle_and_excess_sessions_leave_memory_once_written(monkeypatch) -> None:
    from datetime import UTC, datetime, timedelta

    from gateway.kernel.envelopes import UssdHop
    from gateway.ussd import memory as ussd_memory

    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    store = ussd_memory.LiveSessions(None, None, None, 1.0, timedelta(minutes=5), clock=lambda: now)
    monkeypatch.setattr(ussd_memory, "MAX_LIVE", 2)
    for n, age in enumerate([10, 4, 3, 2, 1]):  # minutes since the last hop
        live = store.entry(UssdHop(f"s{n}", "*384#", "+22790000101", None, ""), now - timedelta(minutes=age))
        live.dirty = n == 1  # s1 is not written yet: it stays whatever its age
    # s0 is idle; two of the rest must go to keep two: the least recent written ones (s2, s3).
    assert store.evict_idle() == 3
    assert sorted(store._live) == ["s1", "s4"]


BAD_PHONE = "+22790123456"


@pytest.mark.parametrize("where", ["phone", "text"])
async def test_a_row_the_database_refuses_is_left_out_and_the_rest_flush(memory_settings, clock, caplog,
                                                                         monkeypatch, where: str) -> None:
    """A session holding a lone surrogate (which no database driver encodes) put straight into the
    store: it is logged without its number and left out; the other sessions are written, the USSD
    end callback and the funnel keep answering, and the memory cap still holds."""
    from gateway.kernel.envelopes import UssdHop
    from gateway.ussd import memory as ussd_memory
    from gateway.ussd.session import StoredSession

    async with running_gateway(memory_settings, clock) as client:
        runtime = client.server.app[RUNTIME]
        live = runtime.ussd_live
        await post(client, "", "good-1")
        await post(client, "1", "good-1")
        await post(client, "", "good-2")
        bad = live.entry(UssdHop("bad-1", "*384*3737#", BAD_PHONE + ("\ud800" if where == "phone" else ""), None, ""),
                         clock())
        bad.stored = StoredSession.from_row("1*\ud800" if where == "text" else "1", {"step": "incident"}, "CON ?")
        bad.loaded, bad.dirty, bad.hops = True, True, 2
        await post(client, "1*1", "good-2")  # dirty again beside the bad one

        await live.flush()  # the write-behind's own call; raised on every call before
        async with runtime.sessions() as session:
            rows = {row.session_id: row for row in (await session.execute(select(UssdSession))).scalars()}
        assert set(rows) == {"good-1", "good-2"} and (rows["good-1"].hops, rows["good-2"].hops) == (2, 2)
        assert not bad.dirty  # left out: nothing keeps it from eviction

        end = {"sessionId": "good-1", "phoneNumber": "+22790000101", "status": "Success", "input": "1",
               "durationInMillis": "1000", "date": "2026-11-24 12:00:00"}
        response = await client.post("/callbacks/at/ussd/events" + TOKEN, data=end)
        assert response.status == 200, await response.text()
        response = await client.get("/api/ussd/funnel",
                                    headers={"Authorization": f"Bearer {memory_settings.api.token}"})
        assert response.status == 200, await response.text()
        assert (await response.json())["sessions"] == 2

        # The background write-behind goes on too, and evicts down to the cap with the bad session present.
        monkeypatch.setattr(ussd_memory, "MAX_LIVE", 1)
        await post(client, "", "good-3")
        for _ in range(200):  # flush_seconds is 0.05 here
            if len(live._live) <= 1:
                break
            await asyncio.sleep(0.02)
        assert len(live._live) <= 1, sorted(live._live)

    refused = [r for r in caplog.records if "bad-1" in r.getMessage()]
    assert refused and all(r.levelname == "WARNING" for r in refused), [r.getMessage() for r in caplog.records]
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert BAD_PHONE[4:] not in logged and "\ud800" not in logged
