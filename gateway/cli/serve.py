"""`ewg serve`: HTTP gateway, scheduler and outbound sender in one process."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal

from aiohttp import web

from gateway.app import StaleSchema, create_app
from gateway.cli.common import add_config
from gateway.cli.errors import CliError
from gateway.compiled import build_state
from gateway.config import Settings
from gateway.dashboard.users import ensure_user
from gateway.deployment import (
    DemoSecrets,
    RefusedStart,
    check_production,
    demo_secrets_path,
    with_demo_secrets,
)
from gateway.logs import configure_logging
from gateway.runtime import RUNTIME, Runtime
from gateway.storage.db import UnsupportedDatabase


def register(sub) -> None:
    serve = sub.add_parser("serve", help="run the gateway")
    add_config(serve)
    serve.add_argument("--port", type=int, default=None, help="overrides http.port")
    serve.add_argument("--demo", action="store_true",
                       help="demo mode: throw-away secrets, demo people, SMS to the log (never for real use)")
    serve.set_defaults(handler=run_serve)


def _log_parser_build(log: logging.Logger) -> None:
    kind, stale = build_state()
    log.info("parser: %s", kind if kind == "compiled" else f"{kind} (slower; see setup.py)")
    if stale:
        log.warning("compiled modules older than their sources, so the edits do not run: %s "
                    "(reinstall: make, or pip install -e .)", ", ".join(stale))


def settings_to_serve(demo: bool, settings: Settings, log: logging.Logger) -> tuple[Settings, DemoSecrets | None]:
    """Production's settings once checked, or demo mode's with throw-away secrets; refusals name
    the setting in one line."""
    try:
        if not (demo or settings.gateway.demo):
            check_production(settings)
            return settings, None
        settings, secrets = with_demo_secrets(settings)
    except RefusedStart as exc:
        raise CliError(f"refusing to start: {exc}") from None
    log.warning("DEMO MODE, not for real use: throw-away secrets (in %s; dashboard user %r), demo people "
                "loaded into an empty database, outbound SMS to the log", demo_secrets_path(settings),
                secrets.dashboard_user)
    return settings, secrets


async def add_demo_admin(runtime: Runtime, secrets: DemoSecrets) -> None:
    async with runtime.sessions() as session, session.begin():
        await ensure_user(session, secrets.dashboard_user, secrets.dashboard_password, "admin")


def run_serve(args, settings) -> int:
    configure_logging(settings.logging)
    settings, demo_secrets = settings_to_serve(args.demo, settings, logging.getLogger("gateway"))
    port = args.port or settings.http.port
    try:
        import uvloop  # optional speed-up (pip install .[speed])

        uvloop.install()
    except ImportError:
        pass

    async def run() -> None:
        app = create_app(settings)
        runner = web.AppRunner(app, access_log=None)
        try:
            await runner.setup()
        except (StaleSchema, UnsupportedDatabase) as exc:
            raise CliError(str(exc)) from None
        except RefusedStart as exc:
            raise CliError(f"refusing to start: {exc}") from None
        if demo_secrets is not None:
            await add_demo_admin(app[RUNTIME], demo_secrets)
        # What start-up loaded (the gazetteer's indexes) lives as long as the process: frozen out of
        # the collector's sight, a full collection no longer walks it while callbacks wait.
        gc.collect()
        gc.freeze()
        site = web.TCPSite(runner, settings.http.host, port, reuse_address=True)
        await site.start()
        log = logging.getLogger("gateway")
        log.info("listening on %s:%d", settings.http.host, port)
        if demo_secrets is not None:  # throw-away, so printed: a new user's first step is to log in
            log.warning("demo dashboard: http://localhost:%d/dashboard/login user %s password %s", port,
                        demo_secrets.dashboard_user, demo_secrets.dashboard_password)
        _log_parser_build(log)
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(signum, stop.set)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    return 0
