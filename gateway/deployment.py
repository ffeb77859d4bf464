"""What `ewg serve` needs before it opens a port: production's own secrets, or demo mode's
throw-away ones. One owner for the rule "closed by default"."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

from gateway.config import Settings
from gateway.storage.secrets import load_pseudonym_secret

MIN_TOKEN_LENGTH = 16
DEMO_MARK = "demo_database"  # a deployment_secrets row: this database holds demo people


class RefusedStart(Exception):
    """The gateway must not serve with these settings; the message names the setting."""


@dataclass(frozen=True)
class DemoSecrets:
    callbacks_token: str
    api_token: str
    pseudonym_secret: str
    session_secret: str
    dashboard_user: str
    dashboard_password: str

    @classmethod
    def generate(cls) -> DemoSecrets:
        return cls(secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_hex(32),
                   secrets.token_hex(32), "demo", secrets.token_urlsafe(12))


def demo_secrets_path(settings: Settings) -> Path:
    return settings.base_dir / "var" / "demo-secrets.json"


def check_production(settings: Settings) -> None:
    """Refuse a start outside demo mode that lacks a secret, naming the first one missing."""
    for env, value in (("EWG_CALLBACKS__TOKEN", settings.callbacks.token), ("EWG_API__TOKEN", settings.api.token)):
        if len(value) < MIN_TOKEN_LENGTH:
            state = "is not set" if not value else f"is shorter than {MIN_TOKEN_LENGTH} characters"
            raise RefusedStart(f"{env} {state}: set it (`ewg secrets new` makes one), or try the gateway "
                               "with `ewg serve --demo`")
    if not load_pseudonym_secret(settings):
        raise RefusedStart("EWG_GATEWAY__PSEUDONYM_SECRET is not set (nor gateway.pseudonym_secret_file): "
                           "it keys reporters' pseudonyms; `ewg secrets new` makes one")
    if len(settings.dashboard.session_secret) < MIN_TOKEN_LENGTH:
        raise RefusedStart(f"EWG_DASHBOARD__SESSION_SECRET is not set or shorter than {MIN_TOKEN_LENGTH} "
                           "characters: it signs dashboard sessions; `ewg secrets new` makes one")


def real_provider_credentials(settings: Settings) -> str | None:
    """The setting that would make demo mode send real SMS (to demo people's numbers), if any."""
    if settings.africastalking.api_key or settings.africastalking.username:
        return "EWG_AFRICASTALKING__USERNAME/API_KEY"
    if settings.android.base_url or settings.android.username or settings.android.password:
        return "EWG_ANDROID__BASE_URL/USERNAME/PASSWORD"
    if settings.kannel.sendsms_url or settings.kannel.username or settings.kannel.password:
        return "EWG_KANNEL__SENDSMS_URL/USERNAME/PASSWORD"
    return None


def with_demo_secrets(settings: Settings) -> tuple[Settings, DemoSecrets]:
    """Demo settings: every secret left empty is a fresh throw-away one, written (0600) where
    `ewg simulate` finds the callback token."""
    credentials = real_provider_credentials(settings)
    if credentials:
        raise RefusedStart(f"demo mode refuses real provider credentials ({credentials} is set): demo people "
                           "would receive real SMS; unset them, or run without --demo")
    generated = DemoSecrets.generate()
    demo = DemoSecrets(
        settings.callbacks.token or generated.callbacks_token,
        settings.api.token or generated.api_token,
        settings.gateway.pseudonym_secret or generated.pseudonym_secret,
        settings.dashboard.session_secret or generated.session_secret,
        generated.dashboard_user, generated.dashboard_password,
    )
    settings = replace(
        settings,
        callbacks=replace(settings.callbacks, token=demo.callbacks_token),
        api=replace(settings.api, token=demo.api_token),
        gateway=replace(settings.gateway, demo=True, pseudonym_secret=demo.pseudonym_secret),
        dashboard=replace(settings.dashboard, session_secret=demo.session_secret),
    )
    write_demo_secrets(demo_secrets_path(settings), demo)
    return settings, demo


def write_demo_secrets(path: Path, demo: DemoSecrets) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(demo.__dict__, handle, indent=1)


def read_demo_secrets(settings: Settings) -> DemoSecrets | None:
    """The secrets of the last demo run from these settings' folder, for `ewg simulate`."""
    try:
        return DemoSecrets(**json.loads(demo_secrets_path(settings).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def new_secrets_env() -> str:
    """Fresh production secrets as environment lines (`ewg secrets new`)."""
    return "\n".join([
        f"EWG_CALLBACKS__TOKEN={secrets.token_urlsafe(32)}",
        f"EWG_API__TOKEN={secrets.token_urlsafe(32)}",
        f"EWG_GATEWAY__PSEUDONYM_SECRET={secrets.token_hex(32)}",
        f"EWG_DASHBOARD__SESSION_SECRET={secrets.token_hex(32)}",
    ])
