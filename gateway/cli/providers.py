"""`ewg providers android register-webhooks --url URL`: points the phone's SMS Gateway app at this
gateway, so an operator need not type the app's API calls by hand."""

from __future__ import annotations

import argparse
import asyncio

import aiohttp

from gateway.cli.errors import CliError, add_config
from gateway.config import Settings
from gateway.providers.android import EVENTS, AndroidSender


def register(sub) -> None:
    providers = sub.add_parser("providers", help="SMS providers")
    providers_sub = providers.add_subparsers(dest="providers_command", required=True)
    android = providers_sub.add_parser("android", help="SMS Gateway for Android, on a phone with a local SIM")
    android_sub = android.add_subparsers(dest="android_command", required=True)
    hooks = android_sub.add_parser("register-webhooks",
                                   help=f"register this gateway for the app's events ({', '.join(EVENTS)})")
    add_config(hooks)
    hooks.add_argument("--url", required=True,
                       help="the gateway's public /callbacks/android URL, with ?token= if the callbacks use one")
    hooks.set_defaults(handler=register_webhooks)


def register_webhooks(args: argparse.Namespace, settings: Settings) -> int:
    phone = settings.android
    if not phone.sends_for_real:
        raise CliError("the phone is not configured: set EWG_ANDROID__BASE_URL, EWG_ANDROID__USERNAME and "
                       "EWG_ANDROID__PASSWORD")
    if not args.url.startswith(("https://", "http://")):
        raise CliError(f"--url must be the gateway's http(s) address of /callbacks/android, not {args.url[:80]!r}")

    async def register_all() -> list[tuple[str, int]]:
        sender = AndroidSender(phone.base_url, phone.username, phone.password, phone.sim_number,
                               phone.timeout_seconds)
        try:
            return [(event, await sender.register_webhook(args.url, event)) for event in EVENTS]
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise CliError(f"cannot reach the phone at {phone.base_url}: {type(exc).__name__}") from None
        finally:
            await sender.close()

    answers = asyncio.run(register_all())
    for event, status in answers:
        print(f"{event}: {'registered' if status in (200, 201) else f'refused (HTTP {status})'}")
    return 0 if all(status in (200, 201) for _, status in answers) else 1
