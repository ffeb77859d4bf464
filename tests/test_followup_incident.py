"""One question back when a focal point's text names a place of the gazetteer but no incident
("GABI 12"): the report is kept waiting for its incident, asked what happened in the reporter's
language, completed by an answer the parser reads as an incident (a keyword or a code) from the
same number within 30 minutes (then scored and alerted), else flagged "needs an incident" in the
review queue, where a label scores it."""

from __future__ import annotations

import re

from sqlalchemy import select

from gateway.kernel.i18n import render
from gateway.parser.result import ParseResult
from gateway.runtime import RUNTIME
from gateway.sms import followup, replies
from gateway.storage.models import Message, Outbox, Report
from tests.support.dashboard import api_alerts, log_in, post_sms
from tests.support.gateway import make_settings, running_gateway, settle

GABI_1, GABI_2 = "+22790000101", "+22790000102"  # demo: approved focal points of Gabi, Hausa
GABI = "NE004006003"
HAUSA_QUESTION = ("Gabi: me ya faru? Ku amsa: 1 hari 2 garkuwa 3 satar shanu 4 'yan bindiga 5 nakiya 6 kisa "
                  "7 hijira 8 gobara 9 rikici 10 fatauci")


def settings_for(db_url: str):
    return make_settings(db_url, callbacks={"token": "s3cret"}, api={"token": "api-token"})


async def bodies_to(client, phone: str) -> list[str]:
    async with client.app[RUNTIME].sessions() as session:
        return list((await session.execute(
            select(Outbox.body).where(Outbox.recipient == phone).order_by(Outbox.id))).scalars())


async def reports_of(client) -> list[Report]:
    async with client.app[RUNTIME].sessions() as session:
        return list((await session.execute(select(Report).order_by(Report.id))).scalars())


async def test_the_answer_names_the_incident_and_the_alert_follows(db_url, clock) -> None:
    async with running_gateway(settings_for(db_url), clock) as client:
        assert await post_sms(client, GABI_1, "GABI 12", "w-1") == "stored: report"
        assert await bodies_to(client, GABI_1) == [HAUSA_QUESTION]
        [report] = await reports_of(client)
        assert (report.status, report.incident, report.commune_pcode, report.count) == ("asked", "unclear", GABI, 12)
        await settle(client)
        assert GABI not in await api_alerts(client), "a report waiting for its incident must not be scored"

        clock.advance(minutes=20)
        assert await post_sms(client, GABI_1, "1", "w-2") == "stored: answer"
        assert (await bodies_to(client, GABI_1))[-1].startswith(f"An karba {report.ref}: hari Gabi (12)."), \
            await bodies_to(client, GABI_1)
        [report] = await reports_of(client)
        assert (report.status, report.incident, report.count) == ("valid", "attack", 12)
        await settle(client)
        assert (await api_alerts(client))[GABI]["incident"] == "attack"


async def test_an_unanswered_report_is_flagged_needs_an_incident_and_a_label_scores_it(db_url, clock) -> None:
    async with running_gateway(settings_for(db_url), clock) as client:
        assert await post_sms(client, GABI_2, "GABI 12", "w-3") == "stored: report"
        await log_in(client)
        assert "needs" not in await (await client.get("/dashboard/review")).text(), "still open to its answer"

        clock.advance(minutes=31)
        # Too late to be an answer: a report of its own, with its own place.
        assert await post_sms(client, GABI_2, "1", "w-4") == "stored: report"
        html = await (await client.get("/dashboard/review")).text()
        [row] = re.findall(r'<tr data-message="(\d+)">((?:(?!</tr>).)*)</tr>', html)  # the late "1" is a report
        assert "incident à préciser" in row[1] and "lieu à préciser" not in row[1], html
        csrf = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
        message_id = int(row[0])
        response = await client.post(f"/dashboard/review/{message_id}",
                                     data={"label": "kidnapping", "csrf": csrf}, allow_redirects=False)
        assert response.status == 303, await response.text()
        async with client.app[RUNTIME].sessions() as session:
            report = (await session.execute(select(Report).where(Report.message_id == message_id))).scalar_one()
            assert (await session.get(Message, message_id)).review_label == "kidnapping"
        assert (report.status, report.incident, report.commune_pcode) == ("valid", "kidnapping", GABI)
        await settle(client)
        response = await client.get("/api/alerts", headers={"Authorization": "Bearer api-token"})
        alerted = {(a["commune"], a["incident"]) for a in (await response.json())["alerts"]}
        assert (GABI, "kidnapping") in alerted, alerted


async def test_a_text_without_a_place_still_gets_the_help(db_url, clock) -> None:
    async with running_gateway(settings_for(db_url), clock) as client:
        assert await post_sms(client, GABI_1, "bonjour", "w-5") == "stored: unknown"
        assert await bodies_to(client, GABI_1) == [replies.text("ha", replies.HELP)]
        assert await reports_of(client) == []


async def test_a_bare_place_is_asked_about_unless_a_report_waits_for_its_place(db_url, clock) -> None:
    async with running_gateway(settings_for(db_url), clock) as client:
        assert await post_sms(client, GABI_1, "Gabi", "w-7") == "stored: report"
        assert await bodies_to(client, GABI_1) == [HAUSA_QUESTION]
        await post_sms(client, GABI_2, "hari a kasuwa", "w-8")
        clock.advance(minutes=31)
        # Too late to answer "where", and no new report either: the operator places it.
        assert await post_sms(client, GABI_2, "Gabi", "w-9") == "stored: unknown"


async def test_a_place_from_an_unknown_number_is_not_a_report(db_url, clock) -> None:
    async with running_gateway(settings_for(db_url), clock) as client:
        assert await post_sms(client, "+22790009999", "GABI 12", "w-6") == "stored: unknown"
        assert await reports_of(client) == []


def test_a_place_and_at_most_one_number_is_a_place_only_text() -> None:
    def search(text, home):
        return [("NE1", "Gabi", None)] if text.lower() == "gabi" else []

    assert followup.place_only(search, "GABI 12", None) == ("NE1", None, 12)
    assert followup.place_only(search, "12 gabi", None) == ("NE1", None, 12)
    assert followup.place_only(search, "Gabi", None) == ("NE1", None, None)
    assert followup.place_only(search, "GABI 12 3", None) is None
    assert followup.place_only(search, "bonjour", None) is None
    assert followup.place_only(search, "gabi bonjour", None) is None
    assert followup.place_only(search, "12", None) is None


def test_an_answer_is_an_incident_naming_no_other_place() -> None:
    home = ParseResult("report", incident="attack", commune="NE9", notes=("no place named: reporter's commune",))
    assert followup.answered_incident(home, "NE1") == "attack"
    assert followup.answered_incident(ParseResult("report", incident="fire", commune="NE1"), "NE1") == "fire"
    assert followup.answered_incident(ParseResult("report", incident="fire", commune="NE2"), "NE1") is None
    assert followup.answered_incident(ParseResult("unknown"), "NE1") is None


def test_the_question_cuts_a_long_place_to_fit_one_segment() -> None:
    text = followup.what_question_text("fr", "Sere Moussa Ani Samo de Siékorolé")
    assert text.startswith("Sere Moussa Ani Samo de : que") and text == render(
        "fr", followup.ASK_WHAT, place="Sere Moussa Ani Samo de ")
