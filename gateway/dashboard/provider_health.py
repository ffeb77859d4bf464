"""Each SMS provider's health on the delivery page: healthy or not (the phone: how long since its
last ping), SMS it sent and failed today (UTC), and how long its recent batches took."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from html import escape

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.dashboard.layout import Texts
from gateway.outbox.health import ProviderHealth
from gateway.providers.android import NAME as ANDROID
from gateway.providers.registry import LOG
from gateway.storage.models import Outbox

# What a provider's health is judged on, as the page says it.
LAST_TRY_FAILED = "last try failed"
PINGED = "last ping {minutes} min ago"
NEVER_PINGED = "no ping yet"
LOG_ONLY = "log only: nothing is sent"
WHY_TEXTS = (LAST_TRY_FAILED, PINGED, NEVER_PINGED, LOG_ONLY)


@dataclass(frozen=True)
class ProviderLine:
    name: str
    healthy: bool
    why: tuple[str, dict]  # a msgid and its values: what the health is judged on
    sent_today: int
    failed_today: int
    latency: float | None  # seconds, the median of recent batches


async def counts_today(session: AsyncSession, now: datetime) -> dict[str, tuple[int, int]]:
    """provider -> (SMS sent today, SMS failed for good today) by the provider that last took them."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    sent = dict((await session.execute(
        select(Outbox.provider, func.count()).where(Outbox.status == "sent", Outbox.sent_at >= midnight)
        .group_by(Outbox.provider))).all())
    failed = dict((await session.execute(
        select(Outbox.provider, func.count()).where(Outbox.status.in_(("failed", "expired")),
                                                   Outbox.created_at >= midnight, Outbox.provider.is_not(None))
        .group_by(Outbox.provider))).all())
    return {name: (sent.get(name, 0), failed.get(name, 0)) for name in set(sent) | set(failed) if name}


def provider_lines(names: list[str], health: Mapping[str, ProviderHealth], counts: Mapping[str, tuple[int, int]],
                   phone: Mapping[str, object]) -> list[ProviderLine]:
    """`phone`: the Android phone's ping detail (gateway.views.android.PhoneHealth.detail)."""
    lines = []
    for name in names:
        seen = health.get(name) or ProviderHealth()
        healthy = seen.healthy(pinged(name, phone))
        why = (LAST_TRY_FAILED, {}) if seen.last_try_failed else ("", {})
        if name == ANDROID:
            if "last_ping_seconds_ago" in phone:
                why = (PINGED, {"minutes": int(phone["last_ping_seconds_ago"]) // 60})
            else:
                why = (NEVER_PINGED, {})
        elif name == LOG:
            why = (LOG_ONLY, {})
        sent, failed = counts.get(name, (0, 0))
        lines.append(ProviderLine(name, healthy, why, sent, failed, seen.recent_latency()))
    return lines


def pinged(name: str, phone: Mapping[str, object]) -> bool | None:
    """For the phone, whether its last ping is recent; None for a provider that does not ping."""
    return phone.get("status") == "ok" if name == ANDROID else None


def providers_section(t: Texts, lines: list[ProviderLine]) -> str:
    rows = "".join(
        f'<tr class="provider {"healthy" if line.healthy else "unhealthy"}" id="provider-{escape(line.name)}">'
        f"<td>{escape(line.name)}</td><td><b>{t('healthy') if line.healthy else t('not healthy')}</b>"
        f"{' — ' + t(line.why[0], **line.why[1]) if line.why[0] else ''}</td>"
        f"<td>{line.sent_today}</td><td>{line.failed_today}</td>"
        f"<td>{'—' if line.latency is None else f'{line.latency:.2f} s'}</td></tr>" for line in lines)
    return (f'<h2>{t("SMS providers")}</h2><table id="providers"><tr><th>{t("SMS provider")}</th>'
            f'<th>{t("Health")}</th><th>{t("Sent today")}</th><th>{t("Failed today")}</th>'
            f'<th>{t("Recent latency")}</th></tr>{rows}</table>')
