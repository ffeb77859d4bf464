"""`ewg outbox`: what the gateway sent, is sending or could not send, newest first, numbers masked."""

from __future__ import annotations

from argparse import ArgumentTypeError

from gateway.cli.common import add_config, add_format_flags, in_transaction, write_rows
from gateway.cli.data import SINCE_HELP, _date
from gateway.providers.registry import KNOWN_PROVIDERS, LOG
from gateway.storage.outbox import KINDS, PENDING, STATUSES
from gateway.storage.outbox_listing import outbox_rows

COLUMNS = ["id", "created_at", "kind", "recipient", "status", "delivery", "provider", "attempts",
           "next_attempt_at", "error"]


def register(sub) -> None:  # noqa: ANN001
    outbox = sub.add_parser("outbox", help="recent outbound SMS: status, provider, attempts (numbers masked)")
    add_config(outbox)
    add_format_flags(outbox)
    outbox.add_argument("--status", choices=(*STATUSES, "pending"), default=None,
                        help=f"only rows in this state: {', '.join(STATUSES)}, or pending (queued or sending)")
    outbox.add_argument("--kind", choices=KINDS, default=None, help=f"only this kind: {', '.join(KINDS)}")
    outbox.add_argument("--provider", choices=(*KNOWN_PROVIDERS, LOG), default=None,
                        help=f"only rows this provider carried: {', '.join((*KNOWN_PROVIDERS, LOG))} (the log: "
                             "no provider configured)")
    outbox.add_argument("--since", type=_date, default=None, metavar="DATE", help=SINCE_HELP)
    outbox.add_argument("--limit", type=_limit, default=50, help="at most this many rows, newest first "
                                                                 "(default 50, at most 10000)")
    outbox.set_defaults(handler=list_outbox)


def _limit(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 10000:
        raise ArgumentTypeError(f"{text[:20]!r} is not a number 1..10000")
    return int(text)


def list_outbox(args, settings) -> int:  # noqa: ANN001
    statuses = PENDING if args.status == "pending" else (args.status,) if args.status else ()

    async def work(session):  # noqa: ANN001, ANN202
        return await outbox_rows(session, statuses=statuses, kind=args.kind, provider=args.provider,
                                 since=args.since, limit=args.limit)

    write_rows(in_transaction(settings, work), args.fmt, COLUMNS)
    return 0
