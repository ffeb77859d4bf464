"""One question back when a report's place is missing, ambiguous or only a kind of place: asked by
SMS in the reporter's language, completed by the answer from the same number within 30 minutes
(then scored and alerted), else flagged "needs a place" in the review queue, where a label scores it."""

from __future__ import annotations

import re

from sqlalchemy import select

from gateway.parser.result import ParseResult
from gateway.runtime import RUNTIME
from gateway.sms import followup
from gateway.storage.models import Message, Outbox, Report
from tests.support.dashboard import api_alerts, log_in, post_sms
from tests.support.gateway import make_settings, running_gateway, settle

GABI_1, GABI_2 = "+22790000101", "+22790000102"  # demo: approved focal points of Gabi, Hausa
GABI = "NE004006003"


def settings_for(db_url: str):
    return make_settings(db_url, callbacks={"token": "s3cret"}, api={"token": "api-token"})


async def bodies_to(client, phone: str) -> list[str]:
    async with client.app[RUNTIME].sessions() as session:
        return list((await session.execute(
            select(Outbox.body).where(Outbox.recipient == phone).order_by(Outbox.id))).scalars())


async def report_of(client, ref: str) -> Report:
    async with client.app[RUNTIME].sessions() as session:
        return (await session.execute(select(Report).where(Report.ref == ref))).scalar_one()


async def test_the_answer_completes_the_report_and_the_alert_follows(db_url, clock) -> None:
    async with running_gateway(settings_for(db_url), clock) as client:
        assert await post_sms(client, GABI_1, "hari a kasuwa", "q-1") == "stored: report"
        [question] = await bodies_to(client, GABI_1)
        ref = re.fullmatch(r"Rahoto (R\w+): hari\. A ina abin ya faru\? Ku amsa da sunan kauye ko komin\.",
                           question).group(1)
        await settle(client)
        assert GABI not in await api_alerts(client), "a report waiting for its place must not be scored"
        assert (await report_of(client, ref)).status == "asked"

        clock.advance(minutes=20)
        assert await post_sms(client, GABI_1, "Gabi", "q-2") == "stored: answer"
        confirmation = (await bodies_to(client, GABI_1))[-1]
        assert confirmation.startswith(f"An karba {ref}: hari Gabi."), confirmation
        report = await report_of(client, ref)
        assert (report.status, report.commune_pcode) == ("valid", GABI)
        await settle(client)
        alerts = await api_alerts(client)
        assert alerts[GABI]["incident"] == "attack", alerts


async def test_an_unanswered_report_waits_in_the_review_queue_flagged_and_a_label_scores_it(db_url, clock) -> None:
    async with running_gateway(settings_for(db_url), clock) as client:
        assert await post_sms(client, GABI_2, "hari a kasuwa", "q-3") == "stored: report"
        await log_in(client)
        html = await (await client.get("/dashboard/review")).text()
        assert "hari a kasuwa" not in html, "the question can still be answered: not the operator's yet"

        clock.advance(minutes=31)
        # Too late to be an answer: an ordinary text, answered with the help.
        assert await post_sms(client, GABI_2, "Gabi", "q-4") == "stored: unknown"
        html = await (await client.get("/dashboard/review")).text()
        row = re.search(r'<tr data-message="(\d+)">((?:(?!</tr>).)*hari a kasuwa(?:(?!</tr>).)*)</tr>', html)
        assert row and "lieu à préciser" in row.group(2), html  # "needs a place", in the admin's French
        csrf = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
        message_id = int(row.group(1))
        response = await client.post(f"/dashboard/review/{message_id}",
                                     data={"label": "attack", "place": "Gabbi", "csrf": csrf}, allow_redirects=False)
        assert response.status == 303, await response.text()
        async with client.app[RUNTIME].sessions() as session:
            report = (await session.execute(select(Report).where(Report.message_id == message_id))).scalar_one()
            assert (await session.get(Message, message_id)).review_label == "attack"
        assert (report.status, report.commune_pcode) == ("valid", GABI)
        await settle(client)
        assert (await api_alerts(client))[GABI]["incident"] == "attack"


async def test_a_place_the_label_cannot_find_is_a_400_naming_it(db_url, clock) -> None:
    async with running_gateway(settings_for(db_url), clock) as client:
        await post_sms(client, GABI_2, "hari a kasuwa", "q-5")
        clock.advance(minutes=31)
        await log_in(client)
        html = await (await client.get("/dashboard/review")).text()
        message_id = re.search(r'<tr data-message="(\d+)">', html).group(1)
        csrf = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
        response = await client.post(f"/dashboard/review/{message_id}",
                                     data={"label": "attack", "place": "Nowhereville", "csrf": csrf})
        assert response.status == 400 and "unknown place 'Nowhereville'" in await response.text()


async def test_a_new_report_while_a_question_waits_is_its_own_report(db_url, clock) -> None:
    async with running_gateway(settings_for(db_url), clock) as client:
        await post_sms(client, GABI_1, "hari a kasuwa", "q-6")
        assert await post_sms(client, GABI_1, "sace guidan sori uku", "q-7") == "stored: report"
        last = (await bodies_to(client, GABI_1))[-1]
        assert last.startswith("An karba") and "Guidan Sori (3)" in last, last


def test_which_question_names_two_or_three_candidates_and_where_otherwise() -> None:
    names = {"NE004006003": "Gabi", "NE004005003": "Guidan Sori"}.get
    two = ParseResult("report", incident="attack", notes=("place ambiguous: NE004006003, NE004005003",))
    question = followup.question_for(two)
    assert question == followup.Question(followup.ASK_WHICH, ("NE004006003", "NE004005003"))
    assert followup.question_text("fr", question, "R7K2", "attaque", names) == \
        "Signalement R7K2: attaque. Quel lieu: Gabi, Guidan Sori? Répondez avec son nom."
    four = ParseResult("report", incident="attack", notes=("place ambiguous: A, B, C, D",))
    assert followup.question_for(four).template == followup.ASK_WHERE
    nowhere = ParseResult("report", incident="attack", notes=("no place named",))
    assert followup.question_for(nowhere).template == followup.ASK_WHERE
    at_home = ParseResult("report", incident="attack", commune="NE004006003",
                          notes=("no place named: reporter's commune",), free_text="a moto")
    assert followup.question_for(at_home) is None  # "à moto" says how, not where
    named = ParseResult("report", incident="attack", commune="NE004006003", free_text="kasuwa")
    assert followup.question_for(named) is None  # a place was named: the market is in it


def test_an_answer_among_candidates_picks_the_candidate() -> None:
    def search(text, home):
        return [("NE1", "Tondi", None), ("NE2", "Tondi", "Kouré")]

    assert followup.answered_place(search, "tondi", None, ("NE2", "NE3")) == ("NE2", "Kouré")
    assert followup.answered_place(search, "tondi", None, ()) == ("NE1", None)
    assert followup.answered_place(lambda text, home: [], "xyz", None, ()) is None
