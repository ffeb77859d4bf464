"""Reporter protection: no alert SMS, log line, metric or API/feed answer carries a reporter's
number or name; the admin CLI masks numbers unless --show-numbers; old messages lose their
sender's number (gateway.retention_days) through a scheduled job."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select

from gateway.devtools.at_forms import inbound_sms_form
from gateway.runtime import RUNTIME
from gateway.storage.models import Alert, Message, Outbox, Report, UssdSession
from gateway.storage.retention import anonymise_old_messages
from tests.conftest import running_gateway
from tests.test_cli import ewg
from tests.test_reliability_outbox import ScriptedProvider
from tests.test_security_flood import settle

REPORTERS = {"+22790000101": "Point focal Gabi 1", "+22790000102": "Point focal Gabi 2"}  # demo, approved
UNKNOWN_REPORTER = "+22791234567"
COMMITTEE = {"+22796000201", "+22796000202", "+22796000301", "+22796000401"}  # Gabi, department, region


def identity_fragments() -> list[str]:
    """Every form a reporter's identity could take in a text: E.164, without '+', national, name."""
    fragments = []
    for phone, name in [*REPORTERS.items(), (UNKNOWN_REPORTER, None)]:
        fragments += [phone, phone[1:], phone[4:]]
        if name:
            fragments.append(name)
    return fragments


def leaks(text: str) -> list[str]:
    return [fragment for fragment in identity_fragments() if fragment in text]


async def test_no_reporter_identity_in_alerts_logs_metrics_api_or_feeds(settings, clock, caplog) -> None:  # noqa: ANN001
    caplog.set_level(logging.INFO)
    provider = ScriptedProvider()
    async with running_gateway(settings, clock, provider) as client:
        first, second = REPORTERS
        texts = [(UNKNOWN_REPORTER, "hari gabi 4"), (first, "ATTAQUE GABI 3"), (second, "attaque a gabi")]
        texts += [(first, "ATTAQUE GABI 3")] * settings.gateway.reply_limit  # the last reply is withheld
        for n, (phone, text) in enumerate(texts):
            form = inbound_sms_form(phone, text, received_at=clock(), message_id=f"privacy-{n}")
            response = await client.post("/callbacks/at/sms", params={"token": "s3cret"}, data=form)
            assert response.status == 200
        ussd = {"sessionId": "P1", "serviceCode": "*384*3737#", "phoneNumber": UNKNOWN_REPORTER, "text": ""}
        assert (await client.post("/callbacks/at/ussd", params={"token": "s3cret"}, data=ussd)).status == 200
        await settle(client)

        async with client.app[RUNTIME].sessions() as session:
            assert (await session.execute(select(Alert.level))).scalar_one() == 2
            withheld = (await session.execute(select(Message.id).where(Message.reply_status == "rate_limited")))
            assert len(withheld.all()) == 1
        alert_sms = [(to, text) for to, text in provider.delivered if to in COMMITTEE]
        assert {to for to, _ in alert_sms} == COMMITTEE, provider.delivered
        for to, text in alert_sms:
            assert leaks(text) == [], f"alert to {to} carries a reporter's identity: {text!r}"

        headers = {"Authorization": "Bearer api-token"}
        answers = {}
        for path in ("/metrics", "/api/reports", "/api/alerts", "/api/communes", "/feeds/cap.atom"):
            response = await client.get(path, headers=headers)
            assert response.status == 200, path
            answers[path] = await response.text()
        alert_id = re.search(r'"id": ?(\d+)', answers["/api/alerts"]).group(1)
        response = await client.get(f"/feeds/cap/{alert_id}.xml", headers=headers)
        answers["cap"] = await response.text()
        assert answers["/api/reports"].count('"ref"') == len(texts)  # the reports are there, under pseudonyms
        for path, body in answers.items():
            assert leaks(body) == [], f"{path} carries a reporter's identity"

    log_text = "\n".join(record.getMessage() for record in caplog.records)
    assert "alert" in log_text and len(caplog.records) > 10  # the log was captured
    assert leaks(log_text) == [], f"a log line carries a reporter's identity: {leaks(log_text)}"


async def test_admin_cli_masks_numbers_unless_asked(settings, clock, db_url) -> None:  # noqa: ANN001
    async with running_gateway(settings, clock):
        pass  # an empty database gets the demo focal points and committees
    masked = ewg("reporters", "list", "--json", db_url=db_url)
    assert masked.returncode == 0, masked.stderr
    assert "+227*****101" in masked.stdout
    assert [phone for phone in REPORTERS if phone in masked.stdout or phone[4:] in masked.stdout] == []
    shown = ewg("reporters", "list", "--json", "--show-numbers", db_url=db_url)
    assert all(phone in shown.stdout for phone in REPORTERS), shown.stdout
    members = ewg("committees", "list", "--json", db_url=db_url)
    assert "+22796000201" not in members.stdout and "+227*****201" in members.stdout


async def test_retention_erases_senders_of_old_messages_only(settings, clock) -> None:  # noqa: ANN001
    async with running_gateway(settings, clock, ScriptedProvider()) as client:
        runtime = client.app[RUNTIME]
        old = inbound_sms_form("+22790000101", "ATTAQUE GABI 3", received_at=clock() - timedelta(days=31),
                               message_id="old")
        recent = inbound_sms_form("+22790000101", "ATTAQUE GABI 3", received_at=clock() - timedelta(days=29),
                                  message_id="recent")
        for form in (old, recent):
            assert (await client.post("/callbacks/at/sms", params={"token": "s3cret"}, data=form)).status == 200
        async with runtime.sessions() as session, session.begin():
            assert await anonymise_old_messages(session, 30, clock()) == 1
        async with runtime.sessions() as session, session.begin():
            assert await anonymise_old_messages(session, 30, clock()) == 0  # already done
            rows = {m.external_id: (m.sender, m.link_id) for m in (await session.execute(select(Message))).scalars()}
            keys = set((await session.execute(select(Report.sender_key))).scalars())
        assert rows["old"] == (None, None)
        assert rows["recent"] == ("+22790000101", recent["linkId"])
        assert len(keys) == 1, "the old report keeps its pseudonym, so corroboration still works"


async def test_retention_job_is_scheduled_only_when_set_and_runs_on_the_clock(settings, clock) -> None:  # noqa: ANN001
    async with running_gateway(settings, clock, ScriptedProvider()) as client:
        assert settings.gateway.retention_days == 0
        assert client.app[RUNTIME].scheduler.get_job("retention") is None

    kept = replace(settings, gateway=replace(settings.gateway, retention_days=7))
    async with running_gateway(kept, clock, ScriptedProvider()) as client:
        runtime = client.app[RUNTIME]
        job = runtime.scheduler.get_job("retention")
        assert job is not None and job.trigger.interval == timedelta(hours=1)
        form = inbound_sms_form("+22790000101", "ATTAQUE GABI 3", received_at=clock(), message_id="m1")
        assert (await client.post("/callbacks/at/sms", params={"token": "s3cret"}, data=form)).status == 200
        ussd = {"sessionId": "U1", "serviceCode": "*384*3737#", "phoneNumber": "+22790000101", "text": ""}
        assert (await client.post("/callbacks/at/ussd", params={"token": "s3cret"}, data=ussd)).status == 200
        await settle(client)  # the confirmation is sent: its outbox row keeps the number until retention
        await job.func()
        assert await _numbers_kept(runtime) == {"message": ["+22790000101"], "reply": ["+22790000101"],
                                                "ussd": ["+22790000101"]}
        clock.advance(days=7, seconds=1)
        await job.func()
        assert await _numbers_kept(runtime) == {"message": [None], "reply": ["-"], "ussd": ["-"]}


async def _numbers_kept(runtime) -> dict[str, list[str | None]]:  # noqa: ANN001
    async with runtime.sessions() as session:
        return {
            "message": list((await session.execute(select(Message.sender).order_by(Message.id))).scalars()),
            "reply": list((await session.execute(select(Outbox.recipient).where(Outbox.kind == "reply"))).scalars()),
            "ussd": list((await session.execute(select(UssdSession.phone))).scalars()),
        }

