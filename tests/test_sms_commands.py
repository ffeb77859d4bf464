"""Commands by SMS, answered in the reporter's language: help, language, register,
retract; reports from unknown and blocked numbers; the reply limit."""

from __future__ import annotations

from sqlalchemy import func, select

from gateway.runtime import RUNTIME
from gateway.storage.models import Message, Outbox, Report, Reporter
from gateway.views.health import refresh_outbox_gauges
from tests.support.callbacks import FOCAL_POINT, send


async def replies_to(client, phone: str) -> list[str]:
    runtime = client.server.app[RUNTIME]
    async with runtime.sessions() as session:
        rows = await session.execute(select(Outbox.body).where(Outbox.recipient == phone, Outbox.kind == "reply")
                                     .order_by(Outbox.id))
        return [body for (body,) in rows]


async def reporter(client, phone: str) -> Reporter | None:
    runtime = client.server.app[RUNTIME]
    async with runtime.sessions() as session:
        return (await session.execute(select(Reporter).where(Reporter.phone == phone))).scalar_one_or_none()


async def test_register_creates_a_pending_focal_point_in_their_language(gateway) -> None:
    newcomer = "+22791112233"
    await send(gateway, newcomer, "HARSHE ha")
    await send(gateway, newcomer, "RIJISTA Guidan Sori Awa Moussa")
    found = await reporter(gateway, newcomer)
    assert (found.status, found.commune_pcode, found.name, found.lang) == ("pending", "NE004005003", "Awa Moussa", "ha")
    assert await replies_to(gateway, newcomer) == [
        "Harshe: Hausa. Don neman taimako, ku aika TAIMAKO.",
        "An karbi bukatarku don Guidan Sori. Za a tabbatar da ku a matsayin wakili bayan dubawa.",
    ]
    # A pending reporter's report counts with trust "pending".
    await send(gateway, newcomer, "sata shanu 12")
    runtime = gateway.server.app[RUNTIME]
    async with runtime.sessions() as session:
        report = (await session.execute(select(Report))).scalar_one()
    assert (report.trust, report.commune_pcode, report.incident) == ("pending", "NE004005003", "cattle_theft")


async def test_register_with_an_unknown_commune_explains(gateway) -> None:
    await send(gateway, "+22791112234", "INSCRIPTION")
    assert await replies_to(gateway, "+22791112234") == [
        "Commune introuvable. Envoyez: INSCRIPTION <commune> <votre nom>"]


async def test_retract_only_your_own_report(gateway) -> None:
    await send(gateway, FOCAL_POINT, "ATTAQUE GABI 4")
    ref = (await replies_to(gateway, FOCAL_POINT))[0].split()[2].rstrip(":")
    await send(gateway, "+22791112235", f"FAUX {ref}")
    assert await replies_to(gateway, "+22791112235") == [f"Aucun signalement {ref} de votre numéro. Vérifiez la référence."]
    await send(gateway, FOCAL_POINT, f"KARYA {ref.lower()}")
    assert (await replies_to(gateway, FOCAL_POINT))[-1] == f"An soke rahoto {ref}. Mun gode."
    runtime = gateway.server.app[RUNTIME]
    async with runtime.sessions() as session:
        assert (await session.execute(select(Report.status))).scalar_one() == "retracted"


async def test_unknown_number_is_stored_unverified_and_invited_to_register(gateway) -> None:
    assert await send(gateway, "+22791112236", "attaque tera 7") == "stored: report"
    runtime = gateway.server.app[RUNTIME]
    async with runtime.sessions() as session:
        report = (await session.execute(select(Report))).scalar_one()
    assert (report.trust, report.reporter_id, report.commune_pcode) == ("unknown", None, "NE006011005")
    assert (await replies_to(gateway, "+22791112236"))[0].endswith("Pour devenir point focal: INSCRIPTION <commune>")


async def test_blocked_number_is_stored_but_not_turned_into_a_report(gateway) -> None:
    runtime = gateway.server.app[RUNTIME]
    async with runtime.sessions() as session, session.begin():
        (await session.execute(select(Reporter).where(Reporter.phone == FOCAL_POINT))).scalar_one().status = "blocked"
    await send(gateway, FOCAL_POINT, "ATTAQUE GABI 4")
    async with runtime.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(Report))).scalar_one() == 0
        assert (await session.execute(select(func.count()).select_from(Message))).scalar_one() == 1


async def test_a_flood_is_stored_in_full_but_answered_only_up_to_the_limit(gateway) -> None:
    for n in range(12):
        await send(gateway, "+22791112237", f"bonjour {n}")
    runtime = gateway.server.app[RUNTIME]
    async with runtime.sessions() as session:
        stored = (await session.execute(select(func.count()).select_from(Message))).scalar_one()
        withheld = (await session.execute(select(func.count()).select_from(Message)
                                          .where(Message.reply_status == "rate_limited"))).scalar_one()
    assert (stored, len(await replies_to(gateway, "+22791112237")), withheld) == (12, 3, 9)
    await refresh_outbox_gauges(runtime)  # what the gauges' task does every metrics.refresh_seconds
    metrics = await (await gateway.get("/metrics", headers={"Authorization": "Bearer api-token"})).text()
    assert "ewg_replies_withheld_total 9.0" in metrics
    assert "ewg_flooding_numbers 1.0" in metrics


async def test_help_in_the_reporters_language(gateway) -> None:
    assert await send(gateway, FOCAL_POINT, "TAIMAKO") == "stored: command"
    assert (await replies_to(gateway, FOCAL_POINT))[0].startswith("Ku aika: LAMARI WURI ADADI. Misali: HARI GABI 12.")
