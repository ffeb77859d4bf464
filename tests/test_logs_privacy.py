"""No phone number reaches the log through a database error. On each path that logs one (the USSD
write-behind flush, the outbox sender, the scorer, the timed jobs, the app's error handler) a
statement of that path is made to fail with a phone number among its parameters, in a real
gateway; the log, as the gateway writes it and as Python's logging records it, must not hold it."""

from __future__ import annotations

import asyncio
import io
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from aiohttp import web
from sqlalchemy import event, select

from gateway.config import LoggingSettings
from gateway.logs import log_handler, mask_numbers
from gateway.providers.africastalking_forms import inbound_sms_form
from gateway.runtime import RUNTIME
from gateway.storage.models import Reporter
from tests.support.gateway import make_settings, running_gateway

FOCAL_POINT = "+22790000101"  # demo: approved focal point of Gabi
PLANTED = "+22799887766"  # added to the failing statement's parameters
CALLBACKS_TOKEN = "s3cret-callbacks-token"


@dataclass(frozen=True)
class Path:
    statement: str  # a regular expression matching a statement of this path only
    logged: str  # what the path logs when that statement fails
    settings: dict


PATHS = {
    "ussd flush": Path(r"^\s*(INSERT INTO|UPDATE) ussd_sessions", "writing USSD sessions failed", {}),
    "sender": Path(r"outbox\.claimed_until <", "outbox pass failed", {}),
    "scorer": Path(r"reports\.scored_at IS NULL", "scoring pass failed", {}),
    "timed jobs": Path(r"alerts\.escalation_due_at <=", "timed job escalations failed", {"jobs": {"interval_seconds": 1}}),
    "error handler": Path(r"FROM reporters", "unhandled error on GET /test/reporter", {}),
}


async def reporter_view(request: web.Request) -> web.Response:
    """A view whose database error escapes to the app's error handler (the API and dashboard
    views answer 503 to most; a write in a dashboard form does not): looks a reporter up by number."""
    async with request.app[RUNTIME].sessions() as session:
        await session.execute(select(Reporter.id).where(Reporter.phone == FOCAL_POINT))
    return web.Response(text="found")


def fail_with_a_number(engine, pattern: str) -> None:
    """Statements matching `pattern` get one parameter too many, a phone number: the database
    refuses them, and the error carries their parameters unless the engine hides them."""
    matcher = re.compile(pattern)

    @event.listens_for(engine.sync_engine, "before_cursor_execute", retval=True)
    def plant(conn, cursor, statement, parameters, context, executemany):
        if not matcher.search(statement):
            return statement, parameters
        if executemany:
            return statement, [(*row, PLANTED) for row in parameters]
        return statement, (*(parameters or ()), PLANTED)


async def trigger(name: str, client) -> None:
    if name == "ussd flush":
        for text in ("", "1"):
            form = {"sessionId": "ATUid_log", "serviceCode": "*384*3737#", "phoneNumber": FOCAL_POINT,
                    "networkCode": "61402", "text": text}
            assert (await client.post("/callbacks/at/ussd", params={"token": CALLBACKS_TOKEN}, data=form)).status == 200
    elif name == "scorer":
        form = inbound_sms_form(FOCAL_POINT, "ATTAQUE GABI 3", received_at=datetime.now(UTC))
        assert (await client.post("/callbacks/at/sms", params={"token": CALLBACKS_TOKEN}, data=form)).status == 200
    elif name == "error handler":
        answer = await client.get("/test/reporter")
        assert (answer.status, await answer.text()) == (500, "internal error")


@pytest.fixture
def written_log():
    """The log exactly as the gateway writes it (its own handler and formatter)."""
    stream = io.StringIO()
    handler = log_handler(LoggingSettings(), stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.mark.parametrize("name", list(PATHS))
async def test_a_database_error_logs_no_phone_number(name, db_url, written_log, caplog) -> None:
    path = PATHS[name]
    caplog.set_level(logging.INFO)
    settings = make_settings(db_url, callbacks={"token": CALLBACKS_TOKEN},
                             ussd={"session_store": "memory", "flush_seconds": 0.05},
                             outbox={"poll_seconds": 0.05}, **path.settings)
    gateway = running_gateway(settings)
    gateway._app.router.add_get("/test/reporter", reporter_view)
    async with gateway as client:
        fail_with_a_number(client.server.app[RUNTIME].engine, path.statement)
        await trigger(name, client)
        for _ in range(100):
            if path.logged in written_log.getvalue():
                break
            await asyncio.sleep(0.05)
    written = written_log.getvalue()
    assert path.logged in written, f"the {name} did not log the failure:\n{written[-3000:]}"
    for log in (written, caplog.text):
        for number in (PLANTED, FOCAL_POINT):
            assert number[4:] not in log, f"{number} in the log of the {name}:\n{log[-3000:]}"


def test_numbers_quoted_by_a_library_in_a_traceback_are_masked() -> None:
    """A database's DETAIL line or an SDK's message may quote a value: the formatter masks numbers
    in tracebacks, and leaves dates and times readable."""
    stream = io.StringIO()
    logger = logging.getLogger("tests.logs_privacy")
    handler = log_handler(LoggingSettings(), stream)
    logger.addHandler(handler)
    try:
        try:
            raise ValueError("duplicate key\nDETAIL:  Key (phone)=(+22790123456) already exists; 22790123457")
        except ValueError:
            logger.error("failed at 2026-12-04 16:04:32", exc_info=True)
    finally:
        logger.removeHandler(handler)
    written = stream.getvalue()
    assert "90123456" not in written and "90123457" not in written, written
    assert "+********456" in written and "2026-12-04 16:04:32" in written
    assert mask_numbers("+22790123456") == "+********456"
