"""Logging set-up: plain or one JSON object per line. Phone numbers are masked at the call sites;
as a last guard, any run of 8 or more digits in a line (a number quoted by a library in a
traceback: a database's DETAIL line, an SDK's refusal) is masked here as well."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import TextIO

from gateway.config import LoggingSettings

# A number as libraries quote it: 8 or more digits in a row, with or without "+" (dates and times
# have separators, so they stay readable).
_NUMBER_IN_TRACEBACK = re.compile(r"\+?\d{8,}")


def mask_numbers(text: str) -> str:
    """Each such number reduced to its last three digits."""
    def mask(match: re.Match) -> str:
        number = match.group()
        head = "+" if number.startswith("+") else ""
        return head + "*" * (len(number) - len(head) - 3) + number[-3:]

    return _NUMBER_IN_TRACEBACK.sub(mask, text)


class PlainFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        # the whole line: a traceback's text may have been cached unmasked by another handler
        return mask_numbers(super().format(record))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": mask_numbers(record.getMessage()),
        }
        if record.exc_info:
            entry["exc"] = mask_numbers(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def log_handler(settings: LoggingSettings, stream: TextIO | None = None) -> logging.Handler:
    """The gateway's handler (tests attach it to capture the log exactly as it is written)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.json else
                         PlainFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    return handler


def configure_logging(settings: LoggingSettings) -> None:
    root = logging.getLogger()
    root.handlers[:] = [log_handler(settings)]
    root.setLevel(settings.level.upper())
    # APScheduler logs every run of every job at INFO: the rules watcher alone would flood the log.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
