"""`ewg gazetteer import` and `neighbours`, `ewg reports`, `ewg alerts`: reference data in, records out."""

from __future__ import annotations

import json
from argparse import ArgumentTypeError
from datetime import UTC, datetime

from sqlalchemy import select

from alerts.api import RulesError, load_rules, neighbour_pairs
from gateway.cli.alert_actions import resolve_alert
from gateway.cli.common import add_config, add_format_flags, existing_file, in_transaction, write_rows
from gateway.cli.errors import CliError
from gateway.cli.tokens import actor
from gateway.dashboard.audit import record
from gateway.gazetteer.places import PlaceNameError, commune_code
from gateway.gazetteer.readers import GazetteerFormatError, read_gazetteer_files
from gateway.runtime import utc_now
from gateway.storage.exports import alert_geojson, alert_rows, report_rows
from gateway.storage.gazetteer import census_to_pcode, import_batch, load_gazetteer
from gateway.storage.models import AdminUnit

REPORT_COLUMNS = ["id", "ref", "external_id", "channel", "received_at", "incident", "secondary", "commune",
                  "village", "count", "status", "trust", "reporter", "lang", "free_text"]
ALERT_STATUSES = ("open", "acknowledged", "escalated", "resolved", "expired")
SINCE_HELP = "from this date: YYYY-MM-DD (UTC midnight) or ISO 8601, e.g. 2026-11-24T08:00+01:00"
ALERT_COLUMNS = ["id", "code", "commune", "incident", "level", "status", "opened_at", "acknowledged_at",
                 "acknowledged_by", "resolved_at", "report_ids"]


def register(sub) -> None:  # noqa: ANN001
    gazetteer = sub.add_parser("gazetteer", help="administrative units and localities")
    gsub = gazetteer.add_subparsers(dest="gazetteer_command", required=True)
    imp = gsub.add_parser("import", help="load OCHA commune tables and the locality register")
    add_config(imp)
    imp.add_argument("files", nargs="+", help="CSV files: OCHA commune tables with P-codes, the locality register")
    imp.set_defaults(handler=import_gazetteer)
    near = gsub.add_parser("neighbours", help="a commune's neighbours, their distances and where each pair comes from")
    add_config(near)
    near.add_argument("pcode", help="the commune's P-code, e.g. NE004006003")
    near.add_argument("--json", dest="fmt", action="store_const", const="json", default="table", help="JSON lines")
    near.set_defaults(handler=list_neighbours)

    reports = sub.add_parser("reports", help="export stored reports (a table; --json or --csv for files)")
    add_config(reports)
    add_format_flags(reports)
    reports.add_argument("--since", type=_date, default=None, metavar="DATE", help=SINCE_HELP)
    reports.add_argument("--commune", default=None, help="only this commune: P-code or name (e.g. Gabi)")
    reports.set_defaults(handler=export_reports)

    alerts = sub.add_parser("alerts", help="export alerts (a table; --json, --csv or --geojson for files), "
                                           "or resolve one")
    add_config(alerts)
    add_format_flags(alerts)
    alerts.add_argument("--geojson", dest="fmt", action="store_const", const="geojson",
                        help="one GeoJSON FeatureCollection, each alert a point at its commune's centre")
    alerts.add_argument("--status", default=None, choices=ALERT_STATUSES,
                        help=f"only alerts in this state: {', '.join(ALERT_STATUSES)}")
    alerts.add_argument("--resolve", metavar="CODE", default=None, help="resolve an alert by its code")
    alerts.set_defaults(handler=export_alerts)


def _date(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ArgumentTypeError(f"not a date: {text!r} (expected YYYY-MM-DD or ISO 8601)") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def import_gazetteer(args, settings) -> int:  # noqa: ANN001
    paths = [existing_file(path) for path in args.files]

    async def work(session):  # noqa: ANN001, ANN202
        try:
            # Stored communes let a locality register imported on its own find its communes.
            batch = read_gazetteer_files(paths, await census_to_pcode(session))
        except GazetteerFormatError as exc:
            raise CliError(str(exc)) from None
        return await import_batch(session, batch, settings.spillover.cross_border_km)

    units, localities = in_transaction(settings, work)
    print(f"imported {units} administrative units and {localities} localities "
          "(restart the gateway, or it keeps the gazetteer it loaded)")
    return 0


_BETWEEN = {"imported": "centres", "computed": "nearest points", "rules": "centres"}


def list_neighbours(args, settings) -> int:  # noqa: ANN001
    pcode = args.pcode.strip().upper()

    async def work(session):  # noqa: ANN001, ANN202
        units = {u.pcode: u for u in (await session.execute(select(AdminUnit))).scalars()}
        if pcode not in units or units[pcode].level != 3:
            raise CliError(f"unknown commune P-code {pcode!r} (ewg gazetteer import first)")
        try:
            rules = load_rules(settings.rules_path, frozenset(units))
        except RulesError as exc:
            raise CliError("rules refused:\n" + "\n".join(exc.errors)) from None
        pairs = await neighbour_pairs(session, pcode, rules.spillover.overrides)
        return units, pairs

    units, pairs = in_transaction(settings, work)
    rows = []
    for pair in pairs:
        unit = units.get(pair.neighbour)
        rows.append({"commune": pcode, "neighbour": pair.neighbour, "name": unit.name if unit else None,
                     "country": unit.country if unit else pair.neighbour[:2], "distance_km": pair.distance_km,
                     "between": _BETWEEN[pair.source] if pair.distance_km is not None else None,
                     "source": pair.source, "rule": pair.where, "removed_by": pair.removed_by})
    if args.fmt == "json":
        write_rows(rows, "json", [])
        return 0
    home = units[pcode]
    print(f"{home.name} ({pcode}, {home.country}): {sum(p.stands for p in pairs)} neighbour(s); across a border "
          f"within {settings.spillover.cross_border_km:g} km ([spillover] cross_border_km, at import)")
    for row in rows:
        km = f"{row['distance_km']:.1f} km ({row['between']})" if row["distance_km"] is not None else "-"
        source = f"added by {row['rule']}" if row["rule"] else row["source"]
        removed = f"  REMOVED by {row['removed_by']}" if row["removed_by"] else ""
        print(f"  {row['neighbour']:<12} {row['name'] or '(outside the gazetteer)':<24} {row['country']}  "
              f"{km:<26} {source}{removed}")
    return 0


def export_reports(args, settings) -> int:  # noqa: ANN001
    async def work(session):  # noqa: ANN001, ANN202
        commune = None
        if args.commune:
            try:
                commune = commune_code(await load_gazetteer(session), args.commune)
            except PlaceNameError as exc:
                raise CliError(str(exc)) from None
        rows = await report_rows(session, since=args.since, commune=commune)
        await _audit_export(session, "reports", args.fmt, len(rows))
        return rows

    write_rows(in_transaction(settings, work), args.fmt, REPORT_COLUMNS)
    return 0


async def _audit_export(session, what: str, fmt: str, count: int) -> None:  # noqa: ANN001
    """An export by the person at the terminal, as the dashboard's exports are audited."""
    await record(session, utc_now(), actor(), "export", f"{what}.{fmt}", f"{count} rows", "local")


def export_alerts(args, settings) -> int:  # noqa: ANN001
    if args.resolve:
        return resolve_alert(settings, args.resolve)

    async def work(session):  # noqa: ANN001, ANN202
        rows = await alert_rows(session, status=args.status)
        await _audit_export(session, "alerts", args.fmt, len(rows))
        return (await alert_geojson(session, rows)) if args.fmt == "geojson" else rows

    result = in_transaction(settings, work)
    if args.fmt == "geojson":
        print(json.dumps(result, ensure_ascii=False))
    else:
        write_rows(result, args.fmt, ALERT_COLUMNS)
    return 0
