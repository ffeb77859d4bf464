"""Read-only JSON API for observatories: /api/reports, /api/alerts, /api/communes.

Needs `Authorization: Bearer <token>` (never `?token=`): the deployment's `api.token`, which sees
everything, or a partner's token (`ewg tokens add`), which sees its scope only and is refused once
expired or revoked. Reporters appear only as pseudonyms."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from sqlalchemy import func, select

from gateway.dashboard.tokens import DEPLOYMENT, Principal, principal_of
from gateway.gazetteer.places import PlaceNameError, area_code, commune_code
from gateway.runtime import RUNTIME
from gateway.storage.exports import alert_rows, report_rows
from gateway.storage.models import AdminUnit, UssdSession
from gateway.views.common import (
    DATABASE_DOWN,
    bearer_token,
    date_parameter,
    int_parameter,
    plain,
    text_parameter,
    tokens_match,
)

MAX_ROWS = 5000


def require_api_token(request: web.Request, query_token_allowed: bool = False) -> None:
    """The API token from the Authorization header; from `?token=` too only where a caller asks."""
    expected = request.app[RUNTIME].settings.api.token
    if not expected:
        raise web.HTTPForbidden(text="API disabled: set api.token", content_type="text/plain")
    given = bearer_token(request)
    if given is None and query_token_allowed:
        given = request.query.get("token")
    if not tokens_match(given, expected, request.app[RUNTIME].settings.api.previous_token):
        raise web.HTTPUnauthorized(text="wrong or missing API token", content_type="text/plain",
                                   headers={"WWW-Authenticate": "Bearer"})


def _unauthorized(reason: str) -> web.HTTPUnauthorized:
    return web.HTTPUnauthorized(text=reason, content_type="text/plain", headers={"WWW-Authenticate": "Bearer"})


async def api_principal(request: web.Request, query_token_allowed: bool = False) -> Principal:
    """Who the request's token speaks for: the deployment's api.token (everything), or a partner's
    live token (its role and scope). 401 naming why otherwise (wrong, expired, revoked)."""
    runtime = request.app[RUNTIME]
    given = bearer_token(request)
    if given is None and query_token_allowed:
        given = request.query.get("token")
    expected = runtime.settings.api.token
    if expected and tokens_match(given, expected, runtime.settings.api.previous_token):
        return DEPLOYMENT
    if not given:
        if not expected:
            raise web.HTTPForbidden(text="API disabled: set api.token", content_type="text/plain")
        raise _unauthorized("wrong or missing API token")
    try:
        async with runtime.sessions() as session:
            found = await principal_of(session, given, runtime.clock())
    except DATABASE_DOWN:
        raise web.HTTPServiceUnavailable(text="storage unavailable", content_type="text/plain") from None
    if isinstance(found, str):
        raise _unauthorized(found)
    return found


def _since(request: web.Request, name: str) -> datetime | None:
    return date_parameter(request, name)


def _place(request: web.Request, name: str) -> str | None:
    """`commune` or `region` as a P-code: given as a P-code or a name (accents and case ignored);
    400 naming an unknown or ambiguous one, with the nearest names."""
    text = text_parameter(request, name)
    if not text:
        return None
    try:
        return (commune_code if name == "commune" else area_code)(request.app[RUNTIME].gazetteer, text)
    except PlaceNameError as exc:
        raise web.HTTPBadRequest(text=f"parameter '{name}': {exc}", content_type="text/plain") from None


def _limit(request: web.Request) -> int:
    return int_parameter(request, "limit", MAX_ROWS, 1, MAX_ROWS)


async def reports(request: web.Request) -> web.Response:
    reader = await api_principal(request)
    runtime = request.app[RUNTIME]
    q = {name: text_parameter(request, name) for name in ("incident", "status")}
    q |= {name: _place(request, name) for name in ("commune", "region")}
    try:
        async with runtime.sessions() as session:
            rows = await report_rows(session, since=_since(request, "since"), until=_since(request, "until"),
                                     commune=q["commune"], region=q["region"], incident=q["incident"],
                                     status=q["status"], limit=_limit(request), within=reader.scope.pcodes)
    except DATABASE_DOWN:
        return plain(503, "storage unavailable")
    return web.json_response({"reports": rows})


async def alerts(request: web.Request) -> web.Response:
    reader = await api_principal(request)
    runtime = request.app[RUNTIME]
    q = {name: text_parameter(request, name) for name in ("incident", "status")}
    q |= {name: _place(request, name) for name in ("commune", "region")}
    try:
        async with runtime.sessions() as session:
            rows = await alert_rows(session, status=q["status"], commune=q["commune"], region=q["region"],
                                    incident=q["incident"], since=_since(request, "since"), limit=_limit(request),
                                    within=reader.scope.pcodes)
    except DATABASE_DOWN:
        return plain(503, "storage unavailable")
    return web.json_response({"alerts": rows})


async def communes(request: web.Request) -> web.Response:
    reader = await api_principal(request)
    runtime = request.app[RUNTIME]
    query = select(AdminUnit).where(AdminUnit.level == 3).order_by(AdminUnit.pcode)
    if (inside := reader.scope.where(AdminUnit.pcode)) is not None:
        query = query.where(inside)
    region, commune = _place(request, "region"), _place(request, "commune")
    if region:
        query = query.where(AdminUnit.pcode.startswith(region))
    if commune:
        query = query.where(AdminUnit.pcode == commune)
    try:
        async with runtime.sessions() as session:
            units = (await session.execute(query)).scalars().all()
    except DATABASE_DOWN:
        return plain(503, "storage unavailable")
    return web.json_response({"communes": [
        {"pcode": u.pcode, "name": u.name, "country": u.country, "parent": u.parent_pcode, "lat": u.lat, "lon": u.lon}
        for u in units
    ]})


ABANDONED_AFTER_SECONDS = 180  # networks end idle USSD sessions after a minute or two


async def ussd_funnel(request: web.Request) -> web.Response:
    """Where people give up in the USSD menu: sessions by the step they ended on (every area's: a
    USSD session is not tied to one, so a scoped token is refused)."""

    reader = await api_principal(request)
    if not reader.scope.everywhere:
        raise web.HTTPForbidden(text="the USSD funnel covers every area: a scoped token cannot read it",
                                content_type="text/plain")
    runtime = request.app[RUNTIME]
    since = _since(request, "since")
    cutoff = runtime.clock().timestamp() - ABANDONED_AFTER_SECONDS
    query = select(UssdSession.state, UssdSession.end_reason, UssdSession.updated_at, UssdSession.report_id)
    if since:
        query = query.where(UssdSession.started_at >= since)
    counts: dict[str, dict[str, int]] = {}
    try:
        if runtime.ussd_live is not None:
            await runtime.ussd_live.flush()  # sessions kept in memory: their latest hops first
        async with runtime.sessions() as session:
            for state, end_reason, updated_at, report_id in await session.execute(query):
                step = (state or {}).get("step", "start")
                if report_id or end_reason == "completed":
                    outcome = "completed"
                elif end_reason is None and updated_at and updated_at.timestamp() > cutoff:
                    outcome = "in_progress"
                else:
                    outcome = "abandoned"
                counts.setdefault(outcome, {}).setdefault(step, 0)
                counts[outcome][step] += 1
            total = (await session.execute(select(func.count()).select_from(UssdSession))).scalar_one()
    except DATABASE_DOWN:
        return plain(503, "storage unavailable")
    return web.json_response({"sessions": total, "by_outcome_and_step": counts})
