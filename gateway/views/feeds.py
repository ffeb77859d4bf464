"""CAP 1.2 for other early-warning systems: /feeds/cap.atom and /feeds/cap/<alert id>.xml (API token;
a partner's token sees the alerts of its scope only, and another area's alert is a 404)."""

from __future__ import annotations

from aiohttp import web

from gateway.feeds.cap import CAP_MIME, atom_feed, cap_xml
from gateway.feeds.cap_alerts import cap_alerts
from gateway.runtime import RUNTIME
from gateway.views.api import api_principal
from gateway.views.common import DATABASE_DOWN, path_id, plain


async def cap_feed(request: web.Request) -> web.Response:
    # ?token= is accepted here because feed readers cannot set an Authorization header.
    reader = await api_principal(request, query_token_allowed=True)
    runtime = request.app[RUNTIME]
    try:
        async with runtime.sessions() as session:
            alerts = await cap_alerts(session, scope=reader.scope)
    except DATABASE_DOWN:
        return plain(503, "storage unavailable")
    base = f"{request.scheme}://{request.host}"
    body = atom_feed(alerts, runtime.taxonomy, runtime.settings.dashboard.cap_sender, base, runtime.clock())
    return web.Response(body=body, content_type="application/atom+xml", charset="utf-8")


async def cap_alert(request: web.Request) -> web.Response:
    reader = await api_principal(request, query_token_allowed=True)  # feed readers follow the feed's links
    runtime = request.app[RUNTIME]
    alert_id = path_id(request, "alert_id", "alert")
    try:
        async with runtime.sessions() as session:
            alerts = await cap_alerts(session, alert_id, reader.scope)
    except DATABASE_DOWN:
        return plain(503, "storage unavailable")
    if not alerts:
        return plain(404, f"no alert {alert_id}")
    body = cap_xml(alerts[0], runtime.taxonomy, runtime.settings.dashboard.cap_sender)
    return web.Response(body=body, content_type=CAP_MIME, charset="utf-8")
