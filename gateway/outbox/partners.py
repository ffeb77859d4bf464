"""Sending CAP messages to partner gateways (table partner_deliveries): POST to the partner's
/api/cap/inbound with its bearer token, retried with the outbox's back-off (sender.backoff_delay)
while the outbox's rule says a try is still worth it (sender.worth_retrying: until the expiry),
then expired. A 2xx is delivered; a refusal (400, 401, 403, 404, 413) is final, with the partner's
reason kept; anything else (5xx, 429, timeouts, a partner down) is tried again. Rows are claimed
with a lease (and row locks on PostgreSQL), as the outbox's are, so a crash mid-send leaves them due
again; a message sent twice all the same is harmless, the partner keeps each identifier once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import aiohttp
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from gateway.config import OutboxSettings, PartnerSettings
from gateway.feeds.cap import PartnerMessage, partner_cap_xml, partner_message_id, reference
from gateway.feeds.cap_alerts import cap_alerts
from gateway.kernel.phones import mask_phones_in
from gateway.kernel.taxonomy import Taxonomy
from gateway.outbox.sender import LEASE, backoff_delay, worth_retrying
from gateway.storage.models import PartnerDelivery

log = logging.getLogger(__name__)

FINAL_STATUSES = (400, 401, 403, 404, 413)
BATCH = 20
TIMEOUT = aiohttp.ClientTimeout(total=15)


class PartnerSender:
    def __init__(self, sessions: async_sessionmaker, partners: tuple[PartnerSettings, ...], settings: OutboxSettings,
                 taxonomy: Taxonomy, cap_sender: str, clock: Callable[[], datetime]):
        self._sessions = sessions
        self._partners = {p.name: p for p in partners}
        self._settings = settings
        self._taxonomy = taxonomy
        self._cap_sender = cap_sender
        self._clock = clock
        self._stopping = asyncio.Event()

    def request_stop(self) -> None:
        self._stopping.set()

    async def run_forever(self) -> None:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
            while not self._stopping.is_set():
                try:
                    handled = await self.send_due(http)
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - the sender must outlive a database outage
                    log.exception("partner delivery pass failed; retrying")
                    handled = 0
                if not handled:
                    try:
                        await asyncio.wait_for(self._stopping.wait(), timeout=self._settings.poll_seconds)
                    except TimeoutError:
                        pass

    async def send_due(self, http: aiohttp.ClientSession) -> int:
        now = self._clock()
        async with self._sessions() as session, session.begin():
            await session.execute(update(PartnerDelivery).where(
                PartnerDelivery.expires_at.is_not(None), PartnerDelivery.expires_at <= now,
                or_(PartnerDelivery.status == "queued",
                    (PartnerDelivery.status == "sending") & (PartnerDelivery.claimed_until < now)))
                .values(status="expired", claimed_until=None).execution_options(synchronize_session=False))
            rows = (await session.execute(select(PartnerDelivery).where(
                or_((PartnerDelivery.status == "queued") & (PartnerDelivery.next_attempt_at <= now),
                    (PartnerDelivery.status == "sending") & (PartnerDelivery.claimed_until < now)))
                .order_by(PartnerDelivery.id).limit(BATCH).with_for_update(skip_locked=True))).scalars().all()
            for row in rows:
                row.status, row.claimed_until = "sending", now + LEASE
            documents = {row.id: await self._document(session, row) for row in rows}
        for row in rows:
            outcome = await self._post(http, row, documents[row.id])
            await self._record(row.id, *outcome)
        return len(rows)

    async def _document(self, session, row: PartnerDelivery) -> bytes | None:
        alerts = await cap_alerts(session, row.alert_id)
        if not alerts:
            return None
        earlier = (await session.execute(select(PartnerDelivery.id, PartnerDelivery.created_at).where(
            PartnerDelivery.alert_id == row.alert_id, PartnerDelivery.partner == row.partner,
            PartnerDelivery.id < row.id, PartnerDelivery.status.in_(("sent", "sending")))
            .order_by(PartnerDelivery.id))).all()
        references = tuple(reference(self._cap_sender, partner_message_id(self._cap_sender, row.alert_id, earlier_id),
                                     created) for earlier_id, created in earlier)
        message = PartnerMessage(row.id, row.msg_type, row.level, dict(row.communes), row.created_at, references)
        return partner_cap_xml(alerts[0], message, self._taxonomy, self._cap_sender)

    async def _post(self, http: aiohttp.ClientSession, row: PartnerDelivery, document: bytes | None
                    ) -> tuple[bool | None, str]:
        """(True, "") delivered; (False, why) refused for good; (None, why) worth another try."""
        partner = self._partners.get(row.partner)
        if partner is None:
            return False, f"partner {row.partner!r} is no longer configured"
        if document is None:
            return False, "the alert is gone"
        try:
            async with http.post(partner.inbound_url, data=document, headers={
                    "Authorization": f"Bearer {partner.token}", "Content-Type": "application/cap+xml"}) as response:
                # A partner's answer may quote what it refused, a phone number included.
                text = mask_phones_in((await response.text(errors="replace"))[:2000])[:150]
                if 200 <= response.status < 300:
                    return True, ""
                why = f"HTTP {response.status}: {text}"
                return (False if response.status in FINAL_STATUSES else None), why
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return None, f"partner unreachable: {type(exc).__name__}"

    async def _record(self, row_id: int, delivered: bool | None, why: str) -> None:
        now = self._clock()
        async with self._sessions() as session, session.begin():
            row = await session.get(PartnerDelivery, row_id)
            row.attempts += 1
            row.claimed_until = None
            if delivered:
                row.status, row.sent_at, row.last_error = "sent", now, None
                log.info("CAP %s of alert %d delivered to partner %s", row.msg_type, row.alert_id, row.partner)
                return
            row.last_error = why[:200]
            if delivered is None and worth_retrying(row.expires_at, row.attempts, now, self._settings):
                row.status = "queued"
                row.next_attempt_at = now + timedelta(seconds=backoff_delay(row.attempts, self._settings))
                log.info("CAP %s of alert %d to partner %s: %s; tried again later", row.msg_type, row.alert_id,
                         row.partner, why)
                return
            row.status = "expired" if delivered is None and row.expires_at is not None else "failed"
            log.warning("CAP %s of alert %d to partner %s %s: %s", row.msg_type, row.alert_id, row.partner,
                        row.status, why)
