"""The providers this gateway sends through, built from settings: one entry per provider in
BUILDERS and CONFIGURED; `[providers] order` and `routes` checked once, at start."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from gateway.config import ConfigError, Settings
from gateway.providers.africastalking import AfricasTalkingSender
from gateway.providers.android import AndroidSender
from gateway.providers.base import SmsProvider
from gateway.providers.kannel import KannelSender
from gateway.providers.log import LogProvider
from gateway.providers.registry import KNOWN_PROVIDERS, LOG, Providers


def _africastalking(settings: Settings) -> SmsProvider | None:
    at = settings.africastalking
    if not at.sends_for_real:
        return None
    return AfricasTalkingSender(at.username, at.api_key, at.base_url, at.sender_id, at.timeout_seconds)


def _android(settings: Settings) -> SmsProvider | None:
    phone = settings.android
    if not phone.sends_for_real:
        return None
    return AndroidSender(phone.base_url, phone.username, phone.password, phone.sim_number, phone.timeout_seconds)


def _kannel(settings: Settings) -> SmsProvider | None:
    kannel = settings.kannel
    if not kannel.sends_for_real:
        return None
    return KannelSender(kannel.sendsms_url, kannel.username, kannel.password, kannel.smsc, kannel.dlr_base_url,
                        settings.callbacks.token, kannel.timeout_seconds)


# name -> the sender its settings configure (None: not configured). A provider is one entry here.
BUILDERS: dict[str, Callable[[Settings], SmsProvider | None]] = {
    "africastalking": _africastalking,
    "android": _android,
    "kannel": _kannel,
}


# name -> whether its credentials are set (asked without making a sender).
CONFIGURED: dict[str, Callable[[Settings], bool]] = {
    "africastalking": lambda settings: settings.africastalking.sends_for_real,
    "android": lambda settings: settings.android.sends_for_real,
    "kannel": lambda settings: settings.kannel.sends_for_real,
}


def configured(settings: Settings) -> list[str]:
    """The names of the providers whose credentials are set, in KNOWN_PROVIDERS order."""
    return [name for name in KNOWN_PROVIDERS if name in CONFIGURED and CONFIGURED[name](settings)]


def parse_routes(routes: Mapping[str, str]) -> dict[str, list[str]]:
    """`[providers] routes` values ("kannel, android") as lists of names; an unknown name is a ConfigError."""
    parsed = {}
    for prefix, value in routes.items():
        names = [part.strip() for part in value.split(",") if part.strip()]
        for name in names:
            if name not in KNOWN_PROVIDERS:
                raise ConfigError(f"providers.routes[{prefix!r}]: unknown provider {name!r} "
                                  f"(known: {', '.join(KNOWN_PROVIDERS)})")
        parsed[prefix] = names
    return parsed


def check_order(settings: Settings) -> list[str]:
    """`[providers] order` (every configured provider when empty); a ConfigError names a provider
    that is unknown or listed without its credentials."""
    available = configured(settings)
    order = list(settings.providers.order) or available
    for name in order:
        if name not in KNOWN_PROVIDERS:
            raise ConfigError(f"providers.order: unknown provider {name!r} (known: {', '.join(KNOWN_PROVIDERS)})")
        if name not in available:
            raise ConfigError(f"providers.order names {name!r}, but its credentials are not set "
                              f"(EWG_{name.upper()}__...)")
    parse_routes(settings.providers.routes)
    return order


def build_providers(settings: Settings) -> Providers:
    """Every configured provider's sender, made inside the running loop (each opens its connection
    pool there); the log provider alone when none is configured."""
    order = check_order(settings)
    if not order:
        return Providers({LOG: LogProvider()}, [LOG])
    senders = {}
    for name in order:
        sender = BUILDERS[name](settings) if name in BUILDERS else None
        if sender is None:
            raise ConfigError(f"providers.order names {name!r}, but this gateway cannot build it")
        senders[name] = sender
    return Providers(senders, order, parse_routes(settings.providers.routes))
