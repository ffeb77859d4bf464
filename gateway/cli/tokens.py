"""`ewg tokens ...`: API tokens per partner, each with a role, a scope and an expiry (table api_tokens;
only a hash is stored). Every change is an audit row."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime, timedelta

from gateway.cli.common import add_config, add_format_flags, in_transaction, write_rows
from gateway.cli.errors import CliError
from gateway.cli.users import SCOPE_HELP, scope_of
from gateway.dashboard.audit import record
from gateway.dashboard.tokens import TokenError, add_token, list_tokens, revoke_token
from gateway.dashboard.users import ROLES
from gateway.runtime import utc_now


def register(sub) -> None:
    tokens = sub.add_parser("tokens", help="API tokens of partners (role, scope, expiry)")
    tsub = tokens.add_subparsers(dest="tokens_command", required=True)
    add = tsub.add_parser("add", help="make a partner's token; it is printed once and only its hash is kept")
    add_config(add)
    add.add_argument("name", help="the partner, e.g. ocha-niamey")
    add.add_argument("--role", choices=ROLES, default="viewer", help="viewer (default), operator or admin")
    add.add_argument("--scope", default=None, help=SCOPE_HELP)
    expiry = add.add_mutually_exclusive_group()
    expiry.add_argument("--days", type=int, default=None, help="expires after this many days (default 365)")
    expiry.add_argument("--expires", default=None, help="expires at this date, YYYY-MM-DD (UTC midnight)")
    expiry.add_argument("--no-expiry", action="store_true", help="never expires (until revoked)")
    add.set_defaults(handler=add_command)
    listing = tsub.add_parser("list", help="list tokens (never the tokens themselves)")
    add_config(listing)
    add_format_flags(listing)
    listing.set_defaults(handler=list_command)
    revoke = tsub.add_parser("revoke", help="revoke a partner's token: refused from its next request")
    add_config(revoke)
    revoke.add_argument("name", help="the partner's token name")
    revoke.set_defaults(handler=revoke_command)


def actor() -> str:
    """Who typed the command, as the audit trail names a person at the terminal."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name for this uid (a bare container)
        return "cli"


def _expiry(args, now: datetime) -> datetime | None:
    if args.no_expiry:
        return None
    if args.expires:
        try:
            day = datetime.strptime(args.expires, "%Y-%m-%d")
        except ValueError:
            raise CliError(f"--expires {args.expires[:30]!r} is not a date YYYY-MM-DD") from None
        return day.replace(tzinfo=UTC)
    days = 365 if args.days is None else args.days
    if not 1 <= days <= 3650:
        raise CliError(f"--days {days} must be 1..3650")
    return now + timedelta(days=days)


def add_command(args, settings) -> int:
    now = utc_now()
    expires_at = _expiry(args, now)

    async def work(session):
        scope = await scope_of(session, args.scope)
        row, token = await add_token(session, args.name, args.role, scope, expires_at, now)
        await record(session, now, actor(), "token_add", row.name,
                     f"role {row.role}, scope {scope.label()}, expires "
                     f"{row.expires_at.isoformat() if row.expires_at else 'never'}", "local")
        return row, token

    try:
        row, token = in_transaction(settings, work)
    except TokenError as exc:
        raise CliError(str(exc)) from None
    print(token)
    expiry = f"expires {row.expires_at:%Y-%m-%d %H:%M} UTC" if row.expires_at else "no expiry"
    print(f"token of {row.name} added ({row.role}, scope {', '.join(row.scope) if row.scope else 'everywhere'}, "
          f"{expiry}); it is shown only now")
    return 0


def list_command(args, settings) -> int:
    now = utc_now()
    rows = []
    for t in in_transaction(settings, list_tokens):
        state = ("revoked" if t.revoked_at else "expired" if t.expires_at and t.expires_at <= now else "active")
        rows.append({"name": t.name, "role": t.role, "scope": ",".join(t.scope) if t.scope is not None else "*",
                     "state": state, "created_at": t.created_at.isoformat(),
                     "expires_at": t.expires_at.isoformat() if t.expires_at else None,
                     "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None})
    write_rows(rows, args.fmt, ["name", "role", "scope", "state", "expires_at"])
    return 0


def revoke_command(args, settings) -> int:
    now = utc_now()

    async def work(session):
        revoked = await revoke_token(session, args.name, now)
        if revoked:
            await record(session, now, actor(), "token_revoke", args.name[:64], None, "local")
        return revoked

    if not in_transaction(settings, work):
        raise CliError(f"no live token of {args.name[:64]!r}")
    print(f"token of {args.name} revoked")
    return 0
