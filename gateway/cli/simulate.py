"""`ewg simulate sms|ussd`: a phone against a running gateway, for demos and training."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from datetime import UTC, datetime

import aiohttp
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from gateway.cli.common import add_config, run_db
from gateway.cli.errors import CliError
from gateway.config import Settings
from gateway.deployment import read_demo_secrets
from gateway.kernel.phones import PhoneError, normalise_phone
from gateway.providers.africastalking_forms import inbound_sms_form, ussd_hop_form
from gateway.storage.models import Outbox

FROM_HELP = ("the phone number the simulated phone has (a demo focal point is +22790000101); "
             "national or international form")


def register(sub: argparse._SubParsersAction) -> None:
    simulate = sub.add_parser("simulate", help="a phone simulator against a running gateway")
    ssub = simulate.add_subparsers(dest="simulate_command", required=True)
    sms = ssub.add_parser("sms", help="send one SMS and show the replies the number receives")
    add_config(sms)
    sms.add_argument("--from", dest="sender", required=True, metavar="PHONE", help=FROM_HELP)
    sms.add_argument("--url", default=None, help="gateway base URL (default: http://127.0.0.1:<http.port>)")
    sms.add_argument("--wait", type=float, default=5.0, help="seconds to wait for replies")
    sms.add_argument("text", nargs="+", help="the SMS text, e.g. ATTAQUE GABI 12")
    sms.set_defaults(handler=simulate_sms)
    ussd = ssub.add_parser("ussd", help="walk the USSD menu in the terminal")
    add_config(ussd)
    ussd.add_argument("--from", dest="sender", required=True, metavar="PHONE", help=FROM_HELP)
    ussd.add_argument("--url", default=None, help="gateway base URL (default: http://127.0.0.1:<http.port>)")
    ussd.add_argument("--service-code", default="*384*3737#", help="the USSD code dialled (default *384*3737#)")
    ussd.set_defaults(handler=simulate_ussd)


def _setup(args: argparse.Namespace, settings: Settings) -> tuple[str, str, dict[str, str]]:
    try:
        phone = normalise_phone(args.sender, settings.gateway.default_region, settings.gateway.accepted_regions)
    except PhoneError as exc:
        raise CliError(str(exc)) from None
    base = (args.url or f"http://127.0.0.1:{settings.http.port}").rstrip("/")
    token = settings.callbacks.token
    if not token:  # a gateway in demo mode made its own throw-away token
        demo = read_demo_secrets(settings)
        token = demo.callbacks_token if demo else ""
    return phone, base, {"token": token} if token else {}


async def _post(base: str, path: str, params: dict, form: dict) -> tuple[int, str]:
    try:
        async with aiohttp.ClientSession() as http, http.post(base + path, params=params, data=form) as response:
            return response.status, await response.text()
    except aiohttp.ClientError as exc:
        raise CliError(f"cannot reach the gateway at {base}: {exc}") from None


def simulate_sms(args: argparse.Namespace, settings: Settings) -> int:
    phone, base, params = _setup(args, settings)

    async def newest_outbox_id(sessions: async_sessionmaker) -> int:
        async with sessions() as session:
            return (await session.execute(select(func.max(Outbox.id)))).scalar_one() or 0

    # Replies are what the outbox gains after this text: a time window would also show the answer to
    # a text sent a moment before.
    before = run_db(settings, newest_outbox_id)
    form = inbound_sms_form(phone, " ".join(args.text), received_at=datetime.now(UTC),
                            to=settings.africastalking.short_code, message_id=f"sim-{uuid.uuid4()}", link_id="")
    status, body = asyncio.run(_post(base, "/callbacks/at/sms", params, form))
    print(f"> {form['text']}\n  gateway: {status} {body}")
    if status != 200:
        return 1

    async def replies(sessions: async_sessionmaker) -> list[str]:
        async with sessions() as session:
            rows = await session.execute(select(Outbox.body).where(
                Outbox.recipient == phone, Outbox.id > before).order_by(Outbox.id))
            return [body for (body,) in rows]

    deadline = time.monotonic() + args.wait
    seen: list[str] = []
    while time.monotonic() < deadline:
        seen = run_db(settings, replies)
        if seen:
            break
        time.sleep(0.3)
    for text in seen:
        print(f"< {text}")
    if not seen:
        print("  (no reply: unknown number over its reply limit, or a duplicate)")
    return 0


def simulate_ussd(args: argparse.Namespace, settings: Settings) -> int:
    phone, base, params = _setup(args, settings)
    session_id = f"sim-{uuid.uuid4()}"
    answers: list[str] = []
    while True:
        form = ussd_hop_form(session_id, args.service_code, phone, "*".join(answers))
        status, body = asyncio.run(_post(base, "/callbacks/at/ussd", params, form))
        if status != 200:
            print(f"gateway answered {status}: {body}")
            return 1
        kind, _, screen = body.partition(" ")
        print("\n" + screen)
        if kind != "CON":
            return 0
        try:
            answers.append(input("> ").strip())
        except EOFError:
            print()
            return 0
        sys.stdout.flush()
