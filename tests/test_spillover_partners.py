"""Warning the neighbours through a partner gateway, decided on a database through the alert
service: a commune in a partner's area ([[spillover.partners]]) is not warned here but owed to the
partner as one CAP message (Alert, then Update at a raised level, Cancel once the alert closes);
the messages a partner receives are schema-valid CAP that its inbound reads back. And a neighbour
a silence kept from its warning (of this gateway's alert or a partner's) is warned once the silence
ends, while the alert is still open."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import pytest
from sqlalchemy import select, update

from alerts import service
from alerts.api import InboundWarning, PartnerArea, run_held_spillovers, warn_of_partner_alert, with_partners
from alerts.areas import StaticGazetteer
from alerts.rules import Silence, load_rules
from gateway.dashboard.layout import Texts
from gateway.dashboard.neighbours_section import neighbours_section, neighbours_warned
from gateway.feeds.cap import CapAlert, PartnerMessage, partner_cap_xml, reference
from gateway.feeds.cap_inbound import read_partner_cap
from gateway.gazetteer.model import ImportBatch, Unit
from gateway.kernel.taxonomy import load_taxonomy
from gateway.storage.db import create_engine, session_factory
from gateway.storage.gazetteer import import_batch
from gateway.storage.models import (
    CommitteeMember,
    Message,
    Outbox,
    PartnerDelivery,
    Report,
    SpilloverNotification,
)

SHIPPED = load_rules(Path(__file__).resolve().parents[1] / "rules")
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
AYEROU, INATES, OUATTAGOUNA = "NE006002001", "NE006002002", "ML070104"
HOME_MEMBER, INATES_MEMBER, OUATTAGOUNA_MEMBER = "+22796000101", "+22796000102", "+22396000103"
PLACES = StaticGazetteer(
    {AYEROU: "Ayerou", INATES: "Inatès", OUATTAGOUNA: "Ouattagouna", "NE006002": "Ayerou", "NE006": "Tillabéri",
     "ML0701": "Ansongo", "ML07": "Gao"},
    {AYEROU: "NE006002", INATES: "NE006002", "NE006002": "NE006", "NE006": None, OUATTAGOUNA: "ML0701",
     "ML0701": "ML07", "ML07": None})
UNITS = ImportBatch(units=(
    Unit("NE006", 1, "NE", "Tillabéri"), Unit("NE006002", 2, "NE", "Ayerou", "NE006"),
    Unit(AYEROU, 3, "NE", "Ayerou", "NE006002", lat=14.77284, lon=0.89577, neighbours=(INATES,)),
    Unit(INATES, 3, "NE", "Inatès", "NE006002", lat=14.91849, lon=1.17064, neighbours=(AYEROU,)),
    Unit("ML07", 1, "ML", "Gao"), Unit("ML0701", 2, "ML", "Ansongo", "ML07"),
    Unit(OUATTAGOUNA, 3, "ML", "Ouattagouna", "ML0701", lat=15.17606, lon=0.90175),
))
WITH_MALI = with_partners(SHIPPED, [PartnerArea("mali", ("ML",))])


@pytest.fixture
async def sessions(db_url):
    engine = create_engine(db_url)
    factory = session_factory(engine)
    async with factory() as session, session.begin():
        await import_batch(session, UNITS)
        session.add_all([
            CommitteeMember(phone=HOME_MEMBER, name="Maire Ayerou", area_pcode=AYEROU, role="chair", lang="fr"),
            CommitteeMember(phone=INATES_MEMBER, name="Comite Inates", area_pcode=INATES, role="member", lang="ha"),
            CommitteeMember(phone=OUATTAGOUNA_MEMBER, name="Comite Ouattagouna", area_pcode=OUATTAGOUNA,
                            role="chair", lang="dje"),
        ])
    yield factory
    await engine.dispose()


_ids = count(1)


async def report(factory, sender: str, minutes: float) -> None:
    n = next(_ids)
    at = T0 + timedelta(minutes=minutes)
    async with factory() as session, session.begin():
        message = Message(channel="sms", external_id=f"PART{n}", sender=sender, text="ATTAQUE AYEROU",
                          received_at=at, stored_at=at, kind="report", parse={})
        session.add(message)
        await session.flush()
        session.add(Report(ref=f"P{n:03d}", message_id=message.id, channel="sms", sender_key=f"key-{sender}",
                           trust="approved", incident="attack", commune_pcode=AYEROU, lang="fr", status="valid",
                           received_at=at))


async def score(factory, rules, minutes: float):
    async with factory() as session, session.begin():
        return await service.score_pending_reports(session, rules, PLACES, T0 + timedelta(minutes=minutes))


async def warned(factory) -> list[str]:
    async with factory() as session:
        return list((await session.execute(
            select(Outbox.recipient).where(Outbox.kind == "vigilance").order_by(Outbox.id))).scalars())


async def deliveries(factory) -> list[tuple]:
    async with factory() as session:
        return [(d.partner, d.msg_type, d.level, d.communes, d.status) for d in (await session.execute(
            select(PartnerDelivery).order_by(PartnerDelivery.id))).scalars()]


def page_rows(html: str) -> list[list[str]]:
    """The neighbours table's rows as text, cell by cell."""
    rows = re.findall(r'<tr class="neighbour">(.*?)</tr>', html)
    return [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row)] for row in rows]


async def test_a_partners_commune_is_warned_through_the_partner_alert_update_then_cancel(sessions):
    await report(sessions, "+22790000201", 0)
    [opened] = await score(sessions, WITH_MALI, 0.1)
    assert await warned(sessions) == [INATES_MEMBER]  # Ouattagouna's committee is the partner's to warn
    assert await deliveries(sessions) == [("mali", "Alert", 1, {OUATTAGOUNA: 1}, "queued")]
    async with sessions() as session:
        reasons = {(n.commune_pcode, n.member_id is None, n.reason) for n in
                   (await session.execute(select(SpilloverNotification))).scalars()}
    assert (OUATTAGOUNA, True, "vigilance L1 ring 1 via mali") in reasons

    async def page() -> str:
        async with sessions() as session:
            return neighbours_section(Texts("fr"), await neighbours_warned(session, opened.alert_id))

    async with sessions() as session, session.begin():
        await session.execute(update(PartnerDelivery).values(last_error="partner unreachable: ClientConnectorError"))
    assert page_rows(await page()) == [
        ["Ouattagouna ML070104", "ML", "1", "1", "par la passerelle partenaire mali",
         "en file (Alert) partner unreachable: ClientConnectorError"],
        ["Inatès NE006002002", "NE", "1", "1", "ici", "prévenue"]]
    async with sessions() as session, session.begin():
        await session.execute(update(PartnerDelivery).values(status="sent", sent_at=T0, last_error=None))
    assert page_rows(await page())[0][-1] == "envoyé (Alert)"
    await report(sessions, "+22790000202", 10)  # a second reporter: level 2, told again
    [raised] = await score(sessions, WITH_MALI, 10.1)
    assert raised.level == 2
    assert (await deliveries(sessions))[1:] == [("mali", "Update", 2, {OUATTAGOUNA: 1}, "queued")]

    async with sessions() as session, session.begin():
        await service.resolve_alert(session, opened.code, "admin", T0 + timedelta(minutes=20), gazetteer=PLACES)
    assert (await deliveries(sessions))[1:] == [
        ("mali", "Update", 2, {OUATTAGOUNA: 1}, "dropped"),  # never delivered: the Cancel says it all
        ("mali", "Cancel", 2, {OUATTAGOUNA: 1}, "queued")]


async def test_without_a_partner_the_same_commune_is_warned_here(sessions):
    await report(sessions, "+22790000201", 0)
    await score(sessions, SHIPPED, 0.1)
    assert sorted(await warned(sessions)) == sorted([INATES_MEMBER, OUATTAGOUNA_MEMBER])
    assert await deliveries(sessions) == []


async def test_a_neighbour_silenced_is_warned_once_the_silence_ends_while_the_alert_is_open(sessions):
    rules = replace(SHIPPED, silences=(Silence(INATES, "attack", T0 + timedelta(hours=1), "patrol out"),))
    await report(sessions, "+22790000201", 0)
    await score(sessions, rules, 0.1)
    assert await warned(sessions) == [OUATTAGOUNA_MEMBER]

    async def held_pass(minutes: float) -> int:
        async with sessions() as session, session.begin():
            return await run_held_spillovers(session, rules, T0 + timedelta(minutes=minutes), gazetteer=PLACES)

    async def decisions() -> int:
        async with sessions() as session:
            return len((await session.execute(select(SpilloverNotification))).all())

    before = await decisions()
    assert await held_pass(30) == 0  # still silenced: nothing decided again, nothing recorded
    assert await decisions() == before
    assert await held_pass(61) == 1
    assert await warned(sessions) == [OUATTAGOUNA_MEMBER, INATES_MEMBER]
    assert await held_pass(62) == 0  # warned once
    assert await decisions() == before + 1


async def test_a_partners_warning_held_by_a_silence_is_sent_once_the_silence_ends(sessions):
    rules = replace(SHIPPED, silences=(Silence(AYEROU, None, T0 + timedelta(hours=1), "curfew"),))
    warning = InboundWarning("ewg@ml.spill.5.1", "mali", "ewg@ml", "Alert", "ewg@ml.alert.5", "K9M4", "attack", 1,
                             OUATTAGOUNA, "Ouattagouna", "ML", {AYEROU: 1})
    async with sessions() as session, session.begin():
        outcome = await warn_of_partner_alert(session, rules, warning, T0, gazetteer=PLACES)
    assert (outcome.sent, outcome.withheld) == (0, 1)

    async def held_pass(minutes: float) -> int:
        async with sessions() as session, session.begin():
            return await run_held_spillovers(session, rules, T0 + timedelta(minutes=minutes), gazetteer=PLACES)

    assert await held_pass(30) == 0
    assert await held_pass(61) == 1
    assert await held_pass(62) == 0
    async with sessions() as session:
        bodies = list((await session.execute(select(Outbox.body).where(Outbox.recipient == HOME_MEMBER))).scalars())
    assert bodies == ["VIGILANCE K9M4: attaque niveau 1 à Ouattagouna (Mali), près de votre commune. Restez vigilants. "
                      "Répondez OK K9M4 pour confirmer."]


def test_messages_to_a_partner_pass_the_schema_and_read_back() -> None:
    alert = CapAlert(7, "K7Q2", "attack", 1, "open", 0, T0, T0, AYEROU, "Ayerou", 14.77284, 0.89577, 1, 3)
    sender = "ewg@niger.example"
    first = PartnerMessage(11, "Alert", 1, {OUATTAGOUNA: 1, "ML070106": 2}, T0)
    later = PartnerMessage(12, "Update", 2, {OUATTAGOUNA: 1}, T0 + timedelta(minutes=5),
                           (reference(sender, f"{sender}.spill.7.11", T0),))
    taxonomy = load_taxonomy()
    read = read_partner_cap(partner_cap_xml(alert, first, taxonomy, sender))
    assert (read.identifier, read.msg_type, read.incidents, read.code, read.incident, read.level) == (
        f"{sender}.spill.7.11", "Alert", f"{sender}.alert.7", "K7Q2", "attack", 1)
    assert (read.home_pcode, read.home_name, read.communes) == (AYEROU, "Ayerou", {OUATTAGOUNA: 1, "ML070106": 2})
    assert read_partner_cap(partner_cap_xml(alert, later, taxonomy, sender)).level == 2
    cancel = replace(later, id=13, msg_type="Cancel")
    assert read_partner_cap(partner_cap_xml(alert, cancel, taxonomy, sender)).msg_type == "Cancel"


@pytest.mark.parametrize(("delivered", "expected"), [
    (True, [("mali", "Alert", 1, {OUATTAGOUNA: 1}, "sent"), ("mali", "Cancel", 1, {OUATTAGOUNA: 1}, "queued")]),
    (False, [("mali", "Alert", 1, {OUATTAGOUNA: 1}, "dropped")]),  # the partner never heard of it
])
async def test_an_alert_that_expires_unsent_at_home_is_cancelled_at_the_partner(sessions, delivered, expected):
    await report(sessions, "+22790000201", 0)
    [opened] = await score(sessions, WITH_MALI, 0.1)
    if delivered:
        async with sessions() as session, session.begin():
            await session.execute(update(PartnerDelivery).values(status="sent", sent_at=T0))
    async with sessions() as session, session.begin():  # nobody at home could be reached in time
        expiry = await service.expire_stale_outbox(session, T0 + timedelta(minutes=241))
    assert expiry.alerts == (opened.code,)
    assert await deliveries(sessions) == expected
