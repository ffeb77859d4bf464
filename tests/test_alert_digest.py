"""The daily digest: counts per area, once a day per member, nothing about reporters."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from alerts.digest import digest_text, send_daily_digests
from gateway.kernel.i18n import LANGUAGES
from gateway.kernel.segments import measure
from gateway.kernel.taxonomy import load_taxonomy
from gateway.runtime import RUNTIME
from gateway.storage.models import Alert, Outbox
from tests.support.callbacks import send


def test_digest_fits_two_segments_in_every_language() -> None:
    busy = Counter({incident.id: 999 for incident in load_taxonomy().incidents})
    for lang in LANGUAGES:
        text = digest_text(lang, "Tchintabaraden Tchintabaraden Tchintabaraden", busy, 99, load_taxonomy())
        assert measure(text).segments <= 2 and measure(text).encoding == "GSM-7", text


async def test_digest_counts_the_area_and_is_queued_once_a_day(gateway, clock) -> None:
    await send(gateway, "+22790000101", "ATTAQUE GABI 3")
    await send(gateway, "+22790000102", "sata shanu gabi 20")
    await send(gateway, "+22790000104", "hommes armes tera 30")
    runtime = gateway.server.app[RUNTIME]

    def name(pcode: str) -> str:
        return runtime.gazetteer.unit(pcode).name

    for _ in range(200):  # the Gabi attack alert is open (the gateway's own scorer may get there first)
        await runtime.score_once()
        async with runtime.sessions() as session:
            if (await session.execute(select(Alert.id))).first():
                break
        await asyncio.sleep(0.05)
    async with runtime.sessions() as session, session.begin():
        queued = await send_daily_digests(session, clock(), name)
    async with runtime.sessions() as session, session.begin():
        again = await send_daily_digests(session, clock(), name)
    assert again == 0
    async with runtime.sessions() as session:
        digests = {r: b for r, b in await session.execute(
            select(Outbox.recipient, Outbox.body).where(Outbox.kind == "digest"))}
    assert queued == len(digests)
    assert digests["+22796000201"] == ("Bilan du jour Gabi: 2 signalement(s), 1 alerte(s) ouverte(s). "
                                       "attaque 1, vol de bétail 1.")
    assert digests["+22796000202"] == ("Takaitaccen bayanin yau Gabi: rahotanni 2, gargadi 1 a bude. "
                                       "hari 1, satar shanu 1.")
    assert digests["+22796000401"].startswith("Bilan du jour Maradi: 2 signalement(s)")
    assert digests["+22796000204"].startswith("Bilan du jour Téra: 1 signalement(s)")
    assert "+22796000203" not in digests  # Guidan Sori: no activity, no SMS
    assert not any("+2279000010" in body for body in digests.values())

    clock.advance(days=1, hours=1)
    async with runtime.sessions() as session, session.begin():
        assert await send_daily_digests(session, clock() + timedelta(0), name) >= 1  # a new day, a new digest
