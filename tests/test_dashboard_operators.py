"""What operators do from the dashboard, on a real gateway over HTTP: scoped users see and act on their
area only (pages, exports, alert by URL), alerts are acknowledged, noted, resolved with an outcome and
silenced through the same records and rules as SMS and rule files, people are approved (with a welcome
SMS in their language), blocked, edited and moved, and every action leaves an append-only audit row."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from gateway.dashboard import audit
from gateway.dashboard.scope import Scope
from gateway.dashboard.users import add_user
from gateway.runtime import RUNTIME
from gateway.storage.models import (
    AlertAction,
    AlertSilence,
    AuditEntry,
    CommitteeMember,
    Notification,
    Outbox,
    Reporter,
)
from tests.support.dashboard import (
    GABI_1,
    TERA,
    log_in,
    post_sms,
    scored,
    seed_traffic,
)
from tests.support.gateway import make_settings, settle

AYEROU = "+22790000105"  # demo focal point of Ayerou (Tillabéri), who reports in Téra below
NEWCOMER = "+22790000177"
PASSWORD = "sahel-operator-2026"


@pytest.fixture
def settings(db_url):
    """The gateway of every test here; a broadcast to more than three people waits for a second operator."""
    return make_settings(db_url, callbacks={"token": "s3cret"}, api={"token": "api-token"},
                         broadcast={"approval_threshold": 3})


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]{64})"', html).group(1)


async def page(client, path: str, status: int = 200) -> str:
    response = await client.get(path, allow_redirects=False)
    assert response.status == status, (path, response.status, await response.text())
    return await response.text()


async def add_person(client, name: str, role: str, scope: tuple[str, ...] | None = None) -> None:
    async with client.server.app[RUNTIME].sessions() as session, session.begin():
        await add_user(session, name, PASSWORD, role, scope=Scope(scope))


async def as_user(client, name: str, role: str, scope: tuple[str, ...] | None = None) -> str:
    """Logs in as a new user of this role and scope; returns a CSRF token of the session."""
    await add_person(client, name, role, scope)
    await log_in(client, name, PASSWORD)
    return csrf_of(await page(client, "/dashboard"))


async def post(client, path: str, data: dict, status: int = 303) -> str:
    response = await client.post(path, data=data, allow_redirects=False)
    assert response.status == status, (path, response.status, await response.text())
    return response.headers.get("Location", "") if status == 303 else await response.text()


async def rows(client, model, *where) -> list:
    async with client.server.app[RUNTIME].sessions() as session:
        return list((await session.execute(select(model).where(*where))).scalars())


async def tillaberi_alert(client) -> dict:
    """An attack reported in Téra (Tillabéri region NE006): a level-1 alert to Téra's committee."""
    await post_sms(client, TERA, "ATTAQUE TERA 3", "t-1")
    return (await scored(client, lambda a: "NE006011005" in a))["NE006011005"]


# --- scope ---------------------------------------------------------------------------------------

async def test_a_viewer_of_maradi_sees_and_exports_maradi_only(gateway, clock) -> None:
    alerts = await seed_traffic(gateway, clock)
    tera = await tillaberi_alert(gateway)
    await as_user(gateway, "zara", "viewer", ("NE004",))

    situation = await page(gateway, "/dashboard")
    assert alerts["NE004006003"]["code"] in situation and tera["code"] not in situation
    assert 'data-pcode="NE006011005"' not in situation  # the map too
    assert alerts["NE004006003"]["code"] in await page(gateway, f"/dashboard/alerts/{alerts['NE004006003']['code']}")
    assert "no alert" in await page(gateway, f"/dashboard/alerts/{tera['code']}", 404)
    assert "Téra" not in await page(gateway, "/dashboard/focal-points?days=1")

    response = await gateway.get("/dashboard/export/alerts.csv")
    exported = list(csv.DictReader(io.StringIO(await response.text())))
    assert {row["commune"] for row in exported} == {"NE004006003", "NE004005003"}
    reports = list(csv.DictReader(io.StringIO(await (await gateway.get("/dashboard/export/reports.csv")).text())))
    assert reports and all(row["commune"].startswith("NE004") for row in reports)
    # a viewer reads; acting is refused
    csrf = csrf_of(situation)
    await post(gateway, f"/dashboard/alerts/{alerts['NE004006003']['code']}/note", {"csrf": csrf, "note": "x"}, 403)


async def test_an_operator_cannot_act_on_another_area(gateway, clock) -> None:
    await seed_traffic(gateway, clock)
    tera = await tillaberi_alert(gateway)
    csrf = await as_user(gateway, "musa", "operator", ("NE004",))
    for verb, data in (("acknowledge", {}), ("note", {"note": "x"}),
                       ("resolve", {"category": "false_alarm", "note": "x"})):
        await post(gateway, f"/dashboard/alerts/{tera['code']}/{verb}", {"csrf": csrf, **data}, 404)
    [tera_point] = await rows(gateway, Reporter, Reporter.phone == TERA)
    await post(gateway, f"/dashboard/people/{tera_point.id}/block", {"csrf": csrf}, 404)
    assert (await rows(gateway, Reporter, Reporter.phone == TERA))[0].status == "approved"
    assert await rows(gateway, AlertAction) == []


# --- alerts --------------------------------------------------------------------------------------

async def test_silence_from_the_alert_page_withholds_a_matching_report(gateway, clock) -> None:
    tera = await tillaberi_alert(gateway)
    await settle(gateway)
    csrf = await as_user(gateway, "musa", "operator", ("NE006",))
    html = await page(gateway, f"/dashboard/alerts/{tera['code']}")
    assert 'id="silence"' in html
    location = await post(gateway, f"/dashboard/alerts/{tera['code']}/silence", {
        "csrf": csrf, "area": "NE006011005", "incident": "attack", "hours": "6", "reason": "army operation"})
    assert location.endswith("done=silenced")

    await post_sms(gateway, AYEROU, "ATTAQUE TERA 12", "t-2")  # a second reporter, count 12: level 2
    await scored(gateway, lambda a: a.get("NE006011005", {}).get("level") == 2)
    decisions = await rows(gateway, Notification, Notification.alert_id == tera["id"], Notification.level == 2)
    assert decisions and all(n.decision == "withheld" and n.reason.startswith("silenced until") for n in decisions)
    assert "army operation" in decisions[0].reason
    timeline = await page(gateway, f"/dashboard/alerts/{tera['code']}")
    assert "army operation" in timeline and "silenced until" in timeline

    # it expires by itself: seven hours on, the rules hold no stored silence and the page lists none
    clock.advance(hours=7)
    assert "army operation" not in await page(gateway, "/dashboard/silences")
    await post_sms(gateway, GABI_1, "ATTAQUE TERA 20", "t-3")
    await settle(gateway)
    later = await rows(gateway, Notification, Notification.alert_id == tera["id"],
                       Notification.created_at >= clock.now)
    assert later and not any(n.reason.startswith("silenced") for n in later)


async def test_silence_can_be_lifted_and_is_checked(gateway, clock) -> None:
    tera = await tillaberi_alert(gateway)
    csrf = await as_user(gateway, "musa", "operator")
    base = f"/dashboard/alerts/{tera['code']}/silence"
    good = {"csrf": csrf, "area": "NE006", "incident": "*", "until": (clock.now + timedelta(days=1))
            .strftime("%Y-%m-%dT%H:%M"), "reason": "festival"}
    for change, field in (({"until": "2020-01-01T00:00"}, "until"), ({"until": "soon"}, "until"),
                          ({"until": (clock.now + timedelta(days=40)).strftime("%Y-%m-%dT%H:%M")}, "until"),
                          ({"area": "NE004"}, "area"), ({"incident": "arson"}, "incident"), ({"reason": ""}, "reason")):
        assert f"field '{field}'" in await post(gateway, base, {**good, **change}, 400)
    await post(gateway, base, good)
    [silence] = await rows(gateway, AlertSilence)
    assert (silence.area_pcode, silence.incident, silence.created_by) == ("NE006", None, "musa")
    assert "festival" in await page(gateway, "/dashboard/silences")
    await post(gateway, f"/dashboard/silences/{silence.id}/lift", {"csrf": csrf})
    assert "festival" not in await page(gateway, "/dashboard/silences")
    await post(gateway, f"/dashboard/silences/{silence.id}/lift", {"csrf": csrf}, 404)


async def test_acknowledge_note_and_resolve_with_an_outcome(gateway, clock) -> None:
    tera = await tillaberi_alert(gateway)
    await settle(gateway)
    csrf = await as_user(gateway, "musa", "operator")
    code = tera["code"]
    await post(gateway, f"/dashboard/alerts/{code}/acknowledge", {"csrf": csrf})
    assert "cannot be acknowledged" in await post(gateway, f"/dashboard/alerts/{code}/acknowledge", {"csrf": csrf}, 409)
    await post(gateway, f"/dashboard/alerts/{code}/note", {"csrf": csrf, "note": "gendarmes on their way"})
    assert "field 'category'" in await post(gateway, f"/dashboard/alerts/{code}/resolve",
                                             {"csrf": csrf, "category": "", "note": "x"}, 400)
    assert "field 'note'" in await post(gateway, f"/dashboard/alerts/{code}/resolve",
                                         {"csrf": csrf, "category": "security_forces", "note": " "}, 400)
    clock.advance(minutes=90)
    await post(gateway, f"/dashboard/alerts/{code}/resolve",
               {"csrf": csrf, "category": "security_forces", "note": "patrol sent, attackers fled"})

    api = {a["code"]: a for a in (await (await gateway.get(
        "/api/alerts", headers={"Authorization": "Bearer api-token"})).json())["alerts"]}
    assert api[code]["status"] == "resolved"
    assert api[code]["outcome"]["category"] == "security_forces"
    assert api[code]["outcome"]["note"] == "patrol sent, attackers fled"
    html = await page(gateway, f"/dashboard/alerts/{code}")
    assert "patrol sent, attackers fled" in html and 'id="outcome"' in html and "gendarmes on their way" in html
    assert "Comite Tera" in html  # the timeline names who was notified, never a number
    exported = list(csv.DictReader(io.StringIO(await (await gateway.get("/dashboard/export/alerts.csv")).text())))
    assert [r["outcome_category"] for r in exported if r["code"] == code] == ["security_forces"]
    # the committee was told who took charge, then that it was closed, as by SMS and the CLI
    [chair] = await rows(gateway, CommitteeMember, CommitteeMember.name == "Comite Tera")
    notices = await rows(gateway, Outbox, Outbox.recipient == chair.phone, Outbox.kind == "ack_notice")
    assert len(notices) == 2 and "musa" in notices[0].body


# --- people --------------------------------------------------------------------------------------

async def test_approving_a_registration_sends_the_welcome_in_hausa(gateway, clock) -> None:
    await post_sms(gateway, NEWCOMER, "HARSHE ha", "p-1")
    await post_sms(gateway, NEWCOMER, "RIJISTA GABI Amina", "p-2")
    await settle(gateway)
    [person] = await rows(gateway, Reporter, Reporter.phone == NEWCOMER)
    assert (person.status, person.lang) == ("pending", "ha")
    csrf = await as_user(gateway, "musa", "operator", ("NE004",))
    listing = await page(gateway, "/dashboard/people?status=pending")
    assert f'data-id="{person.id}"' in listing and NEWCOMER not in listing and "+227*****177" in listing
    await post(gateway, f"/dashboard/people/{person.id}/approve", {"csrf": csrf})
    await post(gateway, f"/dashboard/people/{person.id}/approve", {"csrf": csrf})  # twice: one welcome
    await settle(gateway)
    welcome = [o for o in await rows(gateway, Outbox, Outbox.recipient == NEWCOMER) if o.dedup_key.startswith("welcome")]
    assert len(welcome) == 1 and welcome[0].status == "logged"
    assert welcome[0].body.startswith("Maraba!") and "Gabi" in welcome[0].body
    assert (await rows(gateway, Reporter, Reporter.phone == NEWCOMER))[0].status == "approved"


async def test_edit_move_block_and_reveal(gateway, clock) -> None:
    [person] = await rows(gateway, Reporter, Reporter.phone == GABI_1)
    csrf = await as_user(gateway, "musa", "operator", ("NE004",))
    assert "field 'commune'" in await post(gateway, f"/dashboard/people/{person.id}/edit",
                                           {"csrf": csrf, "name": "A", "lang": "fr", "commune": "Tera"}, 400)
    assert "field 'commune'" in await post(gateway, f"/dashboard/people/{person.id}/edit",
                                           {"csrf": csrf, "name": "A", "lang": "fr", "commune": "Gabii"}, 400)
    await post(gateway, f"/dashboard/people/{person.id}/edit",
               {"csrf": csrf, "name": "Point focal Gabi", "lang": "fr", "commune": "Guidan Sori"})
    [moved] = await rows(gateway, Reporter, Reporter.id == person.id)
    assert (moved.commune_pcode, moved.lang) == ("NE004005003", "fr")
    # an operator cannot reveal a number; an admin can, and the page shows it once
    await post(gateway, f"/dashboard/people/{person.id}/reveal", {"csrf": csrf}, 403)
    csrf = await as_user(gateway, "awa", "admin")
    html = await page(gateway, f"/dashboard/people/{person.id}")
    assert GABI_1 not in html
    shown = await post(gateway, f"/dashboard/people/{person.id}/reveal", {"csrf": csrf}, 200)
    assert f'<b id="revealed">{GABI_1}</b>' in shown
    await post(gateway, f"/dashboard/people/{person.id}/block", {"csrf": csrf})
    assert (await rows(gateway, Reporter, Reporter.id == person.id))[0].status == "blocked"
    [reveal] = await rows(gateway, AuditEntry, AuditEntry.action == "reveal")
    assert (reveal.actor, reveal.target) == ("awa", f"reporter {person.id}") and GABI_1 not in str(reveal.detail)


async def test_committee_members_added_moved_and_retired(gateway, clock) -> None:
    csrf = await as_user(gateway, "musa", "operator", ("NE004",))
    await post(gateway, "/dashboard/members", {"csrf": csrf, "phone": "96 00 07 77", "name": "Maire adjoint",
                                               "area": "Gabi", "role": "member", "lang": "ha"})
    [member] = await rows(gateway, CommitteeMember, CommitteeMember.name == "Maire adjoint")
    assert (member.phone, member.area_pcode, member.active) == ("+22796000777", "NE004006003", True)
    assert "field 'phone'" in await post(gateway, "/dashboard/members", {
        "csrf": csrf, "phone": "12", "area": "Gabi", "role": "member", "lang": "fr"}, 400)
    assert "outside your scope" in await post(gateway, "/dashboard/members", {
        "csrf": csrf, "phone": "96000778", "area": "Tera", "role": "member", "lang": "fr"}, 400)
    await post(gateway, f"/dashboard/members/{member.id}/move", {"csrf": csrf, "area": "NE004005003"})
    active = await rows(gateway, CommitteeMember, CommitteeMember.phone == "+22796000777",
                        CommitteeMember.active.is_(True))
    assert [m.area_pcode for m in active] == ["NE004005003"]
    await post(gateway, f"/dashboard/members/{active[0].id}/retire", {"csrf": csrf})
    assert await rows(gateway, CommitteeMember, CommitteeMember.phone == "+22796000777",
                      CommitteeMember.active.is_(True)) == []


# --- audit trail ---------------------------------------------------------------------------------

async def test_every_action_is_in_the_audit_trail_and_rows_cannot_change(gateway, clock) -> None:
    alerts = await seed_traffic(gateway, clock)
    tera = await tillaberi_alert(gateway)
    await post_sms(gateway, NEWCOMER, "INSCRIPTION GABI", "a-1")
    await settle(gateway)
    [newcomer] = await rows(gateway, Reporter, Reporter.phone == NEWCOMER)
    [gabi] = await rows(gateway, Reporter, Reporter.phone == GABI_1)
    response = await gateway.post("/dashboard/login", data={"user": "awa", "password": "wrong-password"})
    assert response.status == 401
    csrf = await as_user(gateway, "awa", "admin")
    code, other = alerts["NE004006003"]["code"], tera["code"]
    await post(gateway, f"/dashboard/people/{newcomer.id}/approve", {"csrf": csrf})
    await post(gateway, f"/dashboard/people/{gabi.id}/reveal", {"csrf": csrf}, 200)
    await post(gateway, f"/dashboard/people/{gabi.id}/edit", {"csrf": csrf, "name": "", "lang": "ha",
                                                             "commune": "NE004005003"})
    await post(gateway, f"/dashboard/people/{gabi.id}/block", {"csrf": csrf})
    await post(gateway, f"/dashboard/alerts/{code}/acknowledge", {"csrf": csrf})
    await post(gateway, f"/dashboard/alerts/{code}/note", {"csrf": csrf, "note": "called the mayor"})
    await post(gateway, f"/dashboard/alerts/{other}/silence", {"csrf": csrf, "area": "NE006011005",
                                                              "incident": "attack", "hours": "2", "reason": "r"})
    [silence] = await rows(gateway, AlertSilence)
    await post(gateway, f"/dashboard/silences/{silence.id}/lift", {"csrf": csrf})
    await post(gateway, f"/dashboard/alerts/{code}/resolve", {"csrf": csrf, "category": "local_mediation",
                                                             "note": "chiefs met"})
    await post(gateway, "/dashboard/members", {"csrf": csrf, "phone": "96000778", "area": "Gabi",
                                               "role": "member", "lang": "fr"})
    [member] = await rows(gateway, CommitteeMember, CommitteeMember.phone == "+22796000778")
    await post(gateway, f"/dashboard/members/{member.id}/retire", {"csrf": csrf})
    made = await post(gateway, "/dashboard/tokens", {"csrf": csrf, "name": "ocha", "role": "viewer",
                                                     "scope": "Maradi", "days": "30"}, 200)
    assert re.search(r'id="new-token">ewg_[A-Za-z0-9_-]{40,}<', made)
    await post(gateway, "/dashboard/tokens/revoke", {"csrf": csrf, "name": "ocha"})
    exported = await gateway.get("/dashboard/export/alerts.csv")
    assert exported.status == 200
    # who took the alert in charge: the one owner of that name (exports.acknowledgers), never a number
    assert [r["acknowledged_by"] for r in csv.DictReader(io.StringIO(await exported.text())) if r["code"] == code] == ["awa"]
    review = await page(gateway, "/dashboard/review")
    message_id = re.search(r'data-message="(\d+)"', review).group(1)
    await post(gateway, f"/dashboard/review/{message_id}", {"csrf": csrf, "label": "noise"})
    # a broadcast to Maradi's five committee members waits for a second operator; another one is cancelled
    written = {"csrf": csrf, "area": "NE004", "audience": "committees", "text_fr": "Reunion samedi.",
               "text_ha": "Taro ranar Asabar."}
    approved = int((await post(gateway, "/dashboard/broadcasts", written)).split("/")[-1].split("?")[0])
    cancelled = int((await post(gateway, "/dashboard/broadcasts", written)).split("/")[-1].split("?")[0])
    await post(gateway, f"/dashboard/broadcasts/{cancelled}/cancel", {"csrf": csrf})
    await post(gateway, "/dashboard/logout", {"csrf": csrf})
    csrf = await as_user(gateway, "idi", "operator")
    await post(gateway, f"/dashboard/broadcasts/{approved}/approve", {"csrf": csrf})
    await post(gateway, "/dashboard/logout", {"csrf": csrf})

    expected = {"login_refused", "login", "approve", "reveal", "edit", "move", "block", "acknowledge", "note",
                "silence", "silence_lift", "resolve", "member_add", "member_retire", "token_add", "token_revoke",
                "export", "label", "logout", "broadcast", "broadcast_approve", "broadcast_cancel"}
    trail = await rows(gateway, AuditEntry)
    assert {r.action for r in trail} == expected
    assert all(r.address == "127.0.0.1" for r in trail)
    assert {r.actor for r in trail} == {"awa", "idi", "?"}  # the refused login named no existing user
    assert sorted((r.actor, r.action, r.target) for r in trail if r.action.startswith("broadcast")) == [
        ("awa", "broadcast", f"broadcast {approved}"), ("awa", "broadcast", f"broadcast {cancelled}"),
        ("awa", "broadcast_cancel", f"broadcast {cancelled}"), ("idi", "broadcast_approve", f"broadcast {approved}")]
    for r in trail:
        assert NEWCOMER not in f"{r.target} {r.detail}" and GABI_1 not in f"{r.target} {r.detail}"

    # the admin page lists them, with filters; a non-admin is refused
    await log_in(gateway, "awa", PASSWORD)
    listing = await page(gateway, "/dashboard/audit")
    assert {m for m in re.findall(r'data-action="([a-z_]+)"', listing)} == expected | {"login"}
    assert re.findall(r'data-action="([a-z_]+)"', await page(gateway, "/dashboard/audit?action=reveal")) == ["reveal"]
    assert "resolve" in re.findall(r'data-action="([a-z_]+)"', await page(gateway, f"/dashboard/audit?target={code}"))
    assert "parameter 'action'" in await page(gateway, "/dashboard/audit?action=bogus", 400)
    assert "parameter 'since'" in await page(gateway, "/dashboard/audit?since=yesterday", 400)
    # the date filters are days of the deployment's zone (Niamey, UTC+1), as the times listed: 23:30 UTC
    # on the 20th is the 21st there
    async with gateway.server.app[RUNTIME].sessions() as session, session.begin():
        await audit.record(session, datetime(2026, 11, 20, 23, 30, tzinfo=UTC), "clerk", "export", "reports.csv")
    on_the_21st = await page(gateway, "/dashboard/audit?actor=clerk&since=2026-11-21")
    assert re.findall(r'data-action="([a-z_]+)"', on_the_21st) == ["export"] and "2026-11-21 00:30 UTC+1" in on_the_21st
    assert re.search(r'\(UTC\+1\) <input type="date" name="since" value="2026-11-21">', on_the_21st)
    assert re.findall(r'data-action="([a-z_]+)"', await page(gateway, "/dashboard/audit?actor=clerk&until=2026-11-20")) == []
    assert re.findall(r'data-action="([a-z_]+)"', await page(gateway, "/dashboard/audit?actor=clerk&until=2026-11-21")) == [
        "export"]
    await as_user(gateway, "musa", "operator")
    await page(gateway, "/dashboard/audit", 403)
    await page(gateway, "/dashboard/tokens", 403)

    async with gateway.server.app[RUNTIME].sessions() as session:
        for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
            with pytest.raises(Exception, match="append-only"):
                async with session.begin():
                    await session.execute(text(statement))
