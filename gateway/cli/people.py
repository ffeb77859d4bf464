"""`ewg reporters ...` and `ewg committees ...`."""

from __future__ import annotations

from alerts import api as alerts_api
from alerts.api import CommitteeImportError, import_committees_csv
from gateway.cli.common import add_config, add_format_flags, existing_file, in_transaction, write_rows
from gateway.cli.errors import CliError
from gateway.gazetteer.places import PlaceNameError, commune_code
from gateway.kernel.phones import PhoneError, mask_phone, normalise_phone
from gateway.runtime import utc_now
from gateway.storage import reporters as reporter_store
from gateway.storage.gazetteer import load_gazetteer
from gateway.storage.reporters import CsvImportError, read_reporters_csv, set_status, upsert_reporter

PHONE_HELP = "phone number, national (90 12 34 56) or international (+227...)"
LANG_HELP = "language of the SMS they receive: fr (default), ha (Hausa) or dje (Zarma)"


def register(sub) -> None:
    reporters = sub.add_parser("reporters", help="focal points")
    rsub = reporters.add_subparsers(dest="reporters_command", required=True)
    listing = rsub.add_parser("list", help="list focal points (numbers masked unless --show-numbers)")
    add_config(listing)
    add_format_flags(listing)
    listing.add_argument("--status", choices=["approved", "pending", "blocked", "unregistered"],
                         help="only focal points in this state: approved, pending, blocked, unregistered")
    listing.add_argument("--show-numbers", action="store_true", help="whole phone numbers instead of masked ones")
    listing.set_defaults(handler=list_reporters)
    add = rsub.add_parser("add", help="add (or update) an approved focal point")
    add_config(add)
    add.add_argument("phone", help=PHONE_HELP)
    add.add_argument("--commune", required=True, help="the commune they report from: P-code or name")
    add.add_argument("--name", default=None, help="their name, as operators will see it")
    add.add_argument("--lang", choices=["fr", "ha", "dje"], default="fr", help=LANG_HELP)
    add.set_defaults(handler=add_reporter)
    for verb, status in (("approve", "approved"), ("block", "blocked")):
        cmd = rsub.add_parser(verb, help=f"set a focal point {status}")
        add_config(cmd)
        cmd.add_argument("phone", help=PHONE_HELP)
        cmd.set_defaults(handler=lambda args, settings, s=status: set_reporter_status(args, settings, s))
    imp = rsub.add_parser("import", help="CSV phone,name,commune,lang (imported reporters are approved)")
    add_config(imp)
    imp.add_argument("file", help="CSV with a header row phone,name,commune,lang")
    imp.set_defaults(handler=import_reporters)

    committees = sub.add_parser("committees", help="alert recipients (commune, department, region)")
    csub = committees.add_subparsers(dest="committees_command", required=True)
    clist = csub.add_parser("list", help="list committee members (numbers masked unless --show-numbers)")
    add_config(clist)
    add_format_flags(clist)
    clist.add_argument("--area", default=None, help="only this area's committee (P-code)")
    clist.add_argument("--show-numbers", action="store_true", help="whole phone numbers instead of masked ones")
    clist.set_defaults(handler=list_members)
    cadd = csub.add_parser("add", help="add a member to an area's committee")
    add_config(cadd)
    cadd.add_argument("phone", help=PHONE_HELP)
    cadd.add_argument("--area", required=True, help="commune, department or region P-code")
    cadd.add_argument("--role", choices=["member", "chair", "authority"], default="member",
                      help="member (default), chair or authority")
    cadd.add_argument("--name", default=None, help="their name, as operators will see it")
    cadd.add_argument("--lang", choices=["fr", "ha", "dje"], default="fr", help=LANG_HELP)
    cadd.set_defaults(handler=add_member)
    cremove = csub.add_parser("remove", help="remove a member (from one area, or all)")
    add_config(cremove)
    cremove.add_argument("phone", help=PHONE_HELP)
    cremove.add_argument("--area", default=None, help="only from this area's committee (P-code; default: all)")
    cremove.set_defaults(handler=remove_member)
    cimp = csub.add_parser("import", help="CSV phone,name,area,role,lang")
    add_config(cimp)
    cimp.add_argument("file", help="CSV with a header row phone,name,area,role,lang")
    cimp.set_defaults(handler=import_members)


def _phone(settings, raw: str) -> str:
    try:
        return normalise_phone(raw, settings.gateway.default_region, settings.gateway.accepted_regions)
    except PhoneError as exc:
        raise CliError(str(exc)) from None


async def _commune_resolver(session):
    gazetteer = await load_gazetteer(session)

    def resolve(text: str) -> str | None:
        return gazetteer.resolve_commune(text)

    return resolve


def _why_no_commune(gazetteer, text: str) -> str:
    """Why a name designates no commune: unknown (with the nearest names) or several (with each)."""
    try:
        commune_code(gazetteer, text)
    except PlaceNameError as exc:
        return str(exc)
    return f"unknown commune {text[:60]!r}"


def list_reporters(args, settings) -> int:
    async def work(session):
        return await reporter_store.list_reporters(session, args.status)

    rows = [{"id": r.id, "phone": r.phone if args.show_numbers else mask_phone(r.phone), "name": r.name,
             "commune": r.commune_pcode, "lang": r.lang, "status": r.status,
             "last_report_at": r.last_report_at.isoformat() if r.last_report_at else None}
            for r in in_transaction(settings, work)]
    write_rows(rows, args.fmt, ["id", "phone", "name", "commune", "lang", "status", "last_report_at"])
    return 0


def add_reporter(args, settings) -> int:
    phone = _phone(settings, args.phone)

    async def work(session):
        gazetteer = await load_gazetteer(session)
        commune = gazetteer.resolve_commune(args.commune)
        if commune is None:
            raise CliError(_why_no_commune(gazetteer, args.commune))
        return await upsert_reporter(session, phone, name=args.name, commune=commune, lang=args.lang,
                                     status="approved", now=utc_now())

    reporter = in_transaction(settings, work)
    print(f"focal point {mask_phone(reporter.phone)} approved for {reporter.commune_pcode}")
    return 0


def set_reporter_status(args, settings, status: str) -> int:
    phone = _phone(settings, args.phone)

    async def work(session):
        return await set_status(session, phone, status)

    if in_transaction(settings, work) is None:
        raise CliError(f"no reporter with number {mask_phone(phone)}")
    print(f"{mask_phone(phone)}: {status}")
    return 0


def import_reporters(args, settings) -> int:
    path = existing_file(args.file)

    async def work(session):
        resolve = await _commune_resolver(session)
        rows = read_reporters_csv(path, resolve, settings.gateway.default_region, settings.gateway.accepted_regions)
        now = utc_now()
        for row in rows:
            await upsert_reporter(session, row.phone, name=row.name, commune=row.commune_pcode, lang=row.lang,
                                  status="approved", now=now)
        return len(rows)

    try:
        count = in_transaction(settings, work)
    except CsvImportError as exc:
        raise CliError("nothing imported:\n" + "\n".join(exc.errors)) from None
    print(f"{count} focal points imported")
    return 0


def list_members(args, settings) -> int:
    async def work(session):
        return await alerts_api.list_members(session, args.area)

    rows = [{"id": m.id, "phone": m.phone if args.show_numbers else mask_phone(m.phone), "name": m.name,
             "area": m.area_pcode, "role": m.role, "lang": m.lang}
            for m in in_transaction(settings, work)]
    write_rows(rows, args.fmt, ["id", "phone", "name", "area", "role", "lang"])
    return 0


def add_member(args, settings) -> int:
    phone = _phone(settings, args.phone)

    async def work(session):
        return await alerts_api.add_member(session, phone=phone, name=args.name, area=args.area, role=args.role, lang=args.lang)

    try:
        in_transaction(settings, work)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    print(f"{mask_phone(phone)} added to {args.area} as {args.role}")
    return 0


def remove_member(args, settings) -> int:
    phone = _phone(settings, args.phone)

    async def work(session):
        return await alerts_api.remove_member(session, phone, args.area)

    removed = in_transaction(settings, work)
    if not removed:
        raise CliError(f"{mask_phone(phone)} is not a committee member" + (f" of {args.area}" if args.area else ""))
    print(f"{mask_phone(phone)} removed ({removed})")
    return 0


def import_members(args, settings) -> int:
    path = existing_file(args.file)

    async def work(session):
        return await import_committees_csv(session, path, settings.gateway.default_region,
                                           settings.gateway.accepted_regions)

    try:
        count = in_transaction(settings, work)
    except CommitteeImportError as exc:
        raise CliError("nothing imported:\n" + "\n".join(exc.errors)) from None
    print(f"{count} committee members imported")
    return 0
