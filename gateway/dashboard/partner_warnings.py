"""The situation page's section "Warnings from partner gateways": each partner gateway's alert that
warned communes here (its CAP messages in cap_inbound, one line per alert across its updates): the
partner, its code, incident and level, the place and country it started in, the communes here it
named (warned or not), when it was first received, and whether the partner cancelled it. Kept to
the user's scope: an alert shows when it named a commune in it, with those communes only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.dashboard.layout import Texts
from gateway.dashboard.pages import _incident, _level_badge
from gateway.dashboard.scope import EVERYWHERE, Scope
from gateway.kernel.taxonomy import Taxonomy
from gateway.storage.models import AdminUnit, CapInbound, CapInboundNotification

SHOWN_DAYS = 7  # how far back the section looks: a partner's warning is a matter of hours
MAX_SHOWN = 50


@dataclass(frozen=True)
class PartnerWarning:
    partner: str
    code: str
    incident: str
    level: int  # the highest level the partner told of
    place: str  # where the incident is, as the partner names it
    country: str
    communes: tuple[tuple[str, bool], ...]  # (name here, warned) of the communes in scope
    received_at: datetime  # its first message
    cancelled_at: datetime | None


async def partner_warnings(session: AsyncSession, now: datetime, scope: Scope = EVERYWHERE
                           ) -> list[PartnerWarning]:
    """The partners' alerts with a message in the last SHOWN_DAYS, newest first, kept to `scope`."""
    messages: dict[str, list[CapInbound]] = {}
    keys = select(CapInbound.incident_key).where(CapInbound.received_at >= now - timedelta(days=SHOWN_DAYS))
    for row in (await session.execute(select(CapInbound).where(CapInbound.incident_key.in_(keys))
                                      .order_by(CapInbound.id))).scalars():
        messages.setdefault(row.incident_key, []).append(row)
    if not messages:
        return []
    warned = {(key, pcode) for key, pcode in await session.execute(
        select(CapInboundNotification.incident_key, CapInboundNotification.commune_pcode).where(
            CapInboundNotification.incident_key.in_(list(messages)), CapInboundNotification.decision == "sent"))}
    named = {pcode for rows in messages.values() for row in rows for pcode in row.communes}
    names = dict((await session.execute(select(AdminUnit.pcode, AdminUnit.name).where(
        AdminUnit.pcode.in_(sorted(named))))).all())
    shown = []
    for key, rows in messages.items():
        communes = sorted({pcode for row in rows for pcode in row.communes if scope.covers(pcode)})
        if not communes:
            continue
        latest = rows[-1]
        cancel = next((row for row in rows if row.msg_type == "Cancel"), None)
        shown.append(PartnerWarning(
            latest.partner, latest.code, latest.incident, max(row.level for row in rows), latest.place,
            latest.country, tuple((names.get(pcode, pcode), (key, pcode) in warned) for pcode in communes),
            rows[0].received_at, cancel.received_at if cancel else None))
    return sorted(shown, key=lambda w: w.received_at, reverse=True)[:MAX_SHOWN]


def partner_warnings_section(t: Texts, taxonomy: Taxonomy, warnings: list[PartnerWarning], has_partners: bool) -> str:
    """Nothing at all on a gateway with no partner and no warning from one."""
    title = f'<h2>{t("Warnings from partner gateways")}</h2>'
    if not warnings:
        if not has_partners:
            return ""
        return title + f'<p>{t("No warning from a partner gateway in the last {days} days.", days=SHOWN_DAYS)}</p>'
    rows = []
    for w in warnings:
        communes = ", ".join(escape(name) if warned else f'{escape(name)} <small>({t("not warned")})</small>'
                             for name, warned in w.communes)
        state = (f'{t("cancelled")} <small>{t.when(w.cancelled_at)}</small>' if w.cancelled_at else t("open"))
        rows.append(f'<tr class="partner-warning"><td>{escape(w.partner)}</td><td><b>{escape(w.code)}</b></td>'
                    f"<td>{_incident(taxonomy, w.incident, t.lang)}</td>"
                    f"<td>{escape(w.place)} ({escape(w.country)})</td><td>{_level_badge(w.level)}</td>"
                    f"<td>{communes}</td><td>{t.when(w.received_at)}</td><td>{state}</td></tr>")
    return (title + f'<table id="partner-warnings"><tr><th>{t("Partner")}</th><th>{t("Code")}</th>'
            f'<th>{t("Incident")}</th><th>{t("Origin")}</th><th>{t("Level")}</th>'
            f'<th>{t("Communes warned here")}</th><th>{t("Received")}</th><th>{t("State")}</th></tr>'
            f'{"".join(rows)}</table>')
