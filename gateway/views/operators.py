"""What operators do from the dashboard: act on an alert (acknowledge, resolve with an outcome, add a
note, silence), on people (approve, block, edit, move; committee members added, retired, moved), and
what admins see (audit trail, partner API tokens, number reveals). Every page and action is kept to
the user's scope (another area's record answers 404, as if it did not exist); every action is a POST
with the session's CSRF token and leaves an audit row in its own transaction."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, tzinfo

from aiohttp import web

from alerts import api as alerts_api
from gateway.dashboard import admin_pages, alert_page, audit, people, tokens
from gateway.dashboard.auth import Session
from gateway.dashboard.layout import Texts, page
from gateway.dashboard.scope import Scope, ScopeError, resolve_areas
from gateway.kernel.localtime import day_start, zone
from gateway.kernel.phones import PhoneError, mask_phone, normalise_phone
from gateway.runtime import RUNTIME, Runtime
from gateway.storage.exports import alert_rows, report_rows
from gateway.views.common import DATABASE_DOWN, date_parameter, path_id, plain, text_parameter
from gateway.views.dashboard import _html, _session, _texts, action, view
from gateway.views.proxies import client_address

log = logging.getLogger(__name__)
ACTING = ("admin", "operator")
NOTICES = {"acknowledged": "Alert taken in charge.", "resolved": "Alert resolved; the outcome is recorded.",
           "noted": "Note added.", "silenced": "Silence set.", "lifted": "Silence lifted.",
           "approved": "Approved; the welcome SMS is queued.", "reapproved": "Approved.", "blocked": "Blocked.",
           "saved": "Saved.", "member-added": "Committee member added.", "retired": "Committee member retired.",
           "moved": "Committee member moved.", "revoked": "Token revoked."}



def _bad(field: str, reason: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=f"field '{field}' {reason}", content_type="text/plain")


def _not_found(what: str) -> web.HTTPNotFound:
    return web.HTTPNotFound(text=f"no {what}", content_type="text/plain")


def _field(form: dict[str, str], name: str, limit: int, required: bool = True) -> str:
    value = str(form.get(name, "")).strip()
    if required and not value:
        raise _bad(name, "is required")
    if len(value) > limit or not all(ch.isprintable() or ch in "\r\n" for ch in value):
        raise _bad(name, f"must be at most {limit} printable characters")
    return value


def _notice(request: web.Request) -> str | None:
    return NOTICES.get(request.query.get("done", ""))




def admin_view(title: str, build: Callable) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def only_admins(request: web.Request, runtime: Runtime, t: Texts, session: Session) -> str:
        if session.role != "admin":
            raise web.HTTPForbidden(text="admins only", content_type="text/plain")
        return await build(request, runtime, t, session)

    return view(title, only_admins)


def _address(request: web.Request, runtime: Runtime) -> str:
    return client_address(request, runtime.settings)


def _expiry(runtime: Runtime) -> timedelta:
    return runtime.settings.outbox.alert_expiry


# --- alerts ---------------------------------------------------------------------------------------

async def _visible_alert(db, request: web.Request, session: Session):
    code = request.match_info["code"]
    alert = await alert_page.find_visible_alert(db, code, session.scope)
    if alert is None:
        raise _not_found(f"alert {code[:12]}")
    return alert


async def _alert(request: web.Request, runtime: Runtime, t: Texts, session: Session) -> str:
    now = runtime.clock()
    async with runtime.sessions() as db:
        alert = await _visible_alert(db, request, session)
        shown = await alert_page.alert_view(db, t, runtime.taxonomy, alert, now)
    return alert_page.alert_body(t, runtime.taxonomy, shown, session.csrf_token(runtime.settings),
                                 session.role in ACTING, session.scope, now, _notice(request))


alert_detail = view("Alert", _alert)


def _back(code: str, done: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/dashboard/alerts/{code}?done={done}")


async def _acknowledge(request: web.Request, runtime: Runtime, session: Session, form: dict) -> web.StreamResponse:
    now = runtime.clock()
    async with runtime.sessions() as db, db.begin():
        alert = await _visible_alert(db, request, session)
        try:
            await alerts_api.acknowledge_as(db, alert.code, session.user, now, alert_expiry=_expiry(runtime))
        except alerts_api.ActionError as exc:
            return plain(409, str(exc))
        await audit.record(db, now, session.user, "acknowledge", f"alert {alert.code}", None, _address(request, runtime))
    raise _back(alert.code, "acknowledged")


async def _resolve(request: web.Request, runtime: Runtime, session: Session, form: dict) -> web.StreamResponse:
    now = runtime.clock()
    category = _field(form, "category", 32)
    if category not in alerts_api.RESPONSE_CATEGORIES:
        raise _bad("category", f"must be one of {', '.join(alerts_api.RESPONSE_CATEGORIES)}")
    note = _field(form, "note", 500)
    async with runtime.sessions() as db, db.begin():
        alert = await _visible_alert(db, request, session)
        try:
            await alerts_api.resolve_with_outcome(db, alert.code, session.user, category, note, now,
                                                  gazetteer=runtime.gazetteer, alert_expiry=_expiry(runtime))
        except alerts_api.ActionError as exc:
            return plain(409, str(exc))
        await audit.record(db, now, session.user, "resolve", f"alert {alert.code}", f"{category}: {note}",
                           _address(request, runtime))
    raise _back(alert.code, "resolved")


async def _note(request: web.Request, runtime: Runtime, session: Session, form: dict) -> web.StreamResponse:
    now = runtime.clock()
    note = _field(form, "note", 500)
    async with runtime.sessions() as db, db.begin():
        alert = await _visible_alert(db, request, session)
        await alerts_api.add_note(db, alert.code, session.user, note, now)
        await audit.record(db, now, session.user, "note", f"alert {alert.code}", note, _address(request, runtime))
    raise _back(alert.code, "noted")


def _silence_end(form: dict, now: datetime, where: tzinfo) -> datetime:
    """The silence's end: a duration, or a date and time in the deployment's zone `where` (as the form shows times)."""
    hours, until = str(form.get("hours", "")).strip(), str(form.get("until", "")).strip()
    if hours:
        if not hours.isascii() or not hours.isdigit() or not 1 <= int(hours) <= 24 * 30:
            raise _bad("hours", "must be 1..720")
        return now + timedelta(hours=int(hours))
    if not until:
        raise _bad("until", "is required: choose a duration or an end time")
    try:
        end = datetime.fromisoformat(until[:40])
    except ValueError:
        raise _bad("until", "must be a date and time, YYYY-MM-DDTHH:MM (local time)") from None
    end = (end.replace(tzinfo=where) if end.tzinfo is None else end).astimezone(UTC)
    if end <= now:
        raise _bad("until", "must be in the future")
    if end > now + alert_page.MAX_SILENCE:
        raise _bad("until", f"must be within {alert_page.MAX_SILENCE.days} days")
    return end


async def _silence(request: web.Request, runtime: Runtime, session: Session, form: dict) -> web.StreamResponse:
    now = runtime.clock()
    until = _silence_end(form, now, zone(runtime.settings.gateway.time_zone))
    reason = _field(form, "reason", 200)
    area, incident = _field(form, "area", 16), _field(form, "incident", 32)
    async with runtime.sessions() as db, db.begin():
        alert = await _visible_alert(db, request, session)
        path = {a.pcode for a in await alert_page.area_path(db, alert.commune_pcode)}
        if area not in path or not session.scope.covers(area):
            raise _bad("area", "must be the alert's commune, department or region, within your scope")
        if incident not in (alert.incident, "*"):
            raise _bad("incident", f"must be {alert.incident} or *")
        try:
            silence = await alerts_api.silence_alert(db, alert.code, session.user, area=area,
                                                     incident=None if incident == "*" else incident, until=until,
                                                     reason=reason, now=now)
        except alerts_api.ActionError as exc:
            raise _bad("until", str(exc)) from None
        await audit.record(db, now, session.user, "silence", f"silence {silence.id} (alert {alert.code})",
                           f"{area} {incident} until {until:%Y-%m-%d %H:%M} UTC: {reason}", _address(request, runtime))
    raise _back(alert.code, "silenced")


async def _lift(request: web.Request, runtime: Runtime, session: Session, form: dict) -> web.StreamResponse:
    now = runtime.clock()
    silence_id = path_id(request, "silence_id", "silence")
    async with runtime.sessions() as db, db.begin():
        standing = {s.id: s for s in await alerts_api.standing_silences(db, now)}
        if silence_id not in standing or not session.scope.covers(standing[silence_id].area_pcode):
            raise _not_found(f"silence {silence_id} in force")
        await alerts_api.lift_silence(db, silence_id, session.user, now)
        await audit.record(db, now, session.user, "silence_lift", f"silence {silence_id}", None,
                           _address(request, runtime))
    raise web.HTTPSeeOther("/dashboard/silences?done=lifted")


async def _silences(request: web.Request, runtime: Runtime, t: Texts, session: Session) -> str:
    async with runtime.sessions() as db:
        standing = [s for s in await alerts_api.standing_silences(db, runtime.clock())
                    if session.scope.covers(s.area_pcode)]
    return admin_pages.silences_body(t, standing, session.csrf_token(runtime.settings), session.role in ACTING,
                                     _notice(request))


silences = view("Silences", _silences)


# --- people ---------------------------------------------------------------------------------------

async def _people(request: web.Request, runtime: Runtime, t: Texts, session: Session) -> str:
    status = request.query.get("status") or None
    if status is not None and status not in people.STATUSES:
        raise web.HTTPBadRequest(text=f"parameter 'status' must be one of {', '.join(people.STATUSES)}",
                                 content_type="text/plain")
    async with runtime.sessions() as db:
        found = await people.focal_points(db, session.scope, runtime.pseudonym_secret, status)
        committee = await people.members(db, session.scope)
    return people.people_body(t, found, committee, session.csrf_token(runtime.settings), session.role in ACTING,
                              status, _notice(request))


people_page = view("People", _people)


async def _person_line(db, request: web.Request, runtime: Runtime, session: Session):
    reporter_id = path_id(request, "person_id", "focal point")
    reporter = await people.visible_reporter(db, reporter_id, session.scope)
    if reporter is None:
        raise _not_found(f"focal point {reporter_id}")
    found = [p for p in await people.focal_points(db, Scope((reporter.commune_pcode,)) if reporter.commune_pcode
                                                  else session.scope, runtime.pseudonym_secret, reporter.status)
             if p.id == reporter.id]
    return reporter, found[0] if found else None


async def _person(request: web.Request, runtime: Runtime, t: Texts, session: Session) -> str:
    async with runtime.sessions() as db:
        _, line = await _person_line(db, request, runtime, session)
    if line is None:
        raise _not_found("focal point")
    return people.person_body(t, line, session.csrf_token(runtime.settings), session.role in ACTING,
                              session.role == "admin", None, _notice(request))


person_page = view("Focal point", _person)


async def _reveal(request: web.Request, runtime: Runtime, session: Session, form: dict) -> web.StreamResponse:
    """The number, shown once in this answer to an admin who asked, and the reveal recorded."""
    now = runtime.clock()
    t = _texts(request)
    async with runtime.sessions() as db, db.begin():
        reporter, line = await _person_line(db, request, runtime, session)
        if line is None:
            raise _not_found("focal point")
        await audit.record(db, now, session.user, "reveal", f"reporter {reporter.id}", None, _address(request, runtime))
        number = reporter.phone
    log.info("dashboard: %s revealed the number of reporter %d", session.user, reporter.id)
    body = people.person_body(t, line, session.csrf_token(runtime.settings), True, True, number, None)
    return _html(request, _page(t, "Focal point", body, request, session, runtime))


def _page(t: Texts, title: str, body: str, request: web.Request, session: Session, runtime: Runtime) -> str:
    return page(t, title, body, request.path, session.csrf_token(runtime.settings), session.role)


async def _set_status(request: web.Request, runtime: Runtime, session: Session, verb: str) -> web.StreamResponse:
    now = runtime.clock()
    async with runtime.sessions() as db, db.begin():
        reporter, _ = await _person_line(db, request, runtime, session)
        if verb == "approve":
            welcomed = await people.approve(db, reporter, now)
            done = "approved" if welcomed else "reapproved"
            detail = "welcome SMS queued" if welcomed else None
        else:
            reporter.status, done, detail = "blocked", "blocked", None
        await audit.record(db, now, session.user, verb, f"reporter {reporter.id}", detail, _address(request, runtime))
    if done == "approved":
        runtime.after_commit(False, True)
    raise web.HTTPSeeOther(f"/dashboard/people?done={done}")


async def _approve(request: web.Request, runtime: Runtime, session: Session, form: dict) -> web.StreamResponse:
    return await _set_status(request, runtime, session, "approve")


async def _block(request: web.Request, runtime: Runtime, session: Session, form: dict) -> web.StreamResponse:
    return await _set_status(request, runtime, session, "block")


async def _commune(db, form: dict, session: Session, field: str = "commune", levels: tuple[int, ...] = (3,)) -> str:
    """A unit named in a form (name or P-code) at one of `levels`, within the user's scope."""
    raw = _field(form, field, 100)
    try:
        (pcode,) = await resolve_areas(db, [raw])
    except ScopeError as exc:
        raise _bad(field, str(exc)) from None
    unit = await people.unit(db, pcode)
    if unit is None or unit.level not in levels:
        raise _bad(field, f"{raw[:40]!r} is not a {'commune' if levels == (3,) else 'region, department or commune'}")
    if not session.scope.covers(pcode):
        raise _bad(field, f"{raw[:40]!r} is outside your scope")
    return pcode


async def _edit(request: web.Request, runtime: Runtime, session: Session, form: dict) -> web.StreamResponse:
    now = runtime.clock()
    name = _field(form, "name", 120, required=False)
    lang = _field(form, "lang", 3)
    if lang not in ("fr", "ha", "dje"):
        raise _bad("lang", "must be fr, ha or dje")
    async with runtime.sessions() as db, db.begin():
        reporter, _ = await _person_line(db, request, runtime, session)
        commune = await _commune(db, form, session)
        moved_from = reporter.commune_pcode if commune != reporter.commune_pcode else None
        reporter.name, reporter.lang, reporter.commune_pcode = name or None, lang, commune
        address = _address(request, runtime)
        await audit.record(db, now, session.user, "edit", f"reporter {reporter.id}", f"lang {lang}", address)
        if moved_from is not None:
            await audit.record(db, now, session.user, "move", f"reporter {reporter.id}",
                               f"{moved_from} -> {commune}", address)
    raise web.HTTPSeeOther(f"/dashboard/people/{reporter.id}?done=saved")


async def _add_member(request: web.Request, runtime: Runtime, session: Session, form: dict) -> web.StreamResponse:
    now = runtime.clock()
    settings = runtime.settings.gateway
    try:
        phone = normalise_phone(_field(form, "phone", 30), settings.default_region, settings.accepted_regions)
    except PhoneError as exc:
        raise _bad("phone", str(exc)) from None
    name, role, lang = _field(form, "name", 120, required=False), _field(form, "role", 12), _field(form, "lang", 3)
    async with runtime.sessions() as db, db.begin():
        area = await _commune(db, form, session, "area", (1, 2, 3))
        try:
            await alerts_api.add_member(db, phone, name or None, area, role, lang, settings.default_region,
                                        settings.accepted_regions)
        except alerts_api.CommitteeImportError as exc:
            raise _bad("member", str(exc)) from None
        member = await people.member_at(db, phone, area)
        await audit.record(db, now, session.user, "member_add", f"member {member.id}",
                           f"{mask_phone(phone)} {area} {role}", _address(request, runtime))
    raise web.HTTPSeeOther("/dashboard/people?done=member-added")


async def _visible_member(db, request: web.Request, session: Session):
    member_id = path_id(request, "member_id", "committee member")
    member = await people.visible_member(db, member_id, session.scope)
    if member is None:
        raise _not_found(f"committee member {member_id}")
    return member


async def _retire(request: web.Request, runtime: Runtime, session: Session, form: dict) -> web.StreamResponse:
    now = runtime.clock()
    async with runtime.sessions() as db, db.begin():
        member = await _visible_member(db, request, session)
        await alerts_api.remove_member(db, member.phone, member.area_pcode)
        await audit.record(db, now, session.user, "member_retire", f"member {member.id}", member.area_pcode,
                           _address(request, runtime))
    raise web.HTTPSeeOther("/dashboard/people?done=retired")


async def _move_member(request: web.Request, runtime: Runtime, session: Session, form: dict) -> web.StreamResponse:
    now = runtime.clock()
    settings = runtime.settings.gateway
    async with runtime.sessions() as db, db.begin():
        member = await _visible_member(db, request, session)
        area = await _commune(db, form, session, "area", (1, 2, 3))
        if area != member.area_pcode:
            old = member.area_pcode
            await alerts_api.add_member(db, member.phone, member.name, area, member.role, member.lang,
                                        settings.default_region, settings.accepted_regions)
            await alerts_api.remove_member(db, member.phone, old, settings.default_region, settings.accepted_regions)
            await audit.record(db, now, session.user, "move", f"member {member.id}", f"{old} -> {area}",
                               _address(request, runtime))
    raise web.HTTPSeeOther("/dashboard/people?done=moved")


# --- admin: audit trail, tokens; exports ------------------------------------------------------------

def _audit_day(request: web.Request, name: str, where: tzinfo) -> datetime | None:
    """A date filter: a bare date (what the form's date fields send) is that day in the deployment's
    zone `where`, as the times listed are; a time with its zone is taken as it is."""
    value = date_parameter(request, name)
    return day_start(value.date(), where) if value is not None and len(request.query[name]) == 10 else value


async def _audit(request: web.Request, runtime: Runtime, t: Texts, session: Session) -> str:
    action_name = text_parameter(request, "action")
    if action_name and action_name not in audit.ACTIONS:
        raise web.HTTPBadRequest(text=f"parameter 'action' must be one of {', '.join(audit.ACTIONS)}",
                                 content_type="text/plain")
    until = _audit_day(request, "until", t.where)
    where = audit.AuditFilter(text_parameter(request, "actor"), action_name, text_parameter(request, "target"),
                              _audit_day(request, "since", t.where),
                              until + timedelta(days=1) if until and len(request.query["until"]) == 10 else until)
    async with runtime.sessions() as db:
        rows = await audit.entries(db, where)
    return admin_pages.audit_body(t, rows, audit.AuditFilter(where.actor, where.action, where.target, where.since,
                                                             until), audit.PAGE_SIZE)


audit_page = admin_view("Audit trail", _audit)


async def _tokens(request: web.Request, runtime: Runtime, t: Texts, session: Session) -> str:
    async with runtime.sessions() as db:
        listed = await tokens.list_tokens(db)
    return admin_pages.tokens_body(t, listed, session.csrf_token(runtime.settings), runtime.clock(), None,
                                   _notice(request))


tokens_page = admin_view("API tokens", _tokens)


async def _add_token(request: web.Request, runtime: Runtime, session: Session, form: dict) -> web.StreamResponse:
    now = runtime.clock()
    t = _texts(request)
    name, role = _field(form, "name", 64), _field(form, "role", 12)
    days = _field(form, "days", 4)
    if not days.isascii() or not days.isdigit() or not 1 <= int(days) <= 3650:
        raise _bad("days", "must be 1..3650")
    areas = [a for a in _field(form, "scope", 400, required=False).split(",") if a.strip()]
    async with runtime.sessions() as db, db.begin():
        try:
            scope = Scope(await resolve_areas(db, areas)) if areas else Scope()
            row, token = await tokens.add_token(db, name, role, scope, now + timedelta(days=int(days)), now)
        except (ScopeError, tokens.TokenError) as exc:
            raise _bad("token", str(exc)) from None
        await audit.record(db, now, session.user, "token_add", row.name,
                           f"role {row.role}, scope {scope.label()}, expires {row.expires_at:%Y-%m-%d}",
                           _address(request, runtime))
        listed = await tokens.list_tokens(db)
    body = admin_pages.tokens_body(t, listed, session.csrf_token(runtime.settings), now, token, None)
    return _html(request, _page(t, "API tokens", body, request, session, runtime))


async def _revoke_token(request: web.Request, runtime: Runtime, session: Session, form: dict) -> web.StreamResponse:
    now = runtime.clock()
    name = _field(form, "name", 64)
    async with runtime.sessions() as db, db.begin():
        if not await tokens.revoke_token(db, name, now):
            raise _not_found(f"live token of {name!r}")
        await audit.record(db, now, session.user, "token_revoke", name, None, _address(request, runtime))
    raise web.HTTPSeeOther("/dashboard/tokens?done=revoked")


def _csv(rows: list[dict], columns: list[str], filename: str) -> web.Response:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (" ".join(map(str, v)) if isinstance(v, list) else v) for k, v in row.items()})
    return web.Response(text=out.getvalue(), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"',
                                 "Cache-Control": "no-store"})


ALERT_COLUMNS = ["id", "code", "commune", "incident", "level", "status", "opened_at", "acknowledged_at",
                 "acknowledged_by", "resolved_at", "escalation_step", "outcome_category", "outcome_note", "outcome_by", "report_ids"]
REPORT_COLUMNS = ["id", "ref", "received_at", "incident", "commune", "village", "count", "status", "trust",
                  "reporter", "lang", "free_text"]


async def export(request: web.Request) -> web.StreamResponse:
    """The alerts or reports of the user's scope as CSV (reporters as pseudonyms); audited."""
    runtime = request.app[RUNTIME]
    what = request.match_info["what"]
    try:
        session = await _session(request)
        if session is None:
            raise web.HTTPSeeOther("/dashboard/login")
        now = runtime.clock()
        async with runtime.sessions() as db, db.begin():
            if what == "alerts":
                rows = await alert_rows(db, within=session.scope.pcodes, since=now - timedelta(days=365))
                for row in rows:
                    outcome = row.pop("outcome") or {}
                    row.update(outcome_category=outcome.get("category"), outcome_note=outcome.get("note"),
                               outcome_by=outcome.get("by"))
                columns = ALERT_COLUMNS
            else:
                rows = await report_rows(db, within=session.scope.pcodes, since=now - timedelta(days=365))
                columns = REPORT_COLUMNS
            await audit.record(db, now, session.user, "export", f"{what}.csv", f"{len(rows)} rows",
                               client_address(request, runtime.settings))
    except DATABASE_DOWN:
        return plain(503, "storage unavailable")
    return _csv(rows, columns, f"ewg-{what}-{now:%Y%m%d}.csv")


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_get(r"/dashboard/alerts/{code}", alert_detail)
    router.add_post(r"/dashboard/alerts/{code}/acknowledge", action(ACTING, _acknowledge))
    router.add_post(r"/dashboard/alerts/{code}/resolve", action(ACTING, _resolve))
    router.add_post(r"/dashboard/alerts/{code}/note", action(ACTING, _note))
    router.add_post(r"/dashboard/alerts/{code}/silence", action(ACTING, _silence))
    router.add_get("/dashboard/silences", silences)
    router.add_post(r"/dashboard/silences/{silence_id}/lift", action(ACTING, _lift))
    router.add_get("/dashboard/people", people_page)
    router.add_get(r"/dashboard/people/{person_id:\d+}", person_page)
    router.add_post(r"/dashboard/people/{person_id:\d+}/approve", action(ACTING, _approve))
    router.add_post(r"/dashboard/people/{person_id:\d+}/block", action(ACTING, _block))
    router.add_post(r"/dashboard/people/{person_id:\d+}/edit", action(ACTING, _edit))
    router.add_post(r"/dashboard/people/{person_id:\d+}/reveal", action(("admin",), _reveal))
    router.add_post("/dashboard/members", action(ACTING, _add_member))
    router.add_post(r"/dashboard/members/{member_id:\d+}/retire", action(ACTING, _retire))
    router.add_post(r"/dashboard/members/{member_id:\d+}/move", action(ACTING, _move_member))
    router.add_get("/dashboard/audit", audit_page)
    router.add_get("/dashboard/tokens", tokens_page)
    router.add_post("/dashboard/tokens", action(("admin",), _add_token))
    router.add_post("/dashboard/tokens/revoke", action(("admin",), _revoke_token))
    router.add_get(r"/dashboard/export/{what:(alerts|reports)}.csv", export)
