"""A group commit's SMS handled together: each message gets the outcome it would have alone, in
arrival order (a command changes what the messages after it in the same batch see), and on SQLite
the batch's own statements through the driver store exactly what the portable path stores."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text

from gateway.kernel.envelopes import InboundSms
from gateway.runtime import RUNTIME
from gateway.sms.references import encode_ref
from gateway.storage import sqlite_batch
from gateway.storage.models import Message, Reporter
from tests.support.callbacks import TOKEN, sms
from tests.support.gateway import FakeClock, make_settings, running_gateway

FOCAL_POINT, BLOCKED = "+22790000101", "+22790000102"  # demo: approved focal points of Gabi (Hausa)
GUIDAN_SORI = "+22790000103"  # demo: approved focal point of Guidan Sori (Hausa)
NEWCOMER, CHATTY, STRANGER = "+22791110001", "+22791110002", "+22791110003"
LATECOMER, UNLUCKY, KENYAN = "+22791110004", "+22791110005", "+254791541111"
RECEIVED = datetime(2026, 11, 24, 11, 59, tzinfo=UTC)
FORM = {"Content-Type": "application/x-www-form-urlencoded"}

FIRST_BATCH = [
    ("b-1", FOCAL_POINT, "ATTAQUE GABI 12"),
    ("b-1", FOCAL_POINT, "ATTAQUE GABI 12"),  # the provider's retry, in the same batch
    ("b-2", NEWCOMER, "LANGUE ha"),  # a new contact, in Hausa from here on
    ("b-3", NEWCOMER, "vol de betail Tera 30"),  # answered in Hausa, unverified
    ("b-4", NEWCOMER, "INSCRIPTION Guidan Sori Awa Moussa"),
    ("b-5", NEWCOMER, "enlevement Guidan Sori 2"),  # now a pending focal point's report; its 4th reply: withheld
    ("b-6", BLOCKED, "ATTAQUE GABI 3"),  # blocked: stored, no report
    ("b-7", STRANGER, "AIDE"),
    ("b-8", STRANGER, "bonjour"),
    *((f"b-c{n}", CHATTY, f"attaque tera {n}") for n in range(5)),  # two past the reply limit of 3
]


def second_batch() -> list[tuple[str, str, str]]:
    return [("b-9", FOCAL_POINT, f"FAUX {encode_ref(1)}"), ("b-10", FOCAL_POINT, "meurtre Gabi 1"),
            ("b-11", NEWCOMER, "LANGUE dje"), ("b-12", NEWCOMER, "attaque Guidan Sori 4")]


def third_batch() -> list[tuple[str, str, str]]:
    """A message whose understanding raises and one from abroad among ordinary ones: both kept for
    review, the others stored as if alone."""
    return [("b-13", LATECOMER, "attaque gabi 2"), ("b-14", UNLUCKY, "PANNE"), ("b-15", KENYAN, "ATTAQUE GABI 12"),
            ("b-16", LATECOMER, "AIDE")]


async def submit_together(client, messages: list[tuple[str, str, str]]) -> list:
    """Queued before the group committer wakes, so they are one batch."""
    runtime = client.server.app[RUNTIME]
    return await asyncio.gather(*(runtime.ingest.submit(InboundSms(external_id, sender, "3737", body, RECEIVED))
                                  for external_id, sender, body in messages))


async def run_batches(client) -> tuple[list, list, list]:
    runtime = client.server.app[RUNTIME]
    async with runtime.sessions() as session, session.begin():
        (await session.execute(select(Reporter).where(Reporter.phone == BLOCKED))).scalar_one().status = "blocked"
    first = await submit_together(client, FIRST_BATCH)
    second = await submit_together(client, second_batch())
    parse = runtime.ingest_ctx.parse

    def parse_or_raise(text: str, lang: str | None, home: str | None):
        if text == "PANNE":
            raise RuntimeError("a parser bug")
        return parse(text, lang, home)

    runtime.ingest_ctx.parse = parse_or_raise
    third = await submit_together(client, third_batch())
    return first, second, third


async def ask_and_answer(client) -> None:
    """A report asked where it happened, then its answer: the pending question is read on both paths."""
    await submit_together(client, [("b-17", GUIDAN_SORI, "hari a kasuwa"), ("b-18", STRANGER, "bonjour")])
    await submit_together(client, [("b-19", GUIDAN_SORI, "Guidan Sori"), ("b-20", LATECOMER, "Guidan Sori")])
    # A place and a count with no incident, asked what happened, then the code that answers it.
    await submit_together(client, [("b-21", GUIDAN_SORI, "GUIDAN SORI 15")])
    await submit_together(client, [("b-22", GUIDAN_SORI, "2"), ("b-23", STRANGER, "GUIDAN SORI 15")])


async def stored(client) -> dict[str, list[tuple]]:
    """What the ingest path writes, table by table, in a stable order (scoring's columns and the demo
    people's seeding time left out)."""
    queries = {
        "messages": "SELECT id, channel, external_id, sender, short_code, text, received_at, stored_at, link_id, "
                    "network_code, kind, command, lang, parse, reply_status, error FROM messages ORDER BY id",
        "reports": "SELECT id, ref, message_id, channel, reporter_id, sender_key, trust, incident, secondary, "
                   "commune_pcode, village, count, free_text, lang, status, received_at FROM reports ORDER BY id",
        "replies": "SELECT dedup_key, kind, priority, recipient, body, segments, status, attempts, next_attempt_at, "
                   "expires_at, alert_id, created_at FROM outbox WHERE kind = 'reply' ORDER BY dedup_key",
        "reporters": "SELECT id, phone, name, commune_pcode, lang, status, last_report_at FROM reporters ORDER BY phone",
    }
    runtime = client.server.app[RUNTIME]
    async with runtime.sessions() as session:
        return {table: [tuple(row) for row in await session.execute(text(sql))] for table, sql in queries.items()}


async def test_a_batch_gives_each_message_its_own_outcome_in_order(gateway) -> None:
    first, second, third = await run_batches(gateway)
    assert [(o.duplicate, o.kind, o.reply_status) for o in first] == [
        (False, "report", "queued"), (True, "duplicate", None), (False, "command", "queued"),
        (False, "report", "queued"), (False, "command", "queued"), (False, "report", "rate_limited"),
        (False, "report", "queued"), (False, "command", "queued"), (False, "unknown", "queued"),
        *[(False, "report", "queued")] * 3, *[(False, "report", "rate_limited")] * 2]
    assert first[3].lang == "ha" and first[3].reply.startswith("An karba")  # the language set just before
    assert first[6].report_id is None  # blocked
    assert [o.kind for o in second] == ["command", "report", "command", "report"]
    assert second[0].reply.startswith(f"An soke rahoto {encode_ref(1)}")
    assert second[3].lang == "dje"

    assert [(o.kind, o.reply_status, o.review) for o in third] == [
        ("report", "queued", None), ("unknown", "none", "not understood: RuntimeError raised while handling it"),
        ("unknown", "none", "sender's country (KE) is outside gateway.accepted_regions"), ("command", "queued", None)]
    assert third[0].report_id is not None and third[1].report_id is None and third[2].report_id is None

    tables = await stored(gateway)
    assert len(tables["messages"]) == 21  # the retry stored once
    kept = [(row[2], row[10], row[14], row[15]) for row in tables["messages"] if row[15]]  # id, kind, reply, error
    assert kept == [("b-14", "unknown", "none", third[1].review), ("b-15", "unknown", "none", third[2].review)]
    trust = {(row[2], row[6]) for row in tables["reports"]}  # (message id, trust)
    assert {t for _, t in trust} == {"approved", "unknown", "pending"}
    newcomer = next(row for row in tables["reporters"] if row[1] == NEWCOMER)
    assert newcomer[2:6] == ("Awa Moussa", "NE004005003", "dje", "pending")
    focal_point = next(row for row in tables["reporters"] if row[1] == FOCAL_POINT)
    assert focal_point[6] is not None  # its last report time was written with the batch
    retracted = [row for row in tables["reports"] if row[14] == "retracted"]
    assert [row[1] for row in retracted] == [encode_ref(1)]
    assert len([row for row in tables["replies"] if row[3] == CHATTY]) == 3


@pytest.fixture
def sqlite_copies(tmp_path: Path, _sqlite_template: Path) -> list[str]:
    urls = []
    for name in ("driver.db", "portable.db"):
        shutil.copy(_sqlite_template, tmp_path / name)
        urls.append(f"sqlite+aiosqlite:///{tmp_path / name}")
    return urls


async def test_sqlite_driver_path_stores_what_the_portable_path_stores(sqlite_copies, monkeypatch) -> None:
    """The same two batches through the driver-level statements and through SQLAlchemy's, on two
    copies of the same database: every column the ingest path writes is the same."""
    driver_calls = []
    real_write = sqlite_batch.write_batch

    async def counted_write(*args, **kwargs):
        driver_calls.append(1)
        return await real_write(*args, **kwargs)

    monkeypatch.setattr(sqlite_batch, "write_batch", counted_write)
    dumps = []
    for url, use_driver in zip(sqlite_copies, (True, False), strict=True):
        if not use_driver:
            async def no_driver(_session):
                return None

            monkeypatch.setattr(sqlite_batch, "driver_of", no_driver)
        settings = make_settings(url, callbacks={"token": "s3cret"}, gateway={"pseudonym_secret": "same-for-both"})
        async with running_gateway(settings, FakeClock()) as client:
            await run_batches(client)
            await ask_and_answer(client)
            dumps.append(await stored(client))
        if use_driver:
            assert driver_calls, "the SQLite batch did not go through the driver"
            calls_with_driver = len(driver_calls)
    assert len(driver_calls) == calls_with_driver  # the portable run did not use it
    driver_dump, portable_dump = dumps
    assert driver_dump["reports"] and driver_dump["replies"]
    answered = [row for row in driver_dump["reports"] if row[7] == "attack" and row[4] is not None and row[9]]
    assert any(row[14] == "valid" and row[9] == "NE004005003" for row in answered), driver_dump["reports"]
    assert any(row[0].startswith("ask:") for row in driver_dump["replies"])
    assert any(row[0].endswith(":what") for row in driver_dump["replies"])
    assert any(row[7:12:4] == ("kidnapping", 15) and row[14] == "valid" for row in driver_dump["reports"]), \
        driver_dump["reports"]
    for table in driver_dump:
        assert driver_dump[table] == portable_dump[table], table


async def test_a_message_outcome_is_written_with_its_batch(gateway) -> None:
    await submit_together(gateway, [("o-1", STRANGER, "AIDE"), ("o-2", STRANGER, "attaque tera 2")])
    runtime = gateway.server.app[RUNTIME]
    async with runtime.sessions() as session:
        rows = (await session.execute(select(Message.kind, Message.command, Message.lang, Message.reply_status)
                                      .order_by(Message.id))).all()
    assert [tuple(row) for row in rows] == [("command", "help", "fr", "queued"), ("report", None, "fr", "queued")]


async def test_a_database_refusing_writes_is_answered_503_and_nothing_is_half_stored(sqlite_copies) -> None:
    """On the SQLite batch path too, a database error is SQLAlchemy's (the view answers 503 so the
    provider retries), and the retry is stored once the database takes writes again."""
    settings = make_settings(sqlite_copies[0], callbacks={"token": "s3cret"})
    async with running_gateway(settings, FakeClock()) as client:
        runtime = client.server.app[RUNTIME]

        async def query_only(on: bool) -> None:
            async with runtime.sessions() as session:
                await session.execute(text(f"PRAGMA query_only = {int(on)}"))

        await query_only(True)
        refused = await client.post("/callbacks/at/sms" + TOKEN, headers=FORM, data=sms(id="ro-1"))
        assert (refused.status, await refused.text()) == (503, "storage unavailable, retry later")
        await query_only(False)
        assert (await stored(client))["messages"] == []
        retried = await client.post("/callbacks/at/sms" + TOKEN, headers=FORM, data=sms(id="ro-1"))
        assert (retried.status, await retried.text()) == (200, "stored: report")
        assert [row[2] for row in (await stored(client))["messages"]] == ["ro-1"]
