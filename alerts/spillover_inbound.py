"""A partner gateway's warning (a CAP message it POSTed, already checked by the view): the communes
it names that this gateway covers are warned as a spillover, through the same stages as a warning
of this gateway's own alerts (silences, a graver alert standing in the commune, quiet hours, then
once per member and partner alert, again only at a higher level), in each member's language.

The CAP identifier is the dedup key: a retried POST warns nobody twice. An Update is decided again
(a raised level warns again); a Cancel is recorded and tells nobody anything: a vigilance SMS was a
heads-up, and "it is over" from across a border would reassure sooner than the committee's own
information should. After a Cancel, a late Alert or Update of the same partner alert warns nobody."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import store
from alerts.areas import AreaPath
from alerts.config import AlertConfig
from alerts.outcomes import AckOutcome, AckResult
from alerts.rules import ROLES
from alerts.spillover import KIND, as_recorded, vigilance_messages
from alerts.spillover_decisions import (
    SpillSituation,
    VigilanceDecision,
    committee_to_warn,
    decide_neighbours,
    neighbourhood,
    nothing_holds_back,
)
from alerts.spillover_rules import SpillRule
from alerts.spillover_texts import VigilanceFacts
from gateway.kernel.phones import mask_phone
from gateway.storage.dialects import conflict_insert, dialect_of
from gateway.storage.models import CapInbound, CapInboundNotification, CommitteeMember
from gateway.storage.outbox import OutboundSms

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class InboundWarning:
    """What a partner's CAP message says, as the view read it."""

    identifier: str
    partner: str  # the partner's name in this gateway's settings
    sender: str
    msg_type: str  # Alert, Update, Cancel
    incident_key: str  # the CAP <incidents>: the partner's alert, across its updates
    code: str  # the partner's alert code
    incident: str  # incident id
    level: int
    home_pcode: str
    place: str  # the incident's commune, as the partner names it
    country: str  # ISO 3166 alpha-2 of the incident's commune
    communes: dict[str, int]  # P-code -> ring


@dataclass(frozen=True)
class InboundOutcome:
    duplicate: bool  # the identifier was already received: nothing done
    sent: int
    withheld: int


async def receive_partner_warning(session: AsyncSession, config: AlertConfig, warning: InboundWarning,
                                  now: datetime) -> InboundOutcome:
    """Store a partner's message (once per identifier) and warn the communes it names."""
    inbound_id = await _store(session, warning, now)
    if inbound_id is None:
        log.info("CAP %s from partner %s already received", warning.identifier, warning.partner)
        return InboundOutcome(True, 0, 0)
    cancelled = (await session.execute(select(CapInbound.id).where(
        CapInbound.incident_key == warning.incident_key, CapInbound.msg_type == "Cancel").limit(1))).first()
    if cancelled:
        log.info("CAP %s from partner %s (%s of alert %s): nobody warned, the alert is cancelled",
                 warning.identifier, warning.partner, warning.msg_type, warning.code)
        return InboundOutcome(False, 0, 0)
    return await _warn(session, config, warning, inbound_id, now)


async def warn_held_partner_alerts(session: AsyncSession, config: AlertConfig, now: datetime) -> int:
    """A member a silence or quiet hours kept from a partner's warning is warned once nothing holds
    it back, while the partner's alert still stands: not cancelled, and its latest message younger
    than the alert expiry (the partner's alert may have closed unheard). Returns warnings queued."""
    recent = (await session.execute(select(CapInbound).where(CapInbound.received_at >= now - config.alert_expiry)
                                    .order_by(CapInbound.id))).scalars().all()
    latest = {row.incident_key: row for row in recent}  # the newest message of each partner alert
    cancelled = {row.incident_key for row in recent if row.msg_type == "Cancel"}
    sent = 0
    for key, row in latest.items():
        if key in cancelled:
            continue
        warning = InboundWarning(row.identifier, row.partner, row.sender, row.msg_type, key, row.code, row.incident,
                                 row.level, row.home_pcode, row.place, row.country, dict(row.communes))
        sent += (await _warn(session, config, warning, row.id, now, held_only=True)).sent
    return sent


async def _warn(session: AsyncSession, config: AlertConfig, warning: InboundWarning, inbound_id: int,
                now: datetime, *, held_only: bool = False) -> InboundOutcome:
    """`held_only`: only the communes with a member not yet warned at this level whom no stage holds
    back now, and nothing recorded when there are none."""
    communes = sorted(warning.communes)
    members = await store.members_of(session, communes)
    standing = await store.standing_in(session, communes)
    sent_levels = dict((await session.execute(
        select(CapInboundNotification.member_id, func.max(CapInboundNotification.level)).where(
            CapInboundNotification.incident_key == warning.incident_key, CapInboundNotification.decision == "sent",
            CapInboundNotification.member_id.is_not(None)).group_by(CapInboundNotification.member_id))).all())
    situation = SpillSituation(warning.code, warning.incident, warning.level, AreaPath.from_pcode(warning.home_pcode),
                               now)
    neighbours = [neighbourhood(config.gazetteer, commune, ring, standing) for commune, ring in warning.communes.items()]
    rule = config.rules.spillover.rule_for(warning.incident) or SpillRule(warning.incident, 1, 1, ROLES)  # no rule here: every role
    if held_only:
        neighbours = [n for n in neighbours if nothing_holds_back(n, situation, config.rules, [
            m for m in committee_to_warn(members, n.commune, rule) if sent_levels.get(m.id, 0) < warning.level])]
        if not neighbours:
            return InboundOutcome(False, 0, 0)
    decisions = decide_neighbours(situation, config.rules, rule, neighbours, members, sent_levels)
    facts = VigilanceFacts(warning.code, warning.level, warning.incident, warning.place, warning.country)
    incident_hash = hashlib.sha256(warning.incident_key.encode()).hexdigest()[:16]
    messages = vigilance_messages(config, facts, decisions, f"{KIND}:cap:{incident_hash}", now)
    outbox_ids = await store.enqueue_by_key(session, list(messages.values()), now)
    rows = _rows(inbound_id, warning, decisions, messages, outbox_ids, now)
    if rows:
        await session.execute(insert(CapInboundNotification), rows)
    sent = sum(row["decision"] == "sent" for row in rows)
    return InboundOutcome(False, sent, len(rows) - sent)


async def _store(session: AsyncSession, warning: InboundWarning, now: datetime) -> int | None:
    """The message's row, or None when its identifier is already stored."""
    return (await session.execute(conflict_insert(dialect_of(session), CapInbound).values(
        identifier=warning.identifier, partner=warning.partner, sender=warning.sender, msg_type=warning.msg_type,
        incident_key=warning.incident_key, code=warning.code, incident=warning.incident, level=warning.level,
        home_pcode=warning.home_pcode, place=warning.place, country=warning.country, communes=warning.communes, received_at=now,
    ).on_conflict_do_nothing(index_elements=["identifier"]).returning(CapInbound.id))).scalar_one_or_none()


def _rows(inbound_id: int, warning: InboundWarning, decisions: list[VigilanceDecision],
          messages: dict[int, OutboundSms], outbox_ids: dict[str, int], now: datetime) -> list[dict]:
    rows = []
    for item in decisions:
        decision, outbox_id = as_recorded(item, messages, outbox_ids)
        rows.append({"inbound_id": inbound_id, "incident_key": warning.incident_key, "commune_pcode": item.commune,
                     "member_id": item.member.id if item.member else None, "level": warning.level,
                     "decision": "sent" if decision.send else "withheld", "reason": decision.reason[:60],
                     "outbox_id": outbox_id, "created_at": now})
        log.info("partner %s alert %s L%d vigilance to %s %s -> %s", warning.partner, warning.code, warning.level,
                 item.commune, mask_phone(item.member.phone) if item.member else "(nobody)", decision.reason)
    return rows


async def acknowledge_partner_vigilance(session: AsyncSession, phone: str, code: str, now: datetime) -> AckResult:
    """`OK <code>` naming a partner's alert (no alert of this gateway has the code) from a member
    this gateway warned of it: noted for that member's commune, once (a row `noted` among the
    decisions); nothing travels back to the partner. UNKNOWN_CODE when no such warning was sent."""
    warned = (await session.execute(
        select(CapInboundNotification, CommitteeMember).join(CapInbound, CapInbound.id == CapInboundNotification.inbound_id)
        .join(CommitteeMember, CommitteeMember.id == CapInboundNotification.member_id)
        .where(CapInbound.code == code, CommitteeMember.phone == phone, CapInboundNotification.decision == "sent")
        .order_by(CapInboundNotification.id.desc()).limit(1))).first()
    if warned is None:
        return AckResult(AckOutcome.UNKNOWN_CODE, code, "fr")
    notification, member = warned
    noted = (await session.execute(select(CapInboundNotification.id).where(
        CapInboundNotification.incident_key == notification.incident_key, CapInboundNotification.member_id == member.id,
        CapInboundNotification.decision == "noted").limit(1))).first()
    if noted is None:
        session.add(CapInboundNotification(
            inbound_id=notification.inbound_id, incident_key=notification.incident_key,
            commune_pcode=notification.commune_pcode, member_id=member.id, level=notification.level,
            decision="noted", reason=f"acknowledged OK {code}", created_at=now))
        log.info("partner alert %s: vigilance acknowledged for %s by committee member %d", code,
                 notification.commune_pcode, member.id)
    return AckResult(AckOutcome.NOTED, code, member.lang, member.name)
