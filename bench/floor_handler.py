"""The second reference for the ingest benchmark: the least a durable handler can do in this
stack. Same form checks as the bare handler, then the gateway's own parser and confirmation
text, then one group commit per batch through the plain `sqlite3` module on one thread (no ORM,
no SQL compilation, three rows per message: message unique on the provider's id, report, reply),
WAL with synchronous=FULL like the gateway, each callback answered after its commit. It looks up
no reporter, rate-limits nothing, scores nothing, keeps no metrics and sends nothing: a floor
under the gateway's cost, not a design for it.

    .venv/bin/python bench/floor_handler.py --port 8098 --gazetteer-db sqlite+aiosqlite:///g.db --store floor.db
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.kernel.taxonomy import load_taxonomy  # noqa: E402
from gateway.providers.africastalking import FormError, parse_inbound_sms  # noqa: E402
from gateway.sms import replies  # noqa: E402
from gateway.sms.references import encode_ref  # noqa: E402

MAX_BATCH = 64
SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, external_id TEXT NOT NULL UNIQUE, sender TEXT,
    text TEXT, received_at TEXT, kind TEXT);
CREATE TABLE IF NOT EXISTS reports (id INTEGER PRIMARY KEY, ref TEXT, message_id INTEGER, incident TEXT,
    commune TEXT, count INTEGER, lang TEXT, received_at TEXT);
CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY, dedup_key TEXT UNIQUE, recipient TEXT, body TEXT,
    status TEXT, created_at TEXT);
"""


class Store:
    """One sqlite3 connection used only from one worker thread; a batch is one transaction."""

    def __init__(self, path: str):
        self.worker = ThreadPoolExecutor(max_workers=1)
        self.connection: sqlite3.Connection | None = None
        self.worker.submit(self._open, path).result()

    def _open(self, path: str) -> None:
        self.connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=FULL")
        self.connection.executescript(SCHEMA)

    def insert_messages(self, rows: list[tuple]) -> list[int | None]:
        """BEGIN, then the messages; None for a provider id already stored. The transaction stays open."""
        cursor = self.connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        ids = []
        for row in rows:
            found = cursor.execute("INSERT INTO messages (external_id, sender, text, received_at, kind) "
                                   "VALUES (?, ?, ?, ?, 'pending') ON CONFLICT DO NOTHING RETURNING id", row).fetchone()
            ids.append(found[0] if found else None)
        return ids

    def finish(self, reports: list[tuple], outbox: list[tuple], kinds: list[tuple]) -> None:
        cursor = self.connection.cursor()
        cursor.executemany("INSERT INTO reports (ref, message_id, incident, commune, count, lang, received_at) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?)", reports)
        cursor.executemany("INSERT INTO outbox (dedup_key, recipient, body, status, created_at) "
                           "VALUES (?, ?, ?, 'queued', ?) ON CONFLICT DO NOTHING", outbox)
        cursor.executemany("UPDATE messages SET kind = ? WHERE id = ?", kinds)
        cursor.execute("COMMIT")


class Floor:
    def __init__(self, store: Store, parser, taxonomy):
        self.store, self.parser, self.taxonomy = store, parser, taxonomy
        self.queue: asyncio.Queue = asyncio.Queue()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self.queue.get()]
            while len(batch) < MAX_BATCH and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            now = datetime.now(UTC).isoformat()
            ids = await loop.run_in_executor(self.store.worker, self.store.insert_messages, [
                (sms.external_id, sms.sender, sms.text, sms.received_at.isoformat()) for sms, _ in batch])
            reports, outbox, kinds = [], [], []
            for (sms, _), message_id in zip(batch, ids, strict=True):
                if message_id is None:
                    continue
                parsed = self.parser.parse(sms.text, lang=None, home=None)
                lang = parsed.lang or "fr"
                if parsed.kind == "report" and parsed.incident:
                    ref = encode_ref(message_id)
                    reports.append((ref, message_id, parsed.incident, parsed.commune, parsed.count, lang,
                                    sms.received_at.isoformat()))
                    body = replies.confirmation(lang, self.taxonomy, ref, parsed.incident, parsed.commune_name,
                                                parsed.count, verified=False)
                else:
                    body = replies.text(lang, replies.HELP)
                outbox.append((f"reply:{message_id}", sms.sender, body, now))
                kinds.append((parsed.kind, message_id))
            await loop.run_in_executor(self.store.worker, self.store.finish, reports, outbox, kinds)
            for (_, future), message_id in zip(batch, ids, strict=True):
                future.set_result(message_id)

    async def inbound_sms(self, request: web.Request) -> web.Response:
        form = {key: value for key, value in (await request.post()).items() if isinstance(value, str)}
        try:
            sms = parse_inbound_sms(form, "NE")
        except FormError as exc:
            return web.Response(status=400, text=str(exc), content_type="text/plain")
        future = asyncio.get_running_loop().create_future()
        await self.queue.put((sms, future))
        stored = await future
        return web.Response(text="stored" if stored else "duplicate", content_type="text/plain")


async def load_parser(database_url: str):
    from gateway.parser import load_parser as build
    from gateway.storage.db import create_engine, session_factory
    from gateway.storage.gazetteer import load_gazetteer

    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            return build(await load_gazetteer(session))
    finally:
        await engine.dispose()


async def healthz(_request: web.Request) -> web.Response:
    return web.Response(text="ok")


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--port", type=int, default=8098)
    options.add_argument("--gazetteer-db", required=True, help="a gateway database holding the gazetteer")
    options.add_argument("--store", required=True, help="the SQLite file this handler writes")
    args = options.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    parser = asyncio.run(load_parser(args.gazetteer_db))
    floor = Floor(Store(args.store), parser, load_taxonomy())

    async def start(_app: web.Application):
        task = asyncio.create_task(floor.run())
        yield
        task.cancel()

    app = web.Application(client_max_size=8192)
    app.cleanup_ctx.append(start)
    app.router.add_post("/callbacks/at/sms", floor.inbound_sms)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
