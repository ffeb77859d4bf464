"""Broadcasts from the dashboard and the SMS spend page. Writing, previewing, sending, approving and
cancelling are actions of operators and admins (views.dashboard.action: login, CSRF, role), kept
to the user's scope; sending, approving and cancelling each leave an audit row."""

from __future__ import annotations

import logging
from datetime import timedelta

from aiohttp import web
from sqlalchemy import func, select

from gateway.dashboard import audit, broadcast_pages, broadcasts
from gateway.dashboard.auth import Session
from gateway.dashboard.layout import Texts, page
from gateway.dashboard.scope import ScopeError, resolve_areas
from gateway.kernel.i18n import LANGUAGES
from gateway.runtime import Runtime
from gateway.storage.models import Outbox
from gateway.storage.spend import daily_spend, month_budget
from gateway.views.common import path_id
from gateway.views.dashboard import _html, _texts, action, view
from gateway.views.proxies import client_address

log = logging.getLogger(__name__)
ACTING = ("admin", "operator")
SPEND_DAYS = 31


class _Written:
    """What the operator typed into the broadcast form, checked for shape (not yet for recipients)."""

    def __init__(self, form: dict[str, str]):
        self.area = str(form.get("area", "")).strip()[:100]
        self.audience = str(form.get("audience", ""))
        self.texts = {lang: str(form.get(f"text_{lang}", "")).strip() for lang in LANGUAGES}
        for lang, text in self.texts.items():
            if len(text) > 1000 or not all(ch.isprintable() or ch in "\r\n" for ch in text):
                raise web.HTTPBadRequest(text=f"field 'text_{lang}' must be at most 1000 printable characters",
                                         content_type="text/plain")
        if self.audience not in broadcasts.AUDIENCES:
            raise web.HTTPBadRequest(text=f"field 'audience' must be one of {', '.join(broadcasts.AUDIENCES)}",
                                     content_type="text/plain")
        if not self.area:
            raise web.HTTPBadRequest(text="field 'area' is required", content_type="text/plain")


async def _area(db, written: _Written, session: Session) -> str:
    try:
        (pcode,) = await resolve_areas(db, [written.area])
    except ScopeError as exc:
        raise web.HTTPBadRequest(text=f"field 'area' {exc}", content_type="text/plain") from None
    if not session.scope.covers(pcode):
        raise web.HTTPBadRequest(text=f"field 'area' {written.area[:40]!r} is outside your scope",
                                 content_type="text/plain")
    return pcode


async def _banner(db, runtime: Runtime, t: Texts) -> str:
    return broadcast_pages.budget_banner(t, await month_budget(db, runtime.settings.costs, runtime.clock()))


def _page(request: web.Request, runtime: Runtime, session: Session, t: Texts, title: str, body: str,
          status: int = 200) -> web.Response:
    return _html(request, page(t, title, body, "/dashboard/broadcasts", session.csrf_token(runtime.settings),
                               session.role), status)


async def _preview_answer(request: web.Request, runtime: Runtime, session: Session, written: _Written,
                          plan: broadcasts.Plan, error: str | None = None, status: int = 200) -> web.Response:
    t = _texts(request)
    body = broadcast_pages.preview_body(t, session.csrf_token(runtime.settings), written.area, written.audience,
                                        written.texts, plan, runtime.settings.broadcast.approval_threshold, error)
    return _page(request, runtime, session, t, "New broadcast", body, status)


async def _preview(request: web.Request, runtime: Runtime, session: Session, form: dict) -> web.StreamResponse:
    written = _Written(form)
    async with runtime.sessions() as db:
        area = await _area(db, written, session)
        plan = await broadcasts.plan(db, runtime.settings, area, written.audience, written.texts)
    return await _preview_answer(request, runtime, session, written, plan)


async def _send(request: web.Request, runtime: Runtime, session: Session, form: dict) -> web.StreamResponse:
    """Store the broadcast: queued at once, or waiting for a second person above the threshold. A
    refusal (a language without text, the budget) answers the preview again with the reason, 409."""
    written = _Written(form)
    now = runtime.clock()
    refusal, plan = None, None
    async with runtime.sessions() as db:
        try:
            async with db.begin():  # a refusal rolls back whatever the broadcast had written
                area = await _area(db, written, session)
                plan = await broadcasts.plan(db, runtime.settings, area, written.audience, written.texts)
                row = await broadcasts.create(db, runtime.settings, plan, session.user, now)
                await audit.record(db, now, session.user, "broadcast", f"broadcast {row.id}",
                                   f"{area} {written.audience}, {row.recipients} recipients, {row.status}",
                                   client_address(request, runtime.settings))
        except broadcasts.BroadcastError as exc:
            refusal = str(exc)
    if refusal is not None:
        log.info("broadcast by %s refused: %s", session.user, refusal)
        if plan is None:
            raise web.HTTPBadRequest(text=refusal, content_type="text/plain")
        return await _preview_answer(request, runtime, session, written, plan, refusal, 409)
    log.info("broadcast %d by %s: %d recipients, %s", row.id, session.user, row.recipients, row.status)
    if row.status == "queued":
        runtime.after_commit(False, True)
    raise web.HTTPSeeOther(f"/dashboard/broadcasts/{row.id}?done={'queued' if row.status == 'queued' else 'waiting'}")


async def _visible(db, request: web.Request, session: Session, lock: bool = False):
    broadcast_id = path_id(request, "broadcast_id", "broadcast")
    row = await broadcasts.visible(db, broadcast_id, session.scope, lock)
    if row is None:
        raise web.HTTPNotFound(text=f"no broadcast {broadcast_id}", content_type="text/plain")
    return row


async def _decide(request: web.Request, runtime: Runtime, session: Session, verb: str) -> web.StreamResponse:
    now = runtime.clock()
    broadcast_id = path_id(request, "broadcast_id", "broadcast")
    refusal = None
    async with runtime.sessions() as db:
        try:
            async with db.begin():  # a refusal rolls back whatever the approval had written
                row = await _visible(db, request, session, lock=True)
                if verb == "approve":
                    queued = await broadcasts.approve(db, runtime.settings, row, session.user, now)
                    detail = f"{queued} SMS queued"
                else:
                    broadcasts.cancel(row, session.user, now)
                    detail = None
                await audit.record(db, now, session.user, f"broadcast_{verb}", f"broadcast {row.id}", detail,
                                   client_address(request, runtime.settings))
        except broadcasts.BroadcastError as exc:
            refusal = str(exc)
    if refusal is not None:
        log.info("broadcast %d: %s by %s refused: %s", broadcast_id, verb, session.user, refusal)
        raise web.HTTPConflict(text=refusal, content_type="text/plain")
    if verb == "approve":
        runtime.after_commit(False, True)
    raise web.HTTPSeeOther(f"/dashboard/broadcasts/{broadcast_id}?done={'approved' if verb == 'approve' else 'cancelled'}")


async def _approve(request: web.Request, runtime: Runtime, session: Session, form: dict) -> web.StreamResponse:
    return await _decide(request, runtime, session, "approve")


async def _cancel(request: web.Request, runtime: Runtime, session: Session, form: dict) -> web.StreamResponse:
    return await _decide(request, runtime, session, "cancel")


async def _list(request: web.Request, runtime: Runtime, t: Texts, session: Session) -> str:
    async with runtime.sessions() as db:
        rows = await broadcasts.listed(db, session.scope)
        names = await broadcasts.area_names(db, {b.area_pcode for b in rows})
        banner = await _banner(db, runtime, t)
    return broadcast_pages.list_body(t, rows, names, session.csrf_token(runtime.settings), session.role in ACTING,
                                     banner)


async def _detail(request: web.Request, runtime: Runtime, t: Texts, session: Session) -> str:
    async with runtime.sessions() as db:
        row = await _visible(db, request, session)
        names = await broadcasts.area_names(db, {row.area_pcode})
        delivered = await broadcasts.delivery(db, row.id)
        spent = (await db.execute(select(func.coalesce(func.sum(Outbox.spend), 0.0))
                                  .where(Outbox.broadcast_id == row.id))).scalar_one()
        banner = await _banner(db, runtime, t)
    return broadcast_pages.detail_body(t, row, names.get(row.area_pcode, row.area_pcode), delivered, float(spent),
                                       runtime.settings.costs.currency, session.csrf_token(runtime.settings),
                                       session.user, session.role in ACTING,
                                       broadcast_pages.NOTICES.get(request.query.get("done", "")), banner)


async def _spend(request: web.Request, runtime: Runtime, t: Texts, session: Session) -> str:
    now = runtime.clock()
    async with runtime.sessions() as db:
        lines = await daily_spend(db, (now - timedelta(days=SPEND_DAYS - 1)).date())
        budget = await month_budget(db, runtime.settings.costs, now)
    return broadcast_pages.spend_body(t, lines, budget, SPEND_DAYS)


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/dashboard/broadcasts", view("Broadcasts", _list))
    router.add_post("/dashboard/broadcasts/preview", action(ACTING, _preview))
    router.add_post("/dashboard/broadcasts", action(ACTING, _send))
    router.add_get(r"/dashboard/broadcasts/{broadcast_id:\d+}", view("Broadcast", _detail))
    router.add_post(r"/dashboard/broadcasts/{broadcast_id:\d+}/approve", action(ACTING, _approve))
    router.add_post(r"/dashboard/broadcasts/{broadcast_id:\d+}/cancel", action(ACTING, _cancel))
    router.add_get("/dashboard/spend", view("SMS spend", _spend))
