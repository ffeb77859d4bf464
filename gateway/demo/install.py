"""Demo data for demo mode: the seed communes (places/), five focal points and a few committees
(people/). The numbers are fictitious (+227 90 00 01 xx, +227 96 00 0x xx)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.api import import_committees_csv
from gateway.config import Settings
from gateway.demo.gazetteer import load_demo_batch
from gateway.gazetteer.matcher import Gazetteer
from gateway.runtime import utc_now
from gateway.storage.gazetteer import import_batch
from gateway.storage.reporters import read_reporters_csv, upsert_reporter

DEMO_PEOPLE = Path(__file__).resolve().parent / "people"


async def install_demo_data(session: AsyncSession, settings: Settings) -> None:
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
