"""Figure 5: an alert fanned out to 1,000 recipients handed to the provider.

    .venv/bin/python bench/bench_fanout.py [--recipients 1000]

1,000 alert SMS (one alert, rendered in French, Hausa and Zarma: three texts) are queued in the
outbox of a SQLite file database, then the gateway's own OutboxSender, with the real
AfricasTalkingSender (aiohttp, posting the provider's form) against the fake Africa's Talking in a
child process, claims and sends them in batches. The clock runs from the first claim until the fake
provider has accepted every SMS and every outbox row is marked sent. Rendering and queueing the alert
for 1,000 committee members is measured by bench_scoring.py.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from gateway.config import load_settings  # noqa: E402
from gateway.metrics import Metrics  # noqa: E402
from gateway.outbox.sender import OutboxSender  # noqa: E402
from gateway.providers.africastalking import AfricasTalkingSender  # noqa: E402
from gateway.storage.db import create_engine, session_factory  # noqa: E402
from gateway.storage.models import Base, Outbox  # noqa: E402
from gateway.storage.outbox import PRIORITY_ALERT, OutboundSms, enqueue  # noqa: E402

TEXTS = {  # one alert, as rendered per recipient language (two segments at most)
    "fr": "ALERTE K7Q2 N2: attaque a Gabi. 2 signalement(s) independant(s). Nombre: 12. Repondez OK K7Q2",
    "ha": "GARGADI K7Q2 M2: hari a Gabi. Rahotanni 2 masu zaman kansu. Yawa: 12. Amsa TO K7Q2",
    "dje": "ALERTE K7Q2 N2: attaque a Gabi. 2 signalement(s). Nombre: 12. Tu OK K7Q2",
}


async def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--recipients", type=int, default=1000)
    options.add_argument("--distinct", action="store_true",
                         help="a text of its own per recipient (like confirmations): one provider request each")
    args = options.parse_args()
    print(f"machine: {harness.machine()}")
    settings = load_settings(harness.ROOT / "settings.toml", environ={})
    now = datetime.now(UTC)
    with harness.workdir("fanout") as name:
        engine = create_engine(harness.sqlite_url(Path(name)))
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        sessions = session_factory(engine)
        langs = list(TEXTS)
        async with sessions() as session, session.begin():
            await enqueue(session, [OutboundSms(
                dedup_key=f"alert:1:{n}", kind="alert", recipient=f"+2279{n:07d}",
                body=TEXTS[langs[n % 3]] + (f" R{n:05d}" if args.distinct else ""),
                priority=PRIORITY_ALERT) for n in range(args.recipients)], now)
        async with harness.FakeProviderProcess() as fake:
            credentials = fake.credentials_env()
            provider = AfricasTalkingSender(credentials["EWG_AFRICASTALKING__USERNAME"],
                                            credentials["EWG_AFRICASTALKING__API_KEY"], fake.base_url)
            sender = OutboxSender(sessions, provider, settings.outbox, Metrics(), lambda: datetime.now(UTC), "sqlite")
            started = time.perf_counter()
            passes = 0
            while await sender.send_due():
                passes += 1
            elapsed = time.perf_counter() - started
            accepted = (await fake.stats())["accepted"]
            await provider.close()
        async with sessions() as session:
            sent = (await session.execute(select(func.count()).select_from(Outbox).where(
                Outbox.status == "sent"))).scalar_one()
        await engine.dispose()
    texts = args.recipients if args.distinct else len(TEXTS)
    print(f"fan-out: {args.recipients:,} alert SMS ({texts:,} texts) handed to the provider in {elapsed:.3f} s: "
          f"{passes} sender passes of up to {settings.outbox.batch_size}, provider accepted {accepted:,}, "
          f"{sent:,} outbox rows sent (target < 2 s)")


if __name__ == "__main__":
    asyncio.run(main())
