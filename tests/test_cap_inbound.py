"""POST /api/cap/inbound over HTTP, on Niger's gateway whose partner is Mali's: a table of wire cases
(a missing or forged token is refused with 401; hostile or malformed XML and a document that fails
the CAP 1.2 schema are refused with 400 naming why, never a 500), then a partner's alert about an
attack in Ouattagouna warning Ayerou's committee (the demo's, in Zarma, naming Ouattagouna, Mali):
a retried POST warns nobody twice, an Update at the same level nobody, an Update at a raised level
again, a Cancel nobody, and nothing after it; the chair's `OK <code>` of the partner's alert is
noted for Ayerou."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from gateway.config import ConfigError, load_settings
from gateway.dashboard.scope import Scope
from gateway.dashboard.users import add_user
from gateway.feeds.cap import CapAlert, PartnerMessage, partner_cap_xml, reference
from gateway.kernel.localtime import zone_of
from gateway.kernel.taxonomy import load_taxonomy
from gateway.runtime import RUNTIME
from gateway.storage.models import CapInboundNotification, Outbox
from tests.support.dashboard import log_in, post_sms
from tests.support.gateway import count, make_settings, running_gateway

FROM_MALI = "mali-to-niger-token-0123456789"
MALI = {"name": "mali", "url": "http://127.0.0.1:9", "token": "niger-to-mali-token-0123456789",
        "inbound_token": FROM_MALI, "areas": ["ML"]}
SENDER = "ewg@mali.example"
AYEROU, AYEROU_CHAIR = "NE006002001", "+22796000205"
T0 = datetime.now(UTC).replace(microsecond=0)
NIAMEY = zone_of("NE")
ALERT = CapAlert(3, "M4LK", "attack", 1, "open", 0, T0, T0, "ML070104", "Ouattagouna", 15.17606, 0.90175, 1, None)


def cap(message_id: int, msg_type: str = "Alert", level: int = 1, references: tuple[str, ...] = ()) -> bytes:
    message = PartnerMessage(message_id, msg_type, level, {AYEROU: 1}, T0 + timedelta(minutes=message_id),
                             references)
    return partner_cap_xml(ALERT, message, load_taxonomy(), SENDER)


FIRST = reference(SENDER, f"{SENDER}.spill.3.1", T0)
VALID = cap(1).decode()
ENTITIES = ('<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">&x;</alert>')
BEARER = {"Authorization": f"Bearer {FROM_MALI}"}

# (label, headers, body, expected status, expected fragment of the answer)
WIRE = [
    ("no token", {}, VALID, 401, "a partner's bearer token is required"),
    ("another's token", {"Authorization": "Bearer niger-to-mali-token-0123456789"}, VALID, 401, "bearer token"),
    ("token in the query only", {}, VALID, 401, "bearer token"),
    ("empty", BEARER, "", 400, "empty body"),
    ("not XML", BEARER, "ALERT attack", 400, "not well-formed XML"),
    ("entities", BEARER, ENTITIES, 400, "a DOCTYPE or entity declaration is not accepted"),
    ("too large", BEARER, "<a>" + "x" * 70000 + "</a>", 400, "document too large"),
    ("schema: msgType", BEARER, VALID.replace("<msgType>Alert<", "<msgType>Warning<"), 400,
     "CAP 1.2 schema: line"),
    ("schema: missing sender", BEARER, re.sub(r"<sender>[^<]*</sender>", "", VALID), 400, "sender"),
    ("not CAP", BEARER, '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"/>', 400, "CAP 1.2 schema"),
    ("scope Public", BEARER, VALID.replace("<scope>Restricted<", "<scope>Public<"), 400,
     "scope must be Restricted"),
    ("an Update without references", BEARER, cap(2, "Update").decode(), 400, "a Update needs references"),
    ("an unknown incident", BEARER, VALID.replace("<value>attack</value>", "<value>meteor</value>"), 400,
     "unknown incident 'meteor'"),
    ("no commune", BEARER, re.sub(r"<geocode>.*?</geocode>", "", VALID), 400, "names no commune"),
    ("a long identifier", BEARER, VALID.replace(f"{SENDER}.spill.3.1", "x" * 300), 400,
     "identifier longer than 255 characters"),
]


@pytest.fixture
async def niger(db_url):
    settings = make_settings(db_url, spillover={"partners": [MALI]}, api={"token": "api-token"},
                             metrics={"refresh_seconds": 0.05})
    async with running_gateway(settings) as client:
        yield client


async def scraped(client, name: str, labels: tuple[str, ...] = ("partner", "outcome", "reason")
                  ) -> dict[tuple[str, ...], float]:
    """One metric's samples from /metrics: the values of `labels` -> the sample's value."""
    response = await client.get("/metrics", headers={"Authorization": "Bearer api-token"})
    assert response.status == 200
    return {tuple(s.labels[label] for label in labels): s.value
            for family in text_string_to_metric_families(await response.text())
            for s in family.samples if s.name == name}


async def situation(client) -> str:
    response = await client.get("/dashboard?lang=fr")
    assert response.status == 200
    return await response.text()


async def partner_warning_rows(client) -> list[tuple[list[str], str]]:
    """The situation page's partner warnings, each as its cells' text (all but the received time) and that time."""
    rows = re.findall(r'<tr class="partner-warning">(.*?)</tr>', await situation(client))
    cells = [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row)] for row in rows]
    return [(row[:6] + row[7:], row[6]) for row in cells]


async def post(client, body: str | bytes, headers: dict, **params) -> tuple[int, str]:
    response = await client.post("/api/cap/inbound", data=body, headers=headers, params=params)
    return response.status, await response.text()


async def test_wire_cases_are_refused_with_their_reason(niger):
    for label, headers, body, status, fragment in WIRE:
        params = {"token": FROM_MALI} if label == "token in the query only" else {}
        answer = await post(niger, body, headers, **params)
        assert answer[0] == status and fragment in answer[1], (label, answer)
    assert await count(niger, select(func.count()).select_from(Outbox).where(Outbox.kind == "vigilance")) == 0
    # counted by reason, with the partner's name and never a token
    assert await scraped(niger, "ewg_cap_inbound_total") == {
        ("none", "refused", "token"): 3, ("mali", "refused", "empty"): 1, ("mali", "refused", "not_xml"): 1,
        ("mali", "refused", "entities"): 1, ("mali", "refused", "too_large"): 1, ("mali", "refused", "schema"): 3,
        ("mali", "refused", "content"): 4, ("mali", "refused", "unknown_incident"): 1}
    # the partner's outbound CAP messages by state, refreshed from the database: none yet, each state shown
    for _ in range(100):  # the refresh task's first pass may still be ahead
        if deliveries := await scraped(niger, "ewg_partner_deliveries", ("partner", "state")):
            break
        await asyncio.sleep(0.05)
    assert deliveries == {("mali", state): 0 for state in ("queued", "sending", "sent", "failed", "expired", "dropped")}


async def test_a_partners_alert_warns_the_named_commune_once_per_level(niger):
    async def vigilance() -> list[tuple[str, str]]:
        async with niger.app[RUNTIME].sessions() as session:
            return [tuple(r) for r in await session.execute(
                select(Outbox.recipient, Outbox.body).where(Outbox.kind == "vigilance").order_by(Outbox.id))]

    assert await post(niger, cap(1), BEARER) == (200, "received: 1 warned, 0 withheld")
    assert await vigilance() == [(AYEROU_CHAIR, "VIGILANCE M4LK: wongu daraja 1 Ouattagouna (Mali) ra, war kwaara "
                                                "jarga. Ma haggoy. Ma OK M4LK sanba ka tabbatandi.")]
    assert await post(niger, cap(1), BEARER) == (200, f"already received: {SENDER}.spill.3.1")
    assert await scraped(niger, "ewg_cap_inbound_total") == {("mali", "accepted", "new"): 1,
                                                             ("mali", "accepted", "duplicate"): 1}

    # Ayerou's chair acknowledges the partner's code for Ayerou (twice: noted once)
    for message_id in ("ACK-M4LK-1", "ACK-M4LK-2"):
        assert await post_sms(niger, AYEROU_CHAIR, "OK M4LK", message_id) == "stored: command"
    async with niger.app[RUNTIME].sessions() as session:
        replies = list((await session.execute(select(Outbox.body).where(
            Outbox.kind == "reply", Outbox.recipient == AYEROU_CHAIR))).scalars())
        noted = (await session.execute(select(func.count()).select_from(CapInboundNotification).where(
            CapInboundNotification.decision == "noted"))).scalar_one()
    assert replies == ["Vigilance M4LK notée pour votre commune. Merci."] * 2 and noted == 1
    await log_in(niger)
    [(cells, received)] = await partner_warning_rows(niger)
    assert cells == ["mali", "M4LK", "attaque", "Ouattagouna (ML)", "1", "Ayerou", "ouverte"]
    assert received.startswith(f"{T0.astimezone(NIAMEY):%Y-%m-%d}")
    assert await post(niger, cap(2, "Update", 1, (FIRST,)), BEARER) == (200, "received: 0 warned, 1 withheld")
    assert await post(niger, cap(3, "Update", 2, (FIRST,)), BEARER) == (200, "received: 1 warned, 0 withheld")
    assert "daraja 2" in (await vigilance())[1][1]
    assert await post(niger, cap(4, "Cancel", 2, (FIRST,)), BEARER) == (200, "received: 0 warned, 0 withheld")
    assert await post(niger, cap(5, "Update", 3, (FIRST,)), BEARER) == (200, "received: 0 warned, 0 withheld")
    assert len(await vigilance()) == 2
    [(cells, _)] = await partner_warning_rows(niger)  # the highest level told, and the Cancel with its time
    assert cells[4] == "3" and cells[-1].startswith("annulée ")

    # kept to the user's scope: a viewer of Maradi (NE004) sees no warning of Ayerou's
    async with niger.app[RUNTIME].sessions() as session, session.begin():
        await add_user(session, "maradi", "maradi-viewer-2026", "viewer", scope=Scope(("NE004",)))
    await log_in(niger, "maradi", "maradi-viewer-2026")
    assert await partner_warning_rows(niger) == []
    assert "Aucun avertissement d'une passerelle partenaire ces 7 derniers jours." in unescape(await situation(niger))


@pytest.mark.parametrize(("partners", "error"), [
    ('[{"name": "mali", "url": "http://x", "token": "short", "inbound_token": "' + FROM_MALI + '", "areas": ["ML"]}]',
     "spillover.partners[1].token: 16 characters or more"),
    ('[{"name": "mali", "url": "ftp://x", "token": "' + FROM_MALI + '", "inbound_token": "' + FROM_MALI
     + '", "areas": ["ML"]}]', "spillover.partners[1].url: expected an http(s) URL"),
    ('[{"name": "mali", "url": "http://x", "token": "' + FROM_MALI + '", "areas": ["ML"]}]',
     "spillover.partners[1]: inbound_token is required"),
    ('[{"name": "mali", "url": "http://x", "token": "' + FROM_MALI + '", "inbound_token": "' + FROM_MALI
     + '", "areas": ["ML"], "colour": "red"}]', "spillover.partners[1]: unknown key 'colour'"),
    ("ML", "spillover.partners[1]: expected a table"),
])
def test_partners_from_the_environment_are_checked_at_load(partners, error):
    with pytest.raises(ConfigError, match=re.escape(error)):
        load_settings(environ={"EWG_SPILLOVER__PARTNERS": partners})


def test_partners_from_the_environment() -> None:
    settings = load_settings(environ={"EWG_SPILLOVER__PARTNERS": f'[{{"name": "mali", "url": "https://ml.example/", '
                                      f'"token": "{FROM_MALI}", "inbound_token": "{FROM_MALI}x", "areas": ["ml"]}}]'})
    [mali] = settings.spillover.partner_list
    assert (mali.name, mali.inbound_url, mali.areas) == ("mali", "https://ml.example/api/cap/inbound", ("ML",))
    assert replace(mali, token="x").token == "x"
