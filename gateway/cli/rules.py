"""`ewg rules check` and `ewg replay`."""

from __future__ import annotations

from alerts.api import RulesError, load_rules, replay
from gateway.cli.common import add_config, in_transaction, write_rows
from gateway.cli.data import SINCE_HELP, _date
from gateway.cli.errors import CliError
from gateway.cli.parse import gazetteer_for_cli
from gateway.gazetteer.places import known_area_codes
from gateway.storage.gazetteer import load_gazetteer


def register(sub) -> None:
    rules = sub.add_parser("rules", help="alert rules")
    rsub = rules.add_subparsers(dest="rules_command", required=True)
    check = rsub.add_parser("check", help="validate rule files; exit 1 with file:line: message on any error")
    add_config(check)
    check.add_argument("path", nargs="?", default=None, help="rules directory or file (default: rules.path)")
    check.set_defaults(handler=check_rules)

    replay = sub.add_parser("replay", help="re-score stored reports under a rule set (changes nothing)")
    add_config(replay)
    replay.add_argument("--since", type=_date, required=True, metavar="DATE", help=SINCE_HELP)
    replay.add_argument("--until", type=_date, default=None, metavar="DATE",
                        help="before this date (same forms as --since; default: now)")
    replay.add_argument("--rules", default=None, help="rules directory or file (default: rules.path)")
    replay.add_argument("--json", dest="fmt", action="store_const", const="json", default="table",
                        help="JSON lines")
    replay.set_defaults(handler=run_replay)


def _known_areas(settings) -> frozenset[str]:
    return known_area_codes(gazetteer_for_cli(settings))


def load_checked(settings, path: str | None):
    try:
        return load_rules(path or settings.rules_path, _known_areas(settings))
    except RulesError as exc:
        raise CliError("rules refused:\n" + "\n".join(exc.errors)) from None


def check_rules(args, settings) -> int:
    """Errors, then warnings; exit 1 on any error, 0 when only warnings (the rules load)."""
    try:
        rules = load_rules(args.path or settings.rules_path, _known_areas(settings))
    except RulesError as exc:
        for line in (*exc.errors, *exc.warnings):
            print(line)
        return 1
    for warning in rules.warnings:
        print(warning)
    noted = f" ({len(rules.warnings)} warning(s))" if rules.warnings else ""
    print(f"{args.path or settings.rules_path}: rules OK{noted}")
    return 0


def run_replay(args, settings) -> int:
    rules = load_checked(settings, args.rules)

    async def work(session):
        return await replay(session, rules, args.since, args.until, await load_gazetteer(session))

    alerts = in_transaction(settings, work)
    rows = [alert.to_dict() for alert in alerts]
    write_rows(rows, args.fmt, ["opened_at", "commune", "incident", "level", "reporters", "report_ids", "resolved_at"])
    if args.fmt != "json":
        print(f"{len(rows)} alert(s) would have been raised")
    return 0
