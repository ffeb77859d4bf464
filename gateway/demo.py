"""Demo data for the quick start: the seed communes, five focal points, a few committees.

The numbers are fictitious (+227 90 00 01 xx, +227 96 00 0x xx)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.config import Settings
from gateway.runtime import utc_now

DEMO_PEOPLE = Path(__file__).resolve().parent / "demo_people"


async def install_demo_data(session: AsyncSession, settings: Settings) -> None:
    from alerts.committees import import_committees_csv
    from gateway.gazetteer.demo import load_demo_batch
    from gateway.gazetteer.matcher import Gazetteer
    from gateway.storage.gazetteer import import_batch
    from gateway.storage.reporters import read_reporters_csv, upsert_reporter

    batch = load_demo_batch()
    await import_batch(session, batch)
    gazetteer = Gazetteer(batch.units, batch.places)
    regions = settings.gateway.accepted_regions
    now = utc_now()
    for row in read_reporters_csv(DEMO_PEOPLE / "reporters.csv", gazetteer.resolve_commune,
                                  settings.gateway.default_region, regions):
        await upsert_reporter(session, row.phone, name=row.name, commune=row.commune_pcode, lang=row.lang,
                              status="approved", now=now)
    await import_committees_csv(session, DEMO_PEOPLE / "committees.csv", settings.gateway.default_region, regions)
