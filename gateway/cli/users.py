"""`ewg users ...`: the people who log in to the dashboard (table dashboard_users)."""

from __future__ import annotations

import getpass
import sys

from gateway.cli.common import add_config, add_format_flags, in_transaction, write_rows
from gateway.cli.errors import CliError
from gateway.dashboard.scope import EVERYWHERE, Scope, ScopeError, resolve_areas
from gateway.dashboard.users import (
    MIN_PASSWORD_LENGTH,
    ROLES,
    UserError,
    add_user,
    checked_name,
    list_users,
    remove_user,
    set_password,
    set_scope,
)

SCOPE_HELP = ("the area the user sees and acts on: region, department or commune names or P-codes, "
              "comma-separated (e.g. Maradi or NE004,NE006011005); default: everywhere")
NAME_HELP = "the user's login name"


def register(sub) -> None:
    users = sub.add_parser("users", help="dashboard users")
    usub = users.add_subparsers(dest="users_command", required=True)
    add = usub.add_parser("add", help="add a dashboard user (asks the password twice, or --password-stdin)")
    add_config(add)
    add.add_argument("name", help=NAME_HELP)
    add.add_argument("--role", choices=ROLES, default="viewer",
                     help="viewer: reads; operator: also labels the review queue; admin: everything")
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    add.add_argument("--scope", default=None, help=SCOPE_HELP)
    add.set_defaults(handler=add_command)
    scope = usub.add_parser("scope", help="set the area a user sees and acts on (ends the user's sessions)")
    add_config(scope)
    scope.add_argument("name", help=NAME_HELP)
    scope.add_argument("areas", nargs="?", default=None, help=SCOPE_HELP.replace("; default: everywhere", ""))
    scope.add_argument("--everywhere", action="store_true", help="remove the user's scope")
    scope.set_defaults(handler=scope_command)
    passwd = usub.add_parser("passwd", help="set a user's password (ends all of the user's sessions)")
    add_config(passwd)
    passwd.add_argument("name", help=NAME_HELP)
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    passwd.set_defaults(handler=passwd_command)
    listing = usub.add_parser("list", help="list dashboard users")
    add_config(listing)
    add_format_flags(listing)
    listing.set_defaults(handler=list_command)
    remove = usub.add_parser("remove", help="remove a dashboard user (their sessions end)")
    add_config(remove)
    remove.add_argument("name", help=NAME_HELP)
    remove.set_defaults(handler=remove_command)


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        try:
            password = getpass.getpass("password: ")
            if getpass.getpass("password again: ") != password:
                raise CliError("the two passwords differ; nothing changed")
        except EOFError:
            raise CliError("no password given; nothing changed") from None
    else:
        raise CliError("no terminal to ask the password on: give it on stdin with --password-stdin")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise CliError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters; nothing changed")
    return password


def _name(raw: str) -> str:
    try:
        return checked_name(raw)
    except UserError as exc:
        raise CliError(str(exc)) from None


async def scope_of(session, areas: str | None) -> Scope:
    """The scope named on the command line (None: everywhere)."""
    if areas is None:
        return EVERYWHERE
    try:
        return Scope(await resolve_areas(session, areas.split(",")))
    except ScopeError as exc:
        raise CliError(str(exc)) from None


def add_command(args, settings) -> int:
    name = _name(args.name)
    password = read_password(args.password_stdin)

    async def work(session):
        return await add_user(session, name, password, args.role, scope=await scope_of(session, args.scope))

    try:
        user = in_transaction(settings, work)
    except UserError as exc:
        raise CliError(str(exc)) from None
    within = f", scope {', '.join(user.scope)}" if user.scope is not None else ""
    print(f"dashboard user {user.name} added ({user.role}{within})")
    return 0


def scope_command(args, settings) -> int:
    name = _name(args.name)
    if (args.areas is None) == (not args.everywhere):
        raise CliError("give the areas, or --everywhere")

    async def work(session):
        return await set_scope(session, name, await scope_of(session, args.areas))

    try:
        user = in_transaction(settings, work)
    except UserError as exc:
        raise CliError(str(exc)) from None
    print(f"scope of {name}: {', '.join(user.scope) if user.scope is not None else 'everywhere'}; "
          "the user's sessions have ended")
    return 0


def passwd_command(args, settings) -> int:
    name = _name(args.name)
    password = read_password(args.password_stdin)

    async def work(session):
        return await set_password(session, name, password)

    try:
        in_transaction(settings, work)
    except UserError as exc:
        raise CliError(str(exc)) from None
    print(f"password of {name} changed; the user's sessions have ended")
    return 0


def list_command(args, settings) -> int:
    rows = [{"name": u.name, "role": u.role, "scope": u.scope,
             "created_at": u.created_at.isoformat() if u.created_at else None}
            for u in in_transaction(settings, list_users)]
    write_rows(rows, args.fmt, ["name", "role", "scope", "created_at"])
    return 0


def remove_command(args, settings) -> int:
    name = _name(args.name)

    async def work(session):
        return await remove_user(session, name)

    if not in_transaction(settings, work):
        raise CliError(f"no dashboard user {name!r}")
    print(f"dashboard user {name} removed")
    return 0
