"""No phone number on the newer surfaces, over real HTTP: a partner's CAP quoting one is refused with
a reason, a log line and a metric that hold none (and one in the place name or the alert code, both
written into SMS and shown to operators, is refused); who was reached on an alert's page masks a
number in a failure's reason, and Neighbours warned one in a partner's answer; a broadcast's pages,
audit trail and log name none of its recipients."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select, update

from gateway.config import OutboxSettings, PartnerSettings
from gateway.dashboard.layout import Texts
from gateway.dashboard.neighbours_section import NeighbourWarned, neighbours_section
from gateway.feeds.cap import CapAlert, PartnerMessage, partner_cap_xml
from gateway.kernel.taxonomy import load_taxonomy
from gateway.outbox.partners import PartnerSender
from gateway.runtime import RUNTIME
from gateway.storage.models import CapInbound, Outbox, PartnerDelivery
from tests.support.dashboard import log_in, post_sms, scored
from tests.support.gateway import count, make_settings, running_gateway, settle

FROM_MALI = "mali-to-niger-token-0123456789"
MALI = {"name": "mali", "url": "http://127.0.0.1:9", "token": "niger-to-mali-token-0123456789",
        "inbound_token": FROM_MALI, "areas": ["ML"]}
NUMBER = "+22790123456"
TERA, TERA_COMMUNE, TERA_MEMBER = "+22790000104", "NE006011005", "+22796000204"
TILLABERI_COMMITTEES = ("+22796000204", "+22796000205")


def partner_cap(**replaced: str) -> bytes:
    """The partner's valid Alert for Ayerou, with the given ewg: parameters or elements replaced."""
    now = datetime.now(UTC).replace(microsecond=0)
    alert = CapAlert(3, "M4LK", "attack", 1, "open", 0, now, now, "ML070104", "Ouattagouna", 15.2, 0.9, 1, None)
    doc = partner_cap_xml(alert, PartnerMessage(1, "Alert", 1, {"NE006002001": 1}, now, ()), load_taxonomy(),
                          "ewg@mali.example").decode()
    for name, value in replaced.items():
        if name.startswith("ewg:"):
            doc = re.sub(rf"(<valueName>{name}</valueName><value>)[^<]*", lambda m, v=value: m.group(1) + v, doc)
        else:
            doc = re.sub(rf"<{name}>[^<]*</{name}>", f"<{name}>{value}</{name}>", doc, count=1)
    return doc.encode()


def holds_a_number(text: str, *numbers: str) -> bool:
    return any(number[4:] in text or number[1:] in text for number in numbers)


@pytest.fixture
async def niger(db_url, clock):
    settings = make_settings(db_url, callbacks={"token": "s3cret"}, api={"token": "api-token"},
                             spillover={"partners": [MALI]})
    async with running_gateway(settings, clock) as client:
        yield client


async def test_a_partners_cap_quoting_a_number_is_refused_and_never_repeats_it(niger, caplog) -> None:
    caplog.set_level(logging.INFO)
    for replaced, named in [({"ewg:level": NUMBER}, "ewg:level"), ({"ewg:home_pcode": NUMBER}, "ewg:home_pcode"),
                            ({"ewg:ring": f"{NUMBER} 1"}, "ewg:ring"), ({"sent": NUMBER}, "CAP 1.2 schema"),
                            ({"ewg:home_name": "Ouattagouna, appelez le +227 90 12 34 56"}, "ewg:home_name"),
                            ({"ewg:alert_code": "90123456"}, "ewg:alert_code")]:
        response = await niger.post("/api/cap/inbound", data=partner_cap(**replaced),
                                    headers={"Authorization": f"Bearer {FROM_MALI}"})
        answer = await response.text()
        assert response.status == 400 and named in answer and not holds_a_number(answer, NUMBER), (replaced, answer)
    assert await count(niger, select(func.count()).select_from(CapInbound)) == 0
    assert await count(niger, select(func.count()).select_from(Outbox).where(Outbox.kind == "vigilance")) == 0
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "refused" in logged and not holds_a_number(logged, NUMBER)
    metrics = await (await niger.get("/metrics", headers={"Authorization": "Bearer api-token"})).text()
    assert "ewg_cap_inbound_total" in metrics and not holds_a_number(metrics, NUMBER)


async def test_who_was_reached_masks_a_number_in_a_failures_reason(niger) -> None:
    await post_sms(niger, TERA, "ATTAQUE TERA 3", "t-1")
    tera = (await scored(niger, lambda a: TERA_COMMUNE in a))[TERA_COMMUNE]
    await settle(niger)
    async with niger.app[RUNTIME].sessions() as session, session.begin():  # as a row written before masking was
        await session.execute(update(Outbox).where(Outbox.alert_id == tera["id"], Outbox.recipient == TERA_MEMBER)
                              .values(status="failed", last_error=f"not delivered (Failed: {TERA_MEMBER} absent)"))
    await log_in(niger)
    page = await (await niger.get(f"/dashboard/alerts/{tera['code']}")).text()
    reached = re.search(r'<table id="reached">.*?</table>', page, re.S).group()
    assert "Failed: +********204 absent" in reached and not holds_a_number(page, TERA_MEMBER)
    feed = await (await niger.get(f"/feeds/cap/{tera['id']}.xml", headers={"Authorization": "Bearer api-token"})).text()
    assert "ewg:recipient" in feed and not holds_a_number(feed, TERA_MEMBER)


async def test_a_broadcast_names_none_of_its_recipients(niger, caplog) -> None:
    caplog.set_level(logging.INFO)
    await log_in(niger)
    csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', await (await niger.get("/dashboard")).text()).group(1)
    response = await niger.post("/dashboard/broadcasts", allow_redirects=False, data={
        "csrf": csrf, "area": "NE006", "audience": "committees", "text_fr": "Reunion samedi.", "text_dje": "Marga hawru."})
    assert response.status == 303, await response.text()
    await settle(niger)
    async with niger.app[RUNTIME].sessions() as session:
        sent = set((await session.execute(select(Outbox.recipient).where(Outbox.kind == "broadcast"))).scalars())
    assert sent == set(TILLABERI_COMMITTEES)
    for path in ["/dashboard/broadcasts", response.headers["Location"], "/dashboard/audit", "/dashboard/spend",
                 "/dashboard/delivery"]:
        page = await (await niger.get(path)).text()
        assert not holds_a_number(page, *TILLABERI_COMMITTEES), path
    logged = "\n".join(record.getMessage() for record in caplog.records if "broadcast" in record.getMessage())
    assert "broadcast 1 by admin" in logged and not holds_a_number(logged, *TILLABERI_COMMITTEES)


def test_neighbours_warned_masks_a_number_in_a_partners_answer() -> None:
    """A partner's refusal is its own text (a proxy's error page, another gateway's reason)."""
    delivery = PartnerDelivery(partner="mali", status="failed", msg_type="Alert",
                               last_error=f"HTTP 400: unknown committee member {NUMBER}")
    shown = neighbours_section(Texts("fr"), (NeighbourWarned("ML070104", "Ouattagouna", 1, 1, False, delivery),))
    assert "unknown committee member +********456" in shown and not holds_a_number(shown, NUMBER)


async def test_a_partners_answer_quoting_a_number_is_kept_and_logged_without_it(caplog) -> None:
    """The partner's refusal is stored (partner_deliveries.last_error) and logged as the sender got it,
    but for the number."""
    async def refuse(request: web.Request) -> web.Response:
        return web.Response(status=400, text=f"refused: commune unknown, ask {NUMBER}")

    app = web.Application()
    app.router.add_post("/api/cap/inbound", refuse)
    async with TestServer(app) as server, aiohttp.ClientSession() as http:
        partner = PartnerSettings(**{**MALI, "url": str(server.make_url("/"))})
        sender = PartnerSender(None, (partner,), OutboxSettings(), load_taxonomy(), "ewg@niger.example",
                               lambda: datetime.now(UTC))
        row = PartnerDelivery(id=1, partner="mali", alert_id=1, msg_type="Alert", level=1, communes={})
        delivered, why = await sender._post(http, row, b"<alert/>")
    assert (delivered, why.startswith("HTTP 400: refused: commune unknown")) == (False, True), why
    assert NUMBER not in why and NUMBER[-8:] not in why
