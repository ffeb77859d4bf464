"""Reporter protection: no alert SMS, log line, metric or API/feed answer carries a reporter's
number or name; the admin CLI masks numbers unless --show-numbers; retention (on by default) erases
what identifies a reporter from messages stored long enough ago, through a scheduled job; free text
is redacted when stored and when served."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select, update

from gateway.config import Settings, load_settings
from gateway.dashboard import queries
from gateway.kernel.redact import redact
from gateway.providers.africastalking_forms import inbound_sms_form
from gateway.runtime import RUNTIME
from gateway.storage.models import Alert, Message, Outbox, Report, Reporter, UssdSession
from gateway.storage.retention import anonymise_old_messages
from tests.support.cli import ewg
from tests.support.gateway import running_gateway, settle
from tests.support.paths import REPO
from tests.support.providers import ScriptedProvider

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


async def test_no_reporter_identity_in_alerts_logs_metrics_api_or_feeds(settings, clock, caplog) -> None:
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


async def test_admin_cli_masks_numbers_unless_asked(settings, clock, db_url) -> None:
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


async def test_retention_is_on_by_default(settings, clock) -> None:
    assert Settings().gateway.retention_days == 90
    assert load_settings(REPO / "settings.toml", environ={}).gateway.retention_days == 90
    async with running_gateway(settings, clock, ScriptedProvider()) as client:
        job = client.app[RUNTIME].scheduler.get_job("retention")
        assert job is not None and job.trigger.interval == timedelta(hours=1)


async def test_retention_counts_from_storage_and_erases_all_but_a_reports_facts(settings, clock) -> None:
    """A message stored 31 days ago is erased: number, text, parse, link id, its report's free text and
    link to the reporter, the reply to it, the USSD session's number and text. One the provider dates
    70 days back but the gateway stored 29 days ago is kept whole. The focal point's row stays."""
    async with running_gateway(settings, clock, ScriptedProvider()) as client:
        runtime = client.app[RUNTIME]
        focal_point = "+22790000101"
        old = inbound_sms_form(focal_point, "ATTAQUE GABI 3 vu hier soir", received_at=clock(), message_id="old")
        assert (await client.post("/callbacks/at/sms", params={"token": "s3cret"}, data=old)).status == 200
        ussd = {"sessionId": "R1", "serviceCode": "*384*3737#", "phoneNumber": focal_point, "text": "1"}
        assert (await client.post("/callbacks/at/ussd", params={"token": "s3cret"}, data=ussd)).status == 200
        await settle(client)
        clock.advance(days=2)
        late = inbound_sms_form(focal_point, "ATTAQUE GABI 4 encore", received_at=clock() - timedelta(days=70),
                                message_id="late")
        assert (await client.post("/callbacks/at/sms", params={"token": "s3cret"}, data=late)).status == 200
        await settle(client)
        clock.advance(days=29)

        async with runtime.sessions() as session, session.begin():
            assert await anonymise_old_messages(session, 30, clock()) == 1
        async with runtime.sessions() as session, session.begin():
            assert await anonymise_old_messages(session, 30, clock()) == 0  # already done
            messages = {m.external_id: m for m in (await session.execute(select(Message))).scalars()}
            reports = {r.message_id: r for r in (await session.execute(select(Report))).scalars()}
            replies = {o.dedup_key: o for o in (await session.execute(select(Outbox).where(Outbox.kind == "reply")))
                       .scalars()}
            ussd_row = (await session.execute(select(UssdSession))).scalar_one()
            reporter_row = (await session.execute(select(Reporter).where(Reporter.phone == focal_point))).scalar_one()

    erased, kept = messages["old"], messages["late"]
    assert (erased.sender, erased.text, erased.parse, erased.link_id) == (None, "", {}, None)
    assert (kept.sender, kept.text, kept.link_id) == (focal_point, "ATTAQUE GABI 4 encore", late["linkId"])
    assert kept.parse != {}
    old_report, kept_report = reports[erased.id], reports[kept.id]
    assert (old_report.free_text, old_report.reporter_id) == (None, None)
    assert (old_report.incident, old_report.commune_pcode, old_report.count, old_report.status) == (
        "attack", "NE004006003", 3, "valid")
    assert old_report.sender_key == kept_report.sender_key, "the pseudonym stays, so corroboration still works"
    assert (kept_report.free_text, kept_report.reporter_id) == ("encore", reporter_row.id)
    assert (replies[f"reply:{erased.id}"].recipient, replies[f"reply:{erased.id}"].body) == ("-", "")
    assert replies[f"reply:{kept.id}"].recipient == focal_point and replies[f"reply:{kept.id}"].body
    assert (ussd_row.phone, ussd_row.last_text) == ("-", "")
    assert reporter_row.name == "Point focal Gabi 1"


async def test_retention_job_is_scheduled_only_when_set_and_runs_on_the_clock(settings, clock) -> None:
    off = replace(settings, gateway=replace(settings.gateway, retention_days=0))
    async with running_gateway(off, clock, ScriptedProvider()) as client:
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
        await job.func(*job.args, **job.kwargs)  # as the scheduler calls it
        assert await _numbers_kept(runtime) == {"message": ["+22790000101"], "reply": ["+22790000101"],
                                                "ussd": ["+22790000101"]}
        clock.advance(days=7, seconds=1)
        await job.func(*job.args, **job.kwargs)  # as the scheduler calls it
        assert await _numbers_kept(runtime) == {"message": [None], "reply": ["-"], "ussd": ["-"]}


async def _numbers_kept(runtime) -> dict[str, list[str | None]]:
    async with runtime.sessions() as session:
        return {
            "message": list((await session.execute(select(Message.sender).order_by(Message.id))).scalars()),
            "reply": list((await session.execute(select(Outbox.recipient).where(Outbox.kind == "reply"))).scalars()),
            "ussd": list((await session.execute(select(UssdSession.phone))).scalars()),
        }



def test_redaction_hides_phone_like_numbers_and_the_registered_name() -> None:
    assert redact("appelez moi 90123456 Moussa", "Moussa") == "appelez moi […]"
    for number in ("+227 90 12 34 56", "90-12-34-56", "0022790123456", "(+227) 90.12.34.56", "9012345"):
        assert redact(f"tel {number} svp") == "tel […] svp", number
    assert redact("AÏSSA et moussa issa ont vu", "Aissa", "Moussa Issa") == "[…] et […] ont vu"  # case, accents
    kept = "12 morts, 3 blessés le 12/11/2026 vers 14h30, 250000 FCFA"  # counts, dates, amounts under 7 digits
    assert redact(kept, "Al Moussa") == kept
    assert redact(None) is None and redact("") == ""


async def test_free_text_is_redacted_when_stored_and_when_served(settings, clock) -> None:
    """The issue's example: a focal point registered as Moussa leaves a number and his name in a report;
    neither is stored nor served. Rows stored before redaction existed are redacted when served:
    /api/reports (and the CLI exports, the same rows), the dashboard's alerts and review queue."""
    focal_point = "+22790000101"
    async with running_gateway(settings, clock, ScriptedProvider()) as client:
        runtime = client.app[RUNTIME]
        async with runtime.sessions() as session, session.begin():
            await session.execute(update(Reporter).where(Reporter.phone == focal_point).values(name="Moussa"))
        form = inbound_sms_form(focal_point, "ATTAQUE GABI 12 appelez moi 90123456 Moussa", received_at=clock())
        assert (await client.post("/callbacks/at/sms", params={"token": "s3cret"}, data=form)).status == 200
        await settle(client)
        async with runtime.sessions() as session:
            report = (await session.execute(select(Report))).scalar_one()
        assert (report.count, report.free_text) == (12, "appelez moi […]")

        served = await _served_free_text(client)
        assert served["api"] == ["appelez moi […]"] and served["dashboard"] == ["appelez moi […]"]

        # As stored before redaction on ingest, and a text not understood, for the review queue.
        async with runtime.sessions() as session, session.begin():
            await session.execute(update(Report).values(free_text="rappeler Moussa au +227 90 12 34 56"))
        form = inbound_sms_form(focal_point, "bonjour c'est Moussa 90-12-34-56", received_at=clock())
        assert (await client.post("/callbacks/at/sms", params={"token": "s3cret"}, data=form)).status == 200
        served = await _served_free_text(client)
    assert served == {"api": ["rappeler […] au […]"], "dashboard": ["rappeler […] au […]"],
                      "review": ["bonjour c'est […]"]}


async def _served_free_text(client) -> dict[str, list[str]]:
    response = await client.get("/api/reports", headers={"Authorization": "Bearer api-token"})
    assert response.status == 200
    runtime = client.app[RUNTIME]
    async with runtime.sessions() as session:
        alerts = await queries.standing_alerts(session, await queries.places(session))
        review = await queries.review_queue(session, runtime.pseudonym_secret)
    return {"api": [row["free_text"] for row in (await response.json())["reports"]],
            "dashboard": [line.free_text for alert in alerts for line in alert.reports],
            "review": [item.text for item in review]}


async def test_retention_forgets_numbers_that_never_registered_once_silent(settings, clock) -> None:
    """A number that chose its language without registering keeps a reporter row (for that language);
    after the retention period without a word, the row is gone. One that reported since stays, and so
    does every focal point."""
    quiet, active = UNKNOWN_REPORTER, "+22791234568"
    async with running_gateway(settings, clock, ScriptedProvider()) as client:
        runtime = client.app[RUNTIME]
        for phone, key in ((quiet, "q1"), (active, "a1"), ("+22790000101", "f1")):
            form = inbound_sms_form(phone, "LANGUE ha", received_at=clock(), message_id=key)
            assert (await client.post("/callbacks/at/sms", params={"token": "s3cret"}, data=form)).status == 200
        await settle(client)
        clock.advance(days=20)
        form = inbound_sms_form(active, "ATTAQUE GABI 2", received_at=clock(), message_id="a2")
        assert (await client.post("/callbacks/at/sms", params={"token": "s3cret"}, data=form)).status == 200
        await settle(client)
        async with runtime.sessions() as session:
            statuses = dict((await session.execute(select(Reporter.phone, Reporter.status))).all())
        assert statuses[quiet] == statuses[active] == "unregistered"
        clock.advance(days=11)
        async with runtime.sessions() as session, session.begin():
            await anonymise_old_messages(session, 30, clock())
        async with runtime.sessions() as session:
            phones = set((await session.execute(select(Reporter.phone))).scalars())
    assert quiet not in phones
    assert active in phones, "heard of 11 days ago: kept"
    assert "+22790000101" in phones, "a focal point's row stays"
