"""Broadcasts from the dashboard over real HTTP: a text for every language its recipients read, the
preview's segments and estimate, a second operator's approval above the threshold (never the
author's own), the scope, the priority below alerts, delivery counts, the SMS spend the provider
reports and the monthly budget's warning and stop; every step an audit row.

Demo people: the committees of Maradi (NE004) are five members reading fr (3) and ha (2); those of
Tillabéri (NE006) two, reading fr and dje; its focal points two, reading fr and dje."""

from __future__ import annotations

import asyncio
import re

import pytest
from sqlalchemy import select

from gateway.dashboard.scope import Scope
from gateway.dashboard.users import add_user, find_user
from gateway.providers.africastalking import AfricasTalkingSender
from gateway.providers.africastalking_fake import FAKE_API_KEY, FAKE_USERNAME
from gateway.runtime import RUNTIME
from gateway.storage.models import AuditEntry, Broadcast, CommitteeMember, Outbox, SmsSpend
from gateway.storage.outbox import PRIORITY_ALERT, PRIORITY_BROADCAST
from tests.support.dashboard import TERA, log_in, post_sms, scored
from tests.support.fake_provider import FakeProviderServer
from tests.support.gateway import make_settings, running_gateway, settle
from tests.support.providers import ScriptedProvider

PASSWORD = "sahel-operator-2026"
NEWCOMER = "+22796000999"
MARADI_COMMITTEES = {"+22796000201": "fr", "+22796000202": "ha", "+22796000203": "ha",
                     "+22796000301": "fr", "+22796000401": "fr"}
TILLABERI_COMMITTEES = {"+22796000204": "fr", "+22796000205": "dje"}
TEXTS = {"fr": "Reunion du comite samedi a 10h a la mairie.", "ha": "Taron kwamiti ranar Asabar karfe 10.",
         "dje": "Komite marga hawru Asibti guru 10."}


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]{64})"', html).group(1)


async def as_user(client, name: str, role: str = "operator", scope: tuple[str, ...] | None = None) -> str:
    """Logs in as this user (made on first use); returns a CSRF token of the session."""
    async with client.server.app[RUNTIME].sessions() as session, session.begin():
        if await find_user(session, name) is None:
            await add_user(session, name, PASSWORD, role, scope=Scope(scope))
    await log_in(client, name, PASSWORD)
    return csrf_of(await (await client.get("/dashboard")).text())


def form(csrf: str, area: str, audience: str, **texts: str) -> dict:
    return {"csrf": csrf, "area": area, "audience": audience, **{f"text_{k}": v for k, v in texts.items()}}


async def post(client, path: str, data: dict, status: int) -> str:
    response = await client.post(path, data=data, allow_redirects=False)
    assert response.status == status, (path, response.status, await response.text())
    return response.headers.get("Location", "") if status == 303 else await response.text()


async def rows(client, model, *where) -> list:
    async with client.server.app[RUNTIME].sessions() as session:
        return list((await session.execute(select(model).where(*where))).scalars())


@pytest.fixture
async def two_operators(db_url, clock):
    settings = make_settings(db_url, callbacks={"token": "s3cret"}, api={"token": "api-token"},
                             broadcast={"approval_threshold": 3})
    async with running_gateway(settings, clock) as client:
        yield client


async def test_above_the_threshold_a_broadcast_waits_for_another_operator(two_operators) -> None:
    client = two_operators
    csrf = await as_user(client, "musa")
    # Only the French text: the two Hausa readers would get nothing, or French: refused, with the count.
    preview = await post(client, "/dashboard/broadcasts/preview", form(csrf, "Maradi", "committees", fr=TEXTS["fr"]), 200)
    assert "2 recipients read ha: write the ha text" in preview and 'value="send"' not in preview
    refused = await post(client, "/dashboard/broadcasts", form(csrf, "NE004", "committees", fr=TEXTS["fr"]), 409)
    assert "write the ha text" in refused
    assert await rows(client, Broadcast) == []

    preview = await post(client, "/dashboard/broadcasts/preview",
                         form(csrf, "NE004", "committees", fr=TEXTS["fr"], ha=TEXTS["ha"]), 200)
    assert 'value="send"' in preview and 'id="needs-approval"' in preview
    assert re.search(r'<tr class="language" data-lang="ha"><td>[^<]+</td><td>2</td><td>1</td><td>GSM-7</td>', preview)
    assert "5 destinataires" in preview and "125 XOF" in preview  # 5 x 1 segment x 25 XOF
    location = await post(client, "/dashboard/broadcasts", form(csrf, "NE004", "committees", fr=TEXTS["fr"],
                                                                ha=TEXTS["ha"]), 303)
    [waiting] = await rows(client, Broadcast)
    assert location == f"/dashboard/broadcasts/{waiting.id}?done=waiting"
    assert (waiting.status, waiting.recipients, waiting.estimated_cost) == ("awaiting_approval", 5, 125.0)
    assert await rows(client, Outbox, Outbox.kind == "broadcast") == []

    # The author cannot approve their own; a scoped operator of another region does not even see it.
    assert "cannot approve" in await post(client, f"/dashboard/broadcasts/{waiting.id}/approve", {"csrf": csrf}, 409)
    csrf = await as_user(client, "idi", scope=("NE006",))
    await post(client, f"/dashboard/broadcasts/{waiting.id}/approve", {"csrf": csrf}, 404)
    refused = await post(client, "/dashboard/broadcasts/preview", form(csrf, "NE004", "committees", fr="x"), 400)
    assert "outside your scope" in refused
    assert await rows(client, Outbox, Outbox.kind == "broadcast") == []

    # Someone reading Zarma joined the committees since: approving would send them another language's text.
    csrf = await as_user(client, "awa")
    await post(client, "/dashboard/members", {"csrf": csrf, "phone": NEWCOMER, "area": "NE004006", "role": "member",
                                              "lang": "dje"}, 303)
    refused = await post(client, f"/dashboard/broadcasts/{waiting.id}/approve", {"csrf": csrf}, 409)
    assert "recipients reading dje joined" in refused
    [(status, approver)] = [(b.status, b.approved_by) for b in await rows(client, Broadcast)]
    assert (status, approver) == ("awaiting_approval", None) and not await rows(client, Outbox, Outbox.kind == "broadcast")
    [member] = await rows(client, CommitteeMember, CommitteeMember.phone == NEWCOMER)
    await post(client, f"/dashboard/members/{member.id}/retire", {"csrf": csrf}, 303)
    await post(client, f"/dashboard/broadcasts/{waiting.id}/approve", {"csrf": csrf}, 303)
    await settle(client)
    sent = await rows(client, Outbox, Outbox.broadcast_id == waiting.id)
    assert {o.recipient: o.body for o in sent} == {phone: TEXTS[lang] for phone, lang in MARADI_COMMITTEES.items()}
    assert {(o.priority, o.status) for o in sent} == {(PRIORITY_BROADCAST, "logged")}
    assert all(o.expires_at is not None for o in sent)
    detail = await (await client.get(f"/dashboard/broadcasts/{waiting.id}")).text()
    assert re.search(r'data-state="sent"><td>[^<]+</td><td>5</td>', detail) and "awa" in detail
    # approved once: a second approval is refused and queues nothing more
    await post(client, f"/dashboard/broadcasts/{waiting.id}/approve", {"csrf": csrf}, 409)
    assert len(await rows(client, Outbox, Outbox.broadcast_id == waiting.id)) == 5

    # The author may cancel one still waiting; a cancelled one is never approved.
    csrf = await as_user(client, "musa")
    location = await post(client, "/dashboard/broadcasts", form(csrf, "NE004", "committees", fr=TEXTS["fr"],
                                                                ha=TEXTS["ha"]), 303)
    second = int(location.split("/")[-1].split("?")[0])
    await post(client, f"/dashboard/broadcasts/{second}/cancel", {"csrf": csrf}, 303)
    csrf = await as_user(client, "awa")
    await post(client, f"/dashboard/broadcasts/{second}/approve", {"csrf": csrf}, 409)
    assert await rows(client, Outbox, Outbox.broadcast_id == second) == []
    audited = sorted(await rows(client, AuditEntry, AuditEntry.action.like("broadcast%")), key=lambda a: a.id)
    assert [(a.actor, a.action, a.target) for a in audited] == [
        ("musa", "broadcast", f"broadcast {waiting.id}"), ("awa", "broadcast_approve", f"broadcast {waiting.id}"),
        ("musa", "broadcast", f"broadcast {second}"), ("musa", "broadcast_cancel", f"broadcast {second}")]


async def test_a_small_broadcast_leaves_at_once_after_alerts_and_a_viewer_cannot_send(db_url, clock) -> None:
    provider = ScriptedProvider()
    settings = make_settings(db_url, callbacks={"token": "s3cret"}, api={"token": "api-token"},
                             broadcast={"approval_threshold": 3})
    async with running_gateway(settings, clock, provider=provider) as client:
        runtime = client.server.app[RUNTIME]
        runtime.sender.request_stop()  # the test sends each pass itself, to see the order of one pass
        await asyncio.sleep(0.1)
        csrf = await as_user(client, "zara", role="viewer")
        await post(client, "/dashboard/broadcasts/preview", form(csrf, "NE006", "committees", fr="x", dje="y"), 403)

        csrf = await as_user(client, "musa")
        await post(client, "/dashboard/broadcasts", form(csrf, "NE006", "committees", fr=TEXTS["fr"],
                                                         dje=TEXTS["dje"]), 303)
        await post_sms(client, TERA, "ATTAQUE TERA 3", "b-1")  # Téra's committee is alerted (Tillabéri)
        await scored(client, lambda a: "NE006011005" in a)
        queued = await rows(client, Outbox, Outbox.status == "queued")
        assert {o.priority for o in queued} >= {PRIORITY_ALERT, PRIORITY_BROADCAST}
        await runtime.sender.send_due()
        order = [text for text, _ in provider.calls]
        alerts = [i for i, (text, to) in enumerate(provider.calls) if "+22796000204" in to and text not in TEXTS.values()]
        broadcast = [i for i, text in enumerate(order) if text in TEXTS.values()]
        assert alerts and broadcast and max(alerts) < min(broadcast), order
        assert sorted((r, t) for r, t in provider.delivered if t in TEXTS.values()) == sorted(
            (phone, TEXTS[lang]) for phone, lang in TILLABERI_COMMITTEES.items())
        [row] = await rows(client, Broadcast)
        assert (row.status, row.approved_by) == ("queued", None)


async def test_spend_per_provider_the_budget_warns_then_stops_broadcasts_never_alerts(db_url, clock) -> None:
    async with FakeProviderServer() as fake:
        sender = AfricasTalkingSender(FAKE_USERNAME, FAKE_API_KEY, fake.base_url)
        sender.name = "africastalking"
        settings = make_settings(db_url, callbacks={"token": "s3cret"}, api={"token": "api-token"},
                                 costs={"monthly_budget": 110.0, "africastalking": 10.0}, metrics={"refresh_seconds": 0.05})
        async with running_gateway(settings, clock, provider=sender) as client:
            csrf = await as_user(client, "musa")
            to_tillaberi = form(csrf, "NE006", "focal_points", fr=TEXTS["fr"], dje=TEXTS["dje"])
            await post(client, "/dashboard/broadcasts", to_tillaberi, 303)
            await settle(client)
            # the cost Africa's Talking reported (XOF 25 a segment), not the configured price (10)
            assert [(s.provider, s.amount, s.sms) for s in await rows(client, SmsSpend)] == [("africastalking", 50.0, 2)]
            assert "budget-warning" not in await (await client.get("/dashboard")).text()  # 45%
            # A handset's receipt for one of its SMS: the broadcast's page counts it delivered.
            [first] = await rows(client, Broadcast)
            one = (await rows(client, Outbox, Outbox.broadcast_id == first.id))[0]
            report = {"id": one.provider_message_id, "status": "Success", "phoneNumber": one.recipient}
            assert (await client.post("/callbacks/at/delivery?token=s3cret", data=report)).status == 200
            detail = await (await client.get(f"/dashboard/broadcasts/{first.id}")).text()
            assert re.search(r'data-state="delivered"><td>[^<]+</td><td>1</td>', detail)
            assert re.search(r'data-state="sent"><td>[^<]+</td><td>1</td>', detail) and "50 XOF" in detail

            await post(client, "/dashboard/broadcasts", to_tillaberi, 303)
            await settle(client)
            situation = await (await client.get("/dashboard")).text()
            assert 'class="budget-warning"' in situation and "91 %" in situation  # 100 of 110
            spend = await (await client.get("/dashboard/spend")).text()
            assert re.search(r'data-provider="africastalking"><td>2026-11-24</td><td>africastalking</td><td>4</td>', spend)
            refused = await post(client, "/dashboard/broadcasts", to_tillaberi, 409)
            assert "would take the month&#x27;s SMS spend" in refused
            await asyncio.sleep(0.2)
            metrics = await (await client.get("/metrics", headers={"Authorization": "Bearer api-token"})).text()
            assert "ewg_sms_budget_warning 1.0" in metrics
            assert 'ewg_sms_spend_today{provider="africastalking"} 100.0' in metrics
            assert "+227" not in metrics

            # An alert still leaves past the budget, and its cost counts: broadcasts are stopped.
            await post_sms(client, TERA, "ATTAQUE TERA 3", "b-1")
            await scored(client, lambda a: "NE006011005" in a)
            await settle(client)
            assert [m for m in await fake.messages() if m["to"] == "+22796000204" and m["message"] != TEXTS["fr"]]
            situation = await (await client.get("/dashboard")).text()
            assert "Les diffusions sont arrêtées" in situation
            one = form(csrf, "NE006011005", "committees", fr=TEXTS["fr"])
            assert "monthly SMS budget is spent" in await post(client, "/dashboard/broadcasts", one, 409)
            assert len(await rows(client, Broadcast)) == 2


async def test_two_approvals_at_once_share_the_budget_and_it_stops_a_broadcast_while_it_leaves(db_url, clock) -> None:
    """The budget (60) holds one broadcast to Maradi's five committee members (estimated at 10 a segment: 50),
    not two, even approved at the same moment. Africa's Talking then reports 25 a segment: the sender, one
    SMS a pass, stops the rest once the month's spend reaches the budget; an alert still leaves."""
    async with FakeProviderServer() as fake:
        sender = AfricasTalkingSender(FAKE_USERNAME, FAKE_API_KEY, fake.base_url)
        sender.name = "africastalking"
        settings = make_settings(db_url, callbacks={"token": "s3cret"}, api={"token": "api-token"},
                                 broadcast={"approval_threshold": 3}, outbox={"batch_size": 1},
                                 costs={"monthly_budget": 60.0, "africastalking": 10.0})
        async with running_gateway(settings, clock, provider=sender) as client:
            csrf = await as_user(client, "musa")
            to_maradi = form(csrf, "NE004", "committees", fr=TEXTS["fr"], ha=TEXTS["ha"])
            ids = [int((await post(client, "/dashboard/broadcasts", to_maradi, 303)).split("/")[-1].split("?")[0])
                   for _ in range(2)]
            csrf = await as_user(client, "awa")
            answers = await asyncio.gather(*(client.post(f"/dashboard/broadcasts/{i}/approve", data={"csrf": csrf},
                                                         allow_redirects=False) for i in ids))
            assert sorted(answer.status for answer in answers) == [303, 409], [a.status for a in answers]
            [refused] = [await answer.text() for answer in answers if answer.status == 409]
            assert "over the budget of 60 XOF" in refused
            [queued] = [b for b in await rows(client, Broadcast) if b.status == "queued"]
            await settle(client)

            sent = await rows(client, Outbox, Outbox.broadcast_id == queued.id)
            assert sorted(o.status for o in sent) == ["sent", "sent", "sent", "stopped", "stopped"]  # 25, 50, 75
            assert {o.last_error for o in sent if o.status == "stopped"} == {"stopped: monthly budget reached"}
            assert [(s.amount, s.sms) for s in await rows(client, SmsSpend)] == [(75.0, 3)]
            detail = await (await client.get(f"/dashboard/broadcasts/{queued.id}")).text()
            assert re.search(r'data-state="stopped"><td>arrêté : budget mensuel atteint</td><td>2</td>', detail)
            assert re.search(r'data-state="sent"><td>[^<]+</td><td>3</td>', detail)
            metrics = await (await client.get("/metrics", headers={"Authorization": "Bearer api-token"})).text()
            assert "ewg_sms_budget_stopped_total 2.0" in metrics
            # the spend page says which days it counts
            assert "<th>Jour (UTC)</th>" in await (await client.get("/dashboard/spend")).text()

            await post_sms(client, TERA, "ATTAQUE TERA 3", "b-2")
            await scored(client, lambda a: "NE006011005" in a)
            await settle(client)
            assert [m for m in await fake.messages() if m["to"] == "+22796000204"]
            assert not await rows(client, Outbox, Outbox.kind != "broadcast", Outbox.status == "stopped")


async def test_senders_at_once_count_each_others_broadcast_sms_against_the_budget(db_url, clock) -> None:
    """Passes of the sender at once (replicas, or a pass racing the loop), one SMS each: each counts
    the broadcast SMS the others hold and have not recorded yet, at what the provider charged this
    month, so the budget (60) stops the broadcast where one pass at a time would."""
    async with FakeProviderServer() as fake:
        sender = AfricasTalkingSender(FAKE_USERNAME, FAKE_API_KEY, fake.base_url)
        sender.name = "africastalking"
        settings = make_settings(db_url, callbacks={"token": "s3cret"}, api={"token": "api-token"},
                                 outbox={"batch_size": 1}, costs={"monthly_budget": 60.0, "africastalking": 10.0})
        async with running_gateway(settings, clock, provider=sender) as client:
            outbox = client.app[RUNTIME].sender
            outbox.request_stop()  # this test runs the passes itself
            csrf = await as_user(client, "musa")
            await post(client, "/dashboard/broadcasts", form(csrf, "NE004", "committees", fr=TEXTS["fr"],
                                                             ha=TEXTS["ha"]), 303)  # estimated at 50
            assert [await outbox.send_due(), await outbox.send_due()] == [1, 1]  # charged 25 each: 50 spent
            await asyncio.gather(*(outbox.send_due() for _ in range(3)))
            sent = await rows(client, Outbox, Outbox.kind == "broadcast")
            assert sorted(o.status for o in sent) == ["sent", "sent", "sent", "stopped", "stopped"]
            assert [(s.amount, s.sms) for s in await rows(client, SmsSpend)] == [(75.0, 3)]


async def test_a_bad_broadcast_form_is_a_400_naming_the_field(two_operators) -> None:
    client = two_operators
    csrf = await as_user(client, "musa")
    for data, reason in [
        (form(csrf, "", "committees", fr="x"), "field 'area' is required"),
        (form(csrf, "Atlantis", "committees", fr="x"), "unknown area 'Atlantis'"),
        (form(csrf, "NE004", "everyone", fr="x"), "field 'audience' must be one of focal_points, committees"),
        (form(csrf, "NE004", "committees", fr="a\x00b"), "field 'text_fr' must be at most 1000 printable"),
        (form(csrf, "NE004", "committees", ha="x" * 1001), "field 'text_ha' must be at most 1000 printable"),
    ]:
        for path in ("/dashboard/broadcasts/preview", "/dashboard/broadcasts"):
            assert reason in await post(client, path, data, 400)
    # ê is not GSM-7: 400 of them are 6 UCS-2 segments
    too_long = await post(client, "/dashboard/broadcasts", form(csrf, "NE006", "committees", fr="ê" * 400, dje="x"), 409)
    assert "the fr text takes 6 SMS segments; at most 3" in too_long
    await post(client, "/dashboard/broadcasts/999/approve", {"csrf": csrf}, 404)
    await post(client, "/dashboard/broadcasts/preview", {"area": "NE004", "audience": "committees"}, 403)  # no CSRF
    assert await rows(client, Broadcast) == []
