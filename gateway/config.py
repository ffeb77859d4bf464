"""Settings: settings.toml plus EWG_<SECTION>__<KEY> environment overrides."""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field, fields
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from gateway import PROJECT_ROOT
from gateway.kernel.localtime import zone

ENV_PREFIX = "EWG_"


class ConfigError(Exception):
    """A setting is missing, unreadable or of the wrong type; the message names it."""


@dataclass(frozen=True)
class HttpSettings:
    host: str = "0.0.0.0"
    port: int = 8080
    max_body_bytes: int = 8192
    trusted_proxies: list[str] = field(default_factory=list)  # IPs/CIDRs whose X-Forwarded-* headers are believed


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = "sqlite+aiosqlite:///var/ewg.db"
    echo: bool = False


@dataclass(frozen=True)
class AfricasTalkingSettings:
    username: str = ""
    api_key: str = ""
    base_url: str = "https://api.africastalking.com/version1"
    sender_id: str = ""
    short_code: str = "3737"
    ussd_codes: list[str] = field(default_factory=list)
    timeout_seconds: float = 10.0

    @property
    def sends_for_real(self) -> bool:
        return bool(self.username and self.api_key)


@dataclass(frozen=True)
class AndroidSettings:
    """SMS Gateway for Android on a phone with a local SIM (local server, the app's cloud or a private server)."""

    base_url: str = ""  # e.g. http://192.168.1.20:8080 (local server) or https://api.sms-gate.app/3rdparty/v1
    username: str = ""
    password: str = ""
    signing_key: str = ""  # the app's webhook signing key: every /callbacks/android request is checked with it
    sim_number: int = 0  # 0: the app's default SIM; 1, 2...: that slot
    timeout_seconds: float = 15.0
    ping_stale_seconds: float = 900.0  # no system:ping for this long: the phone counts as down

    @property
    def sends_for_real(self) -> bool:
        return bool(self.base_url and self.username and self.password)


@dataclass(frozen=True)
class KannelSettings:
    """SMPP to an operator through Kannel: SMS out through smsbox's sendsms, in through its sms-service."""

    sendsms_url: str = ""  # smsbox's sendsms, e.g. http://127.0.0.1:13013/cgi-bin/sendsms
    username: str = ""  # a sendsms-user of smsbox; sendsms_url, username and password set: Kannel sends SMS
    password: str = ""
    smsc: str = ""  # the smsc-id to send through; empty: Kannel's own routing
    dlr_base_url: str = ""  # how Kannel reaches this gateway (http://127.0.0.1:8080); empty: no delivery reports
    timeout_seconds: float = 10.0

    @property
    def sends_for_real(self) -> bool:
        return bool(self.sendsms_url and self.username and self.password)


@dataclass(frozen=True)
class ProvidersSettings:
    order: list[str] = field(default_factory=list)  # empty: every configured provider, in KNOWN_PROVIDERS order
    routes: dict[str, str] = field(default_factory=dict)  # number prefix -> "kannel,android": tried first, in order
    tries_before_failover: int = 3  # provider-side failures of an alert on one provider before the next is tried


@dataclass(frozen=True)
class CallbackSettings:
    token: str = ""
    previous_token: str = ""  # still accepted while the provider's callback URLs are moved to a new token
    allow_from: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ApiSettings:
    token: str = ""
    previous_token: str = ""  # still accepted while partners move to a new token


@dataclass(frozen=True)
class GatewaySettings:
    default_region: str = "NE"
    accepted_regions: list[str] = field(default_factory=lambda: ["NE", "ML", "BF", "NG"])
    demo: bool = False  # throw-away secrets and demo people; `ewg serve --demo`, never in production
    reply_limit: int = 3
    reply_window_minutes: int = 10
    reply_to_foreign: bool = False  # answer numbers outside accepted_regions (kept for review either way)
    retention_days: int = 90  # numbers, texts and free text erased this long after a message was stored
    pseudonym_secret: str = ""
    pseudonym_secret_file: str = ""  # empty: pseudonym.secret next to the SQLite database, else var/
    time_zone: str = "Africa/Niamey"  # the deployment's zone: Africa/Niamey or Africa/Bamako


@dataclass(frozen=True)
class OutboxSettings:
    poll_seconds: float = 1.0
    batch_size: int = 100
    max_attempts: int = 12
    backoff_base_seconds: float = 5.0  # float literals: an override like "0.5" must parse
    backoff_max_seconds: float = 900.0
    alert_expiry_minutes: int = 240
    reply_expiry_minutes: int = 1440
    absent_retry_minutes: float = 30.0  # a phone reported off is tried again this often, not on the back-off

    @property
    def alert_expiry(self) -> timedelta:
        """How long an alert's SMS (and a partner's CAP message about it) is worth sending."""
        return timedelta(minutes=self.alert_expiry_minutes)


@dataclass(frozen=True)
class UssdSettings:
    session_store: str = "auto"  # memory | database | auto (memory on SQLite, database on PostgreSQL)
    flush_seconds: float = 1.0
    idle_minutes: float = 5.0

    def uses_memory(self, dialect: str) -> bool:
        if self.session_store not in ("auto", "memory", "database"):
            raise ConfigError(f"ussd.session_store must be auto, memory or database, not {self.session_store!r}")
        return self.session_store == "memory" or (self.session_store == "auto" and dialect == "sqlite")


@dataclass(frozen=True)
class RulesSettings:
    path: str = "rules"
    watch: bool = True
    scoring_delay_seconds: float = 0.25


@dataclass(frozen=True)
class DigestSettings:
    hour: int = -1  # UTC hour of the daily digest to committee members; -1: no digest
    only_with_activity: bool = True


@dataclass(frozen=True)
class LoggingSettings:
    level: str = "INFO"
    json: bool = False


@dataclass(frozen=True)
class DashboardSettings:
    session_secret: str = ""
    login_attempts_per_minute: int = 5  # per client address and per user name, then 429
    session_hours: float = 12
    silent_days: int = 7
    suggestions_path: str = "var/lexicon_suggestions.toml"
    lexicon_overlay_dir: str = "var/lexicon"  # <dir>/<lang>/keywords.local.toml: words accepted from the dashboard
    cap_sender: str = "ewg@localhost"


@dataclass(frozen=True)
class MetricsSettings:
    port: int = 0  # 0: /metrics on the main port behind the API token; else a port of its own on 127.0.0.1
    refresh_seconds: float = 15.0  # how often the gauges that query the database are refreshed


@dataclass(frozen=True)
class PartnerSettings:
    """A partner gateway (another deployment, across a border) that warns the communes it covers."""

    name: str  # how this gateway names the partner: in logs and on the alert page
    url: str  # the partner's base URL; its CAP inbound is <url>/api/cap/inbound
    token: str = field(repr=False)  # the bearer token this gateway presents to the partner
    inbound_token: str = field(repr=False)  # the bearer token the partner presents to this gateway's /api/cap/inbound
    areas: tuple[str, ...]  # P-code prefixes the partner covers (e.g. "ML"); the longest match wins

    @property
    def inbound_url(self) -> str:
        return self.url.rstrip("/") + "/api/cap/inbound"


PARTNER_KEYS = ("name", "url", "token", "inbound_token", "areas")
MIN_TOKEN_CHARS = 16


def partner_settings(raw: Any) -> tuple[PartnerSettings, ...]:
    """[[spillover.partners]] (or EWG_SPILLOVER__PARTNERS as a JSON list), checked at load: every
    key present, tokens long enough, names unique; a message names the entry and the key."""
    partners = []
    for index, entry in enumerate(raw, start=1):
        where = f"spillover.partners[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"setting {where}: expected a table with {', '.join(PARTNER_KEYS)}")
        unknown = sorted(set(entry) - set(PARTNER_KEYS))
        if unknown:
            raise ConfigError(f"setting {where}: unknown key {unknown[0]!r}")
        missing = [key for key in PARTNER_KEYS if not entry.get(key)]
        if missing:
            raise ConfigError(f"setting {where}: {missing[0]} is required")
        texts = {key: entry[key] for key in PARTNER_KEYS if key != "areas"}
        bad = next((key for key, value in texts.items() if not isinstance(value, str)), None)
        if bad:
            shown = "a secret" if "token" in bad else repr(entry[bad])  # a token is never echoed
            raise ConfigError(f"setting {where}.{bad}: expected text, got {shown}")
        if not entry["url"].startswith(("http://", "https://")):
            raise ConfigError(f"setting {where}.url: expected an http(s) URL, got {entry['url']!r}")
        for key in ("token", "inbound_token"):
            if len(entry[key]) < MIN_TOKEN_CHARS:
                raise ConfigError(f"setting {where}.{key}: {MIN_TOKEN_CHARS} characters or more")
        areas = entry["areas"]
        if not isinstance(areas, list) or not all(isinstance(a, str) and a.strip() for a in areas):
            raise ConfigError(f"setting {where}.areas: expected a list of P-code prefixes, got {areas!r}")
        partners.append(PartnerSettings(entry["name"], entry["url"], entry["token"], entry["inbound_token"],
                                        tuple(a.strip().upper() for a in areas)))
    names = [p.name for p in partners]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise ConfigError(f"setting spillover.partners: the name {duplicate!r} is given twice")
    return tuple(partners)


@dataclass(frozen=True)
class SpilloverSettings:
    cross_border_km: float = 50.0  # communes of different countries this close are neighbours (at import)
    partners: list = field(default_factory=list, repr=False)  # [[spillover.partners]] (tokens): see partner_list

    @cached_property  # read on every partner's CAP and metrics refresh; settings never change once loaded
    def partner_list(self) -> tuple[PartnerSettings, ...]:
        return partner_settings(self.partners)


@dataclass(frozen=True)
class CostsSettings:
    currency: str = "XOF"  # of the budget and the prices; a provider's cost in another currency is not added up
    monthly_budget: float = 0.0  # SMS spend per calendar month (UTC); 0: no budget
    # the price of one SMS segment through each provider: broadcast estimates, and the spend of an
    # SMS whose provider reports no cost (the phone, Kannel)
    africastalking: float = 25.0
    android: float = 25.0
    kannel: float = 25.0


@dataclass(frozen=True)
class BroadcastSettings:
    approval_threshold: int = 50  # more recipients than this: a second operator or admin approves first
    expiry_minutes: int = 1440  # a broadcast SMS not sent by then is dropped
    max_segments: int = 3  # the longest text, in SMS segments of its own encoding


@dataclass(frozen=True)
class JobsSettings:
    interval_seconds: float = 0  # for tests only: >0 runs every timed job at this interval; 0: each job's own


@dataclass(frozen=True)
class Settings:
    http: HttpSettings = field(default_factory=HttpSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    africastalking: AfricasTalkingSettings = field(default_factory=AfricasTalkingSettings)
    android: AndroidSettings = field(default_factory=AndroidSettings)
    kannel: KannelSettings = field(default_factory=KannelSettings)
    providers: ProvidersSettings = field(default_factory=ProvidersSettings)
    callbacks: CallbackSettings = field(default_factory=CallbackSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    gateway: GatewaySettings = field(default_factory=GatewaySettings)
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    ussd: UssdSettings = field(default_factory=UssdSettings)
    rules: RulesSettings = field(default_factory=RulesSettings)
    digest: DigestSettings = field(default_factory=DigestSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    dashboard: DashboardSettings = field(default_factory=DashboardSettings)
    jobs: JobsSettings = field(default_factory=JobsSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    spillover: SpilloverSettings = field(default_factory=SpilloverSettings)
    costs: CostsSettings = field(default_factory=CostsSettings)
    broadcast: BroadcastSettings = field(default_factory=BroadcastSettings)
    base_dir: Path = PROJECT_ROOT

    @property
    def rules_path(self) -> Path:
        path = Path(self.rules.path)
        return path if path.is_absolute() else self.base_dir / path

    @property
    def database_url(self) -> str:
        """Relative SQLite paths are taken from the settings file's folder."""
        url = self.database.url
        prefix = "sqlite+aiosqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(self.base_dir / url[len(prefix):])
        return url


def _coerce(section: str, key: str, raw: Any, default: Any) -> Any:
    name = f"{section}.{key}"
    if isinstance(default, bool):
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
            return raw.lower() in {"1", "true", "yes", "on"}
        raise ConfigError(f"setting {name}: expected true or false, got {raw!r}")
    if isinstance(default, int | float):
        try:
            return type(default)(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"setting {name}: expected a number, got {raw!r}") from None
    if isinstance(default, list):
        if isinstance(raw, list):
            return raw
        if isinstance(raw, str):
            raw = raw.strip()
            if raw.startswith("["):
                try:
                    return list(json.loads(raw))
                except ValueError:
                    raise ConfigError(f"setting {name}: expected a JSON list, got {raw!r}") from None
            return [part.strip() for part in raw.split(",") if part.strip()]
        raise ConfigError(f"setting {name}: expected a list, got {raw!r}")
    if isinstance(default, dict):
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                raise ConfigError(f"setting {name}: expected a JSON object, got {raw!r}") from None
        if isinstance(raw, dict) and all(isinstance(v, str) for v in raw.values()):
            return dict(raw)
        raise ConfigError(f"setting {name}: expected a table of text values, got {raw!r}")
    if not isinstance(raw, str):
        raise ConfigError(f"setting {name}: expected text, got {raw!r}")
    return raw


def load_settings(path: str | Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Read settings.toml (or PATH), then apply environment overrides.

    A missing default settings.toml is fine (embedded defaults); a missing explicit
    path, bad TOML, unknown section or key, or a value of the wrong type is a ConfigError.
    """
    environ = dict(os.environ if environ is None else environ)
    explicit = path is not None
    file_path = Path(path) if explicit else Path(environ.get("EWG_CONFIG", PROJECT_ROOT / "settings.toml"))
    data: dict[str, Any] = {}
    if file_path.exists():
        try:
            with open(file_path, "rb") as handle:
                data = tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file_path}: not valid TOML: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"{file_path}: cannot read: {exc.strerror}") from None
    elif explicit:
        raise ConfigError(f"{file_path}: no such settings file")

    defaults = Settings()
    sections: dict[str, Any] = {}
    for section_field in fields(Settings):
        if section_field.name == "base_dir":
            continue
        section_default = getattr(defaults, section_field.name)
        values = {}
        file_section = data.pop(section_field.name, {})
        if not isinstance(file_section, dict):
            raise ConfigError(f"{file_path}: [{section_field.name}] must be a table")
        known = {f.name for f in fields(section_default)}
        unknown = set(file_section) - known
        if unknown:
            raise ConfigError(f"{file_path}: unknown setting {section_field.name}.{sorted(unknown)[0]}")
        for key in known:
            default = getattr(section_default, key)
            env_name = f"{ENV_PREFIX}{section_field.name.upper()}__{key.upper()}"
            if env_name in environ:
                values[key] = _coerce(section_field.name, key, environ[env_name], default)
            elif key in file_section:
                values[key] = _coerce(section_field.name, key, file_section[key], default)
        sections[section_field.name] = type(section_default)(**values)
    if data:
        raise ConfigError(f"{file_path}: unknown section [{sorted(data)[0]}]")
    base_dir = file_path.resolve().parent if file_path.exists() else PROJECT_ROOT
    settings = Settings(**sections, base_dir=base_dir)
    settings.ussd.uses_memory("sqlite")  # names a bad session_store before any command runs
    try:
        zone(settings.gateway.time_zone)
    except ValueError as error:
        raise ConfigError(f"setting gateway.time_zone: {error}") from None
    settings.spillover.partner_list  # noqa: B018 - names a bad partner entry before any command runs
    return settings
