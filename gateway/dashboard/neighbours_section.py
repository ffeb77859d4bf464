"""An alert page's section "Neighbours warned": who was warned across which border. Each
neighbouring commune the alert spilled over to, its country (its ISO code) and ring, the level it was warned of,
and whether its committee was warned by this gateway or through a partner gateway, with the state
of the partner's latest CAP message naming it (waiting and why, delivered, failed, expired)."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.dashboard.layout import Texts
from gateway.kernel.phones import mask_phones_in
from gateway.storage.models import AdminUnit, PartnerDelivery, Spillover


@dataclass(frozen=True)
class NeighbourWarned:
    pcode: str
    name: str
    ring: int
    level: int  # the highest level warned of; 0: not warned
    acknowledged: bool
    delivery: PartnerDelivery | None = None  # through a partner: its latest message naming the commune


async def neighbours_warned(session: AsyncSession, alert_id: int) -> tuple[NeighbourWarned, ...]:
    latest: dict[str, PartnerDelivery] = {}
    for delivery in (await session.execute(select(PartnerDelivery).where(PartnerDelivery.alert_id == alert_id)
                                           .order_by(PartnerDelivery.id))).scalars():
        latest.update(dict.fromkeys(delivery.communes, delivery))
    rows = await session.execute(
        select(Spillover, AdminUnit.name).outerjoin(AdminUnit, AdminUnit.pcode == Spillover.commune_pcode)
        .where(Spillover.alert_id == alert_id).order_by(Spillover.ring, Spillover.commune_pcode))
    return tuple(NeighbourWarned(s.commune_pcode, name or s.commune_pcode, s.ring, s.level,
                                 s.acknowledged_at is not None, latest.get(s.commune_pcode)) for s, name in rows)


def neighbours_section(t: Texts, neighbours: tuple[NeighbourWarned, ...]) -> str:
    if not neighbours:
        return ""
    states = {"queued": t("queued"), "sending": t("queued"), "sent": t("sent"), "failed": t("failed"),
              "expired": t("expired"), "dropped": t("dropped")}
    rows = []
    for n in neighbours:
        if n.delivery:
            how = t("through partner {name}", name=n.delivery.partner)
            state = f"{states.get(n.delivery.status, escape(n.delivery.status))} ({escape(n.delivery.msg_type)})"
            if n.delivery.last_error and n.delivery.status != "sent":
                state += f" <small>{escape(mask_phones_in(n.delivery.last_error))}</small>"  # the partner's own words
        else:
            how = t("here")
            state = t("acknowledged") if n.acknowledged else t("warned") if n.level else t("not warned")
        rows.append(f'<tr class="neighbour"><td>{escape(n.name)} <code>{escape(n.pcode)}</code></td>'
                    f"<td>{escape(n.pcode[:2])}</td><td>{n.ring}</td>"
                    f"<td>{n.level or '—'}</td><td>{how}</td><td>{state}</td></tr>")
    return (f'<h2>{t("Neighbours warned")}</h2><table id="neighbours"><tr><th>{t("Commune")}</th>'
            f'<th>{t("Country")}</th><th>{t("Ring")}</th><th>{t("Warned at level")}</th><th>{t("How")}</th>'
            f'<th>{t("State")}</th></tr>{"".join(rows)}</table>')
