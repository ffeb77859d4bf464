"""The reference for the ingest benchmark: a bare aiohttp handler that reads and parses the same
inbound-SMS callback form as the gateway (the provider adapter's field checks, phone number and
date) and answers 200 without storing anything. Same event loop (uvloop when installed), no
access log, one process: the ceiling the gateway is compared with.

    .venv/bin/python bench/bare_handler.py --port 8099
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.providers.africastalking import FormError, parse_inbound_sms  # noqa: E402


async def inbound_sms(request: web.Request) -> web.Response:
    form = {key: value for key, value in (await request.post()).items() if isinstance(value, str)}
    try:
        sms = parse_inbound_sms(form, "NE")
    except FormError as exc:
        return web.Response(status=400, text=str(exc), content_type="text/plain")
    return web.Response(text=f"parsed: {len(sms.text)}", content_type="text/plain")


async def healthz(_request: web.Request) -> web.Response:
    return web.Response(text="ok")


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--port", type=int, default=8099)
    args = options.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    app = web.Application(client_max_size=8192)
    app.router.add_post("/callbacks/at/sms", inbound_sms)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
