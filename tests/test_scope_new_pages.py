"""A user scoped to Maradi (NE004), over real HTTP, on the newer pages: response times, broadcasts
(list, page, approve, cancel, send), the partner gateways' warnings on the situation page, who was
reached on an alert's page, the delivery page and the CAP feed of a token of Maradi. Tillabéri's
(NE006) data stays out of each, and an unscoped admin sees it on the same pages, so that each check
can fail."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from gateway.dashboard.scope import Scope
from gateway.dashboard.tokens import add_token
from gateway.dashboard.users import add_user
from gateway.feeds.cap import CapAlert, PartnerMessage, partner_cap_xml
from gateway.kernel.taxonomy import load_taxonomy
from gateway.runtime import RUNTIME
from gateway.storage.models import Broadcast, Outbox
from tests.support.dashboard import log_in, post_sms, scored, seed_traffic
from tests.support.gateway import make_settings, running_gateway, settle

PASSWORD = "sahel-operator-2026"
FROM_MALI = "mali-to-niger-token-0123456789"
MALI = {"name": "mali", "url": "http://127.0.0.1:9", "token": "niger-to-mali-token-0123456789",
        "inbound_token": FROM_MALI, "areas": ["ML"]}
TERA, TERA_COMMUNE = "+22790000104", "NE006011005"
AYEROU, GABI = "NE006002001", "NE004006003"  # Ayerou (Tillabéri) and Gabi (Maradi)
TILLABERI_MEMBERS = ("*****204", "*****205")  # the masked numbers of Tillabéri's demo committee


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]{64})"', html).group(1)


async def as_user(client, name: str, role: str, scope: tuple[str, ...] | None = None) -> str:
    async with client.server.app[RUNTIME].sessions() as session, session.begin():
        await add_user(session, name, PASSWORD, role, scope=Scope(scope))
    await log_in(client, name, PASSWORD)
    return csrf_of(await page(client, "/dashboard"))


async def page(client, path: str, status: int = 200) -> str:
    response = await client.get(path, allow_redirects=False)
    assert response.status == status, (path, response.status, await response.text())
    return await response.text()


async def post(client, path: str, data: dict, status: int) -> str:
    response = await client.post(path, data=data, allow_redirects=False)
    assert response.status == status, (path, response.status, await response.text())
    return await response.text()


def partner_cap(n: int, code: str, communes: dict[str, int]) -> bytes:
    now = datetime.now(UTC).replace(microsecond=0)
    alert = CapAlert(n, code, "attack", 1, "open", 0, now, now, "ML070104", "Ouattagouna", 15.2, 0.9, 1, None)
    return partner_cap_xml(alert, PartnerMessage(1, "Alert", 1, communes, now, ()), load_taxonomy(), "ewg@mali.example")


@pytest.fixture
async def both_regions(db_url, clock):
    """Alerts in Maradi and in Téra (Tillabéri), sent; a partner's warning naming Ayerou and Gabi,
    another naming Ayerou only; a broadcast to Tillabéri's committees waiting for approval."""
    settings = make_settings(db_url, callbacks={"token": "s3cret"}, api={"token": "api-token"},
                             spillover={"partners": [MALI]}, broadcast={"approval_threshold": 1})
    async with running_gateway(settings, clock) as client:
        client.alerts = await seed_traffic(client, clock)
        await post_sms(client, TERA, "ATTAQUE TERA 3", "t-1")
        client.alerts = await scored(client, lambda a: TERA_COMMUNE in a)
        for n, code, communes in [(7, "PW7A", {AYEROU: 1, GABI: 2}), (8, "PW8B", {AYEROU: 1})]:
            response = await client.post("/api/cap/inbound", data=partner_cap(n, code, communes),
                                         headers={"Authorization": f"Bearer {FROM_MALI}"})
            assert response.status == 200, await response.text()
        await settle(client)
        csrf = await as_user(client, "chief", "admin")
        await post(client, "/dashboard/broadcasts", {"csrf": csrf, "area": "NE006", "audience": "committees",
                                                     "text_fr": "Reunion samedi.", "text_dje": "Marga hawru."}, 303)
        async with client.server.app[RUNTIME].sessions() as session:
            client.broadcast = (await session.execute(select(Broadcast))).scalar_one()
            tera_alert_id = (await session.execute(select(Outbox.alert_id).where(
                Outbox.alert_id.is_not(None), Outbox.recipient == "+22796000204"))).scalars().first()
        assert tera_alert_id is not None
        async with client.server.app[RUNTIME].sessions() as session, session.begin():
            await session.execute(update(Outbox).where(Outbox.alert_id == tera_alert_id).values(
                status="failed", last_error="refused by the network"))
        yield client


async def test_a_viewer_of_maradi_sees_none_of_tillaberi_on_the_newer_pages(both_regions) -> None:
    client, tera = both_regions, both_regions.alerts[TERA_COMMUNE]
    gabi = client.alerts[GABI]
    broadcast = f"/dashboard/broadcasts/{client.broadcast.id}"
    admin = {path: await page(client, path) for path in
             ["/dashboard/response-times?days=90", "/dashboard/broadcasts", broadcast, "/dashboard?lang=fr",
              f"/dashboard/alerts/{tera['code']}", "/dashboard/delivery"]}
    assert "Téra" in admin["/dashboard/response-times?days=90"] and broadcast in admin["/dashboard/broadcasts"]
    assert "Ayerou" in admin["/dashboard?lang=fr"] and "PW8B" in admin["/dashboard?lang=fr"]
    assert TILLABERI_MEMBERS[0] in admin[f"/dashboard/alerts/{tera['code']}"]  # Téra's member, reached
    assert "refused by the network" in admin["/dashboard/delivery"]

    await as_user(client, "zara", "viewer", ("NE004",))
    times = await page(client, "/dashboard/response-times?days=90")
    assert "Gabi" in times and "Téra" not in times
    listed = await page(client, "/dashboard/broadcasts")
    assert broadcast not in listed and "Reunion" not in listed
    await page(client, broadcast, 404)
    situation = await page(client, "/dashboard?lang=fr")
    warnings = re.search(r'<table id="partner-warnings">.*?</table>', situation, re.S).group()
    assert "PW7A" in warnings and "Gabi" in warnings and "Ayerou" not in warnings and "PW8B" not in warnings
    await page(client, f"/dashboard/alerts/{tera['code']}", 404)
    reached = await page(client, f"/dashboard/alerts/{gabi['code']}")
    assert 'id="reached"' in reached and not any(number in reached for number in TILLABERI_MEMBERS)
    assert "refused by the network" not in await page(client, "/dashboard/delivery")
    # a viewer acts on nothing, even in scope
    csrf = csrf_of(situation)
    await post(client, "/dashboard/broadcasts/preview", {"csrf": csrf, "area": "NE004", "audience": "committees",
                                                         "text_fr": "x"}, 403)


async def test_an_operator_of_maradi_cannot_act_on_tillaberis_broadcast(both_regions) -> None:
    client = both_regions
    csrf = await as_user(client, "musa", "operator", ("NE004",))
    for verb in ("approve", "cancel"):
        assert "no broadcast" in await post(client, f"/dashboard/broadcasts/{client.broadcast.id}/{verb}",
                                            {"csrf": csrf}, 404)
    for area in ("NE006", "Tillabéri", "tillaberi", "Ayerou", TERA_COMMUNE):
        refused = await post(client, "/dashboard/broadcasts", {"csrf": csrf, "area": area, "audience": "committees",
                                                               "text_fr": "x", "text_dje": "x"}, 400)
        assert "outside your scope" in refused, (area, refused)
    async with client.server.app[RUNTIME].sessions() as session:
        rows = (await session.execute(select(Broadcast))).scalars().all()
        queued = (await session.execute(select(Outbox.id).where(Outbox.kind == "broadcast"))).all()
    assert [(b.id, b.status, b.approved_by, b.cancelled_by) for b in rows] == [
        (client.broadcast.id, "awaiting_approval", None, None)] and queued == []


async def test_a_token_of_maradi_reads_no_tillaberi_alert_in_the_cap_feed(both_regions) -> None:
    client = both_regions
    async with client.server.app[RUNTIME].sessions() as session, session.begin():
        _, token = await add_token(session, "maradi-partner", "viewer", Scope(("NE004",)), None, datetime.now(UTC))
    headers = {"Authorization": f"Bearer {token}"}
    tera, gabi = client.alerts[TERA_COMMUNE], client.alerts[GABI]
    assert (await client.get(f"/feeds/cap/{tera['id']}.xml", headers=headers)).status == 404
    feed = await (await client.get("/feeds/cap.atom", headers=headers)).text()
    assert gabi["code"] in feed and tera["code"] not in feed
    one = await (await client.get(f"/feeds/cap/{gabi['id']}.xml", headers=headers)).text()
    assert "ewg:recipient" in one and not any(number in one for number in TILLABERI_MEMBERS)
    # the API's filters by place name: Tillabéri's by name is empty to Maradi's token, not to the deployment's
    for path, key in [("/api/reports?commune=Téra", "reports"), ("/api/alerts?region=tillaberi", "alerts"),
                      ("/api/communes?region=Tillabéri", "communes")]:
        assert (await (await client.get(path, headers={"Authorization": "Bearer api-token"})).json())[key], path
        answer = await client.get(path, headers=headers)
        assert answer.status == 200 and (await answer.json())[key] == [], path

