"""`ewg`: the operator's command line. Bad input ends with one clear line, never a traceback."""

from __future__ import annotations

import argparse
import logging
import sys
from importlib.metadata import PackageNotFoundError, version

from gateway.cli import (
    backup,
    data,
    db,
    i18n,
    outbox,
    parse,
    people,
    providers,
    rules,
    secrets,
    serve,
    simulate,
    tokens,
    users,
)
from gateway.cli.errors import CliError
from gateway.config import ConfigError, load_settings
from gateway.parser.lexicon import LexiconError
from gateway.storage.errors import database_unavailable
from gateway.storage.migrate import head_revision

COMMANDS = (serve, db, backup, parse, rules, simulate, data, outbox, people, secrets, users, tokens, i18n, providers)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ewg", description="SMS/USSD early-warning gateway")
    parser.add_argument("--config", default=None, help="settings file (default: settings.toml)")
    parser.add_argument("--version", action=_PrintVersion, nargs=0,
                        help="the gateway's version and the database schema it expects")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.register(sub)
    return parser


class _PrintVersion(argparse.Action):
    """Like argparse's "version" action, but reads the migrations only when asked."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:  # noqa: ANN001
        print(version_line())
        parser.exit()


def version_line() -> str:
    try:
        release = version("ewg")
    except PackageNotFoundError:  # run from a source tree that was never installed
        release = "unknown"
    return f"ewg {release} (database schema {head_revision()})"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # --config is accepted before or after the sub-command.
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings(args.config)
        return int(args.handler(args, settings) or 0)
    except (ConfigError, CliError, LexiconError) as exc:
        print(f"ewg: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - last resort: one line, not a traceback
        if database_unavailable(exc):
            print(f"ewg: database unavailable: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}",
                  file=sys.stderr)
        else:
            print(f"ewg: unexpected error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
