"""POST /api/cap/inbound: a partner gateway's CAP 1.2 spillover warning. The bearer token names the
partner ([[spillover.partners]] inbound_token); the document is read by gateway.feeds.cap_inbound
(400 naming what is wrong, never a 500); the communes it names are warned by alerts' inbound
spillover. 200 once stored; the same identifier again is 200 and warns nobody twice."""

from __future__ import annotations

import logging
import re
from dataclasses import replace

from aiohttp import web

from alerts import api as alerts_api
from gateway.config import PartnerSettings
from gateway.feeds.cap_inbound import MAX_CAP_BYTES, CapRefused, PartnerCap, read_partner_cap
from gateway.kernel.phones import mask_phones_in
from gateway.runtime import RUNTIME, Runtime
from gateway.views.common import DATABASE_DOWN, bearer_token, plain, tokens_match

log = logging.getLogger(__name__)
NO_PARTNER = "none"  # the partner label of a request whose token names no partner


def partner_of(request: web.Request) -> PartnerSettings | None:
    """The partner whose inbound token the request carries (each compared in constant time)."""
    given = bearer_token(request)
    found = None
    for partner in request.app[RUNTIME].settings.spillover.partner_list:
        if tokens_match(given, partner.inbound_token):
            found = partner
    return found


def counted(runtime: Runtime, partner: str, outcome: str, reason: str) -> None:
    """One inbound CAP in ewg_cap_inbound_total: the partner's name from the settings (never a token),
    accepted (new, duplicate) or refused (token, unavailable, or a CapRefused kind)."""
    runtime.metrics.cap_inbound.labels(partner, outcome, reason).inc()


# An OCHA P-code (NE004006003, ML070104): digits that are no phone number, left readable in a reason.
PCODE_IN_TEXT = re.compile(r"\b([A-Z]{2}[0-9]{1,9})\b")


def without_phone_numbers(reason: str) -> str:
    """A refusal's reason, which may quote the document, with its phone numbers masked and its P-codes kept."""
    parts = PCODE_IN_TEXT.split(reason)  # odd items are the P-codes
    return "".join(part if i % 2 else mask_phones_in(part) for i, part in enumerate(parts))


def in_partners_place(cap: PartnerCap, partner: PartnerSettings) -> PartnerCap:
    """A partner tells of its own alerts (the home commune in its areas) and warns of communes outside
    them: its own communes are its to warn, so they are left out; CapRefused when none is left."""
    if not cap.home_pcode.startswith(partner.areas):
        raise CapRefused(f"parameter ewg:home_pcode {cap.home_pcode!r} is not in partner {partner.name}'s areas "
                         f"({', '.join(partner.areas)})")
    communes = {pcode: ring for pcode, ring in cap.communes.items() if not pcode.startswith(partner.areas)}
    if not communes:
        raise CapRefused(f"the area names no commune outside partner {partner.name}'s areas")
    return replace(cap, communes=communes)


async def read_at_most(request: web.Request, limit: int) -> bytes:
    """The body, or its first `limit` bytes or so: enough to tell it is too large, never all of a flood
    (the application's own body limit is for forms, smaller than a CAP message may be)."""
    body = bytearray()
    while len(body) < limit and (chunk := await request.content.read(limit - len(body))):
        body += chunk
    return bytes(body)


async def cap_inbound(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    partner = partner_of(request)
    if partner is None:
        log.warning("CAP inbound refused: no partner's token")
        counted(runtime, NO_PARTNER, "refused", "token")
        return plain(401, "a partner's bearer token is required")
    body = await read_at_most(request, MAX_CAP_BYTES + 1)
    try:
        cap = in_partners_place(read_partner_cap(body), partner)
        if cap.incident not in runtime.taxonomy.ids:
            raise CapRefused(f"parameter ewg:incident: unknown incident {cap.incident!r}", "unknown_incident")
    except CapRefused as exc:
        reason = without_phone_numbers(str(exc))
        log.info("CAP inbound from partner %s refused: %s", partner.name, reason)
        counted(runtime, partner.name, "refused", exc.kind)
        return plain(400, reason)
    if runtime.rules is None:
        counted(runtime, partner.name, "refused", "unavailable")
        return plain(503, "rules not loaded")
    warning = alerts_api.InboundWarning(
        cap.identifier, partner.name, cap.sender, cap.msg_type, cap.incidents, cap.code, cap.incident, cap.level,
        cap.home_pcode, cap.home_name, cap.home_pcode[:2], cap.communes)
    try:
        async with runtime.sessions() as session, session.begin():
            outcome = await alerts_api.warn_of_partner_alert(
                session, runtime.rules, warning, runtime.clock(), gazetteer=runtime.gazetteer,
                alert_expiry=runtime.settings.outbox.alert_expiry)
    except DATABASE_DOWN:
        counted(runtime, partner.name, "refused", "unavailable")
        return plain(503, "storage unavailable")
    if outcome.duplicate:
        counted(runtime, partner.name, "accepted", "duplicate")
        return plain(200, f"already received: {cap.identifier}")
    counted(runtime, partner.name, "accepted", "new")
    if outcome.sent and runtime.sender is not None:
        runtime.sender.wake.set()
    log.info("CAP %s %s from partner %s: %d warned, %d withheld", cap.msg_type, cap.identifier, partner.name,
             outcome.sent, outcome.withheld)
    return plain(200, f"received: {outcome.sent} warned, {outcome.withheld} withheld")
