"""The dashboard's pages: login as a dashboard user (`ewg users add`), then the situation, reports,
review queue, silent focal points and delivery, each kept to the user's scope. Labelling a
review-queue text is a POST with the session cookie and a CSRF token (operators and admins, not
viewers); what operators do to people and alerts is in gateway/views/operators.py. Every login,
logout and label is an audit row."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta
from pathlib import Path

from aiohttp import web

from gateway.dashboard import (
    audit,
    auth,
    broadcast_pages,
    pages,
    provider_health,
    queries,
    response_chart,
    users,
)
from gateway.dashboard.layout import Texts, page
from gateway.dashboard.lexicon_page import suggestions_body
from gateway.dashboard.partner_warnings import partner_warnings, partner_warnings_section
from gateway.dashboard.suggestions import (
    Suggestion,
    SuggestionError,
    accept_word,
    append_suggestion,
    checked_word,
    decide,
    pending,
    resolve,
)
from gateway.gazetteer.reference import lexicon_overlay
from gateway.kernel.i18n import LANGUAGES
from gateway.kernel.localtime import local, zone
from gateway.parser import LexiconError, load_parser
from gateway.runtime import RUNTIME, Runtime
from gateway.storage.spend import month_budget
from gateway.views.android import PHONE
from gateway.views.common import (
    DATABASE_DOWN,
    cookie,
    int_parameter,
    path_id,
    plain,
    read_form,
    text_parameter,
)
from gateway.views.proxies import client_address, is_https

log = logging.getLogger(__name__)
SESSION_COOKIE, LANG_COOKIE = "ewg_session", "ewg_lang"
LOGIN_LIMITER = web.AppKey("login_limiter", auth.AttemptLimiter)
LABELLING_ROLES = ("admin", "operator")
STATIC = Path(__file__).resolve().parents[1] / "dashboard" / "static"
NOTICES = {"labelled": "Labelled.", "suggested": "Labelled; the word was added to the suggestions file.",
           "bad-word": "Not labelled: a word is letters, spaces, hyphens or apostrophes, at most 40 characters.",
           "accepted": "Accepted: the word is in the local lexicon and understood from the next SMS.",
           "known": "Accepted: the local lexicon already had this word.",
           "rejected": "Rejected: the suggestion is gone and the lexicon is unchanged."}

Page = Callable[[web.Request, Runtime, Texts, auth.Session], Awaitable[str]]


def _texts(request: web.Request) -> Texts:
    return Texts(request.query.get("lang") or cookie(request, LANG_COOKIE) or "fr",
                 zone(request.app[RUNTIME].settings.gateway.time_zone))


def _html(request: web.Request, body: str, status: int = 200) -> web.Response:
    response = web.Response(text=body, status=status, content_type="text/html", charset="utf-8")
    response.headers.update({"X-Frame-Options": "DENY", "Referrer-Policy": "same-origin", "Cache-Control": "no-store",
                             "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                                                        "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"})
    lang = request.query.get("lang")
    if lang in ("fr", "ha", "dje"):
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, httponly=True, samesite="Strict")
    return response


async def _session(request: web.Request) -> auth.Session | None:
    """The request's session: a signed, unexpired cookie whose user still holds the same epoch."""
    runtime = request.app[RUNTIME]
    claim = auth.read_session_cookie(runtime.settings, cookie(request, SESSION_COOKIE), runtime.clock())
    if claim is None:
        return None
    async with runtime.sessions() as db:
        return await users.session_of(db, claim)


def view(title_msgid: str, build: Page) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A logged-in page: redirect to the login form without a valid session."""

    async def handler(request: web.Request) -> web.Response:
        runtime = request.app[RUNTIME]
        t = _texts(request)
        try:
            session = await _session(request)
            if session is None:
                raise web.HTTPSeeOther("/dashboard/login")
            body = await build(request, runtime, t, session)
        except DATABASE_DOWN:
            return plain(503, "storage unavailable")
        return _html(request, page(t, title_msgid, body, request.path, session.csrf_token(runtime.settings),
                                   session.role))

    return handler


async def login_form(request: web.Request) -> web.Response:
    t = _texts(request)
    return _html(request, page(t, "Log in", pages.login_body(t), request.path, None))


async def login(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    settings = runtime.settings
    if not auth.sessions_enabled(settings):
        return plain(503, "dashboard login disabled: set dashboard.session_secret")
    form = await read_form(request)  # a hostile body is a 400, not a 500
    name, password = str(form.get("user", "")).strip(), str(form.get("password", ""))
    address = client_address(request, settings)
    t = _texts(request)
    wait = request.app[LOGIN_LIMITER].attempt([f"address {address}", f"user {name[:64].casefold()}"],
                                              runtime.clock().timestamp())
    if wait:
        log.warning("dashboard login refused: too many attempts (from %s)", address)
        response = _html(request, page(t, "Log in", pages.login_body(
            t, t("Too many login attempts: try again in {seconds} s.", seconds=wait)), request.path, None), 429)
        response.headers["Retry-After"] = str(wait)
        return response
    try:
        user = await users.check_login(runtime.sessions, name, password)
    except DATABASE_DOWN:
        return plain(503, "storage unavailable")
    if user is None:
        log.warning("dashboard login refused (from %s)", address)
        await _audit_login(runtime, name, "login_refused", address)
        return _html(request, page(t, "Log in", pages.login_body(t, t("Wrong user name or password.")),
                                   request.path, None), status=401)
    log.info("dashboard login: %s", user.name)
    await _audit_login(runtime, user.name, "login", address)
    response = web.HTTPSeeOther("/dashboard")
    response.set_cookie(SESSION_COOKIE, auth.new_session_cookie(settings, user.id, user.session_epoch, runtime.clock()),
                        max_age=int(settings.dashboard.session_hours * 3600), httponly=True,
                        samesite="Strict", secure=is_https(request, settings), path="/dashboard")
    raise response


async def _audit_login(runtime: Runtime, name: str, action: str, address: str) -> None:
    """A refused login names the user only when it exists: a password typed into the name field
    must not land in the audit trail."""
    try:
        async with runtime.sessions() as db, db.begin():
            if action == "login_refused" and (not users.NAME.fullmatch(name) or await users.find_user(db, name) is None):
                name = "?"
            await audit.record(db, runtime.clock(), name, action, None, None, address)
    except DATABASE_DOWN:
        log.warning("audit row of a %s not written: storage unavailable", action)


async def _logout(request: web.Request, runtime: Runtime, session: auth.Session,
                  form: dict[str, str]) -> web.StreamResponse:
    """Ends every session of the user, not only this browser's: a cookie copied elsewhere dies too."""
    async with runtime.sessions() as db, db.begin():
        await users.end_sessions(db, session.user_id, session.epoch)
        await audit.record(db, runtime.clock(), session.user, "logout", None, None,
                           client_address(request, runtime.settings))
    log.info("dashboard logout: %s", session.user)
    response = web.HTTPSeeOther("/dashboard/login")
    response.del_cookie(SESSION_COOKIE, path="/dashboard")
    raise response


async def _situation(request: web.Request, runtime: Runtime, t: Texts, session: auth.Session) -> str:
    now = runtime.clock()
    async with runtime.sessions() as db:
        known = await queries.places(db)
        points = await queries.commune_points(db, known, session.scope)
        alerts = await queries.standing_alerts(db, known, scope=session.scope)
        delays = await queries.acknowledge_delays(db, now - timedelta(days=30), session.scope)
        spilled = await queries.spilled_communes(db, session.scope)
        budget = await month_budget(db, runtime.settings.costs, now)
        from_partners = await partner_warnings(db, now, session.scope)
    return (broadcast_pages.budget_banner(t, budget)
            + pages.situation_body(t, runtime.taxonomy, points, alerts, delays, now, spilled)
            + partner_warnings_section(t, runtime.taxonomy, from_partners,
                                       bool(runtime.settings.spillover.partner_list)))


async def _reports(request: web.Request, runtime: Runtime, t: Texts, session: auth.Session) -> str:
    days = int_parameter(request, "days", 14, 1, 90)
    region = text_parameter(request, "region")
    first_day = local(runtime.clock(), t.where).date() - timedelta(days=days - 1)  # days of the deployment's zone
    since = datetime.combine(first_day, time(0), tzinfo=t.where)
    async with runtime.sessions() as db:
        known = await queries.places(db)
        counts = await queries.daily_report_counts(db, known, since=since, region=region, scope=session.scope,
                                                   where=t.where)
    regions = {p.region_pcode: queries.Place(p.region_pcode, p.region_name, p.country, None, None, None, None)
               for p in known.values() if p.region_pcode and session.scope.covers(p.pcode)}
    ordered = sorted(regions.values(), key=lambda r: (r.country, r.name or ""))
    return pages.reports_body(t, runtime.taxonomy, counts, ordered, region, first_day, days)


async def _review(request: web.Request, runtime: Runtime, t: Texts, session: auth.Session) -> str:
    async with runtime.sessions() as db:
        items = await queries.review_queue(db, runtime.pseudonym_secret, scope=session.scope, now=runtime.clock())
    return pages.review_body(t, runtime.taxonomy, items, session.csrf_token(runtime.settings),
                             NOTICES.get(request.query.get("done", "")))


async def _focal_points(request: web.Request, runtime: Runtime, t: Texts, session: auth.Session) -> str:
    days = runtime.settings.dashboard.silent_days
    async with runtime.sessions() as db:
        silent = await queries.silent_focal_points(db, runtime.clock(), days, runtime.pseudonym_secret,
                                                   session.scope)
    return pages.focal_points_body(t, silent, days, runtime.clock())


async def _delivery(request: web.Request, runtime: Runtime, t: Texts, session: auth.Session) -> str:
    days = 30
    since = runtime.clock() - timedelta(days=days)
    async with runtime.sessions() as db:
        failures = await queries.failed_sms(db, since, scope=session.scope)
        cost = await queries.sms_cost(db, since, session.scope)
        sent, logged = await queries.sent_count(db, since, session.scope)
        today = await provider_health.counts_today(db, runtime.clock())
    phone = request.app[PHONE].detail(runtime.clock(), runtime.settings.android.ping_stale_seconds)
    lines = provider_health.provider_lines(runtime.sender.provider_names, runtime.sender.health, today, phone)
    return provider_health.providers_section(t, lines) + pages.delivery_body(t, failures, cost, sent, days, logged)


async def _response_times(request: web.Request, runtime: Runtime, t: Texts, session: auth.Session) -> str:
    days = int_parameter(request, "days", 30, 1, 90)
    async with runtime.sessions() as db:
        known = await queries.places(db)
        communes = await response_chart.response_times(db, known, runtime.clock() - timedelta(days=days),
                                                       session.scope)
    return response_chart.response_body(t, communes, days)


situation = view("Situation", _situation)
reports = view("Reports over time", _reports)
review = view("Review queue", _review)
focal_points = view("Silent focal points", _focal_points)
delivery = view("Delivery and cost", _delivery)
response_times = view("Response times", _response_times)


async def _label(request: web.Request, runtime: Runtime, session: auth.Session,
                 form: dict[str, str]) -> web.StreamResponse:
    """Label one not-understood text; optionally suggest its unknown word for a lexicon."""
    label_value = str(form.get("label", ""))
    if label_value not in runtime.taxonomy.ids | {"noise", "other"}:
        return plain(400, f"unknown label {label_value[:40]!r}")
    message_id = path_id(request, "message_id", "unreviewed text")
    word, word_lang = str(form.get("word", "")).strip(), str(form.get("word_lang", "fr"))
    if word_lang not in ("fr", "ha", "dje"):
        return plain(400, f"unknown language {word_lang[:8]!r}")
    if word:
        if label_value not in runtime.taxonomy.ids:
            return plain(400, "a suggested word needs an incident label")
        try:
            word = checked_word(word)
        except SuggestionError:
            raise web.HTTPSeeOther("/dashboard/review?done=bad-word") from None
    place_text = str(form.get("place", "")).strip()[:80]
    place = runtime.gazetteer.resolve_commune(place_text) if place_text else None
    if place_text and place is None:
        return plain(400, f"unknown place {place_text[:40]!r}: a commune or village name, or a P-code")
    async with runtime.sessions() as db, db.begin():
        hidden = not session.scope.everywhere and message_id not in {
            item.message_id for item in await queries.review_queue(db, runtime.pseudonym_secret, 1000, session.scope,
                                                                   runtime.clock())}
        if hidden or not await queries.label_message(db, message_id, label_value, runtime.taxonomy.ids, place):
            return plain(404, f"no unreviewed text {message_id}")
        await audit.record(db, runtime.clock(), session.user, "label", f"message {message_id}", label_value,
                           client_address(request, runtime.settings))
    if word:
        path = Path(runtime.settings.dashboard.suggestions_path)
        append_suggestion(path if path.is_absolute() else runtime.settings.base_dir / path,
                          Suggestion(word, word_lang, label_value, message_id, session.user, runtime.clock()))
    log.info("review: message %d labelled %s by %s", message_id, label_value, session.user)
    raise web.HTTPSeeOther("/dashboard/review?done=" + ("suggested" if word else "labelled"))


async def stylesheet(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "dashboard.css", headers={"Cache-Control": "max-age=3600"})


async def suggestions(request: web.Request) -> web.Response:
    """The lexicon suggestions waiting for a decision: operators and admins only, as deciding is theirs."""
    runtime = request.app[RUNTIME]
    t = _texts(request)
    try:
        session = await _session(request)
    except DATABASE_DOWN:
        return plain(503, "storage unavailable")
    if session is None:
        raise web.HTTPSeeOther("/dashboard/login")
    if session.role not in LABELLING_ROLES:
        raise web.HTTPForbidden(text=f"a {session.role} cannot decide on lexicon suggestions", content_type="text/plain")
    try:
        items = pending(resolve(runtime.settings.dashboard.suggestions_path, runtime.settings.base_dir))
    except SuggestionError as error:
        return plain(503, str(error))
    csrf = session.csrf_token(runtime.settings)
    body = suggestions_body(t, runtime.taxonomy, items, csrf, NOTICES.get(request.query.get("done", "")))
    return _html(request, page(t, "Lexicon suggestions", body, request.path, csrf, session.role))


async def _decide_suggestion(request: web.Request, runtime: Runtime, session: auth.Session,
                             form: dict[str, str]) -> web.StreamResponse:
    """Accept or reject one suggestion. Accepting appends the word to the local lexicon and swaps in a
    parser built from it, so the next SMS is read with the word; the shipped lexicon is never edited."""
    verdict = str(form.get("decision", ""))
    if verdict not in ("accept", "reject"):
        return plain(400, "parameter 'decision' must be accept or reject")
    index = path_id(request, "index", "pending suggestion")
    path = resolve(runtime.settings.dashboard.suggestions_path, runtime.settings.base_dir)
    now = runtime.clock()
    try:
        item = next((p for p in pending(path) if p.index == index), None)
        if item is None or item.word != str(form.get("word", "")):
            return plain(404, f"no pending suggestion {index} for that word")
        if item.lang not in LANGUAGES or item.incident not in runtime.taxonomy.ids:
            return plain(400, f"suggestion {index} names an unknown language or incident")
        added = False
        async with runtime.sessions() as db, db.begin():
            await audit.record(db, now, session.user, f"lexicon_{verdict}", f"suggestion {index}",
                               f"{item.lang} {item.word} = {item.incident}", client_address(request, runtime.settings))
            if verdict == "accept":
                overlay = lexicon_overlay(runtime.settings)
                added = accept_word(overlay, item, session.user, now)
                # Built apart and swapped in one assignment: a text being parsed keeps the parser it started with.
                runtime.parser = load_parser(runtime.gazetteer, overlay=overlay)
            decide(path, index, "accepted" if verdict == "accept" else "rejected", session.user, now)
    except DATABASE_DOWN:
        return plain(503, "storage unavailable")
    except (SuggestionError, LexiconError) as error:
        log.warning("lexicon suggestion %d not decided: %s", index, error)
        return plain(503, f"the lexicon files cannot be used: {error}")
    log.info("lexicon suggestion %d %sed by %s", index, verdict, session.user)
    done = "rejected" if verdict == "reject" else "accepted" if added else "known"
    raise web.HTTPSeeOther("/dashboard/suggestions?done=" + done)


Action = Callable[[web.Request, Runtime, auth.Session, dict[str, str]], Awaitable[web.StreamResponse]]
EVERYONE = ("admin", "operator", "viewer")


def action(roles: tuple[str, ...], work: Action) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A POST by a logged-in user holding one of `roles`, with the session's CSRF token; a database
    outage is a 503. Every dashboard action goes through here."""

    async def handler(request: web.Request) -> web.StreamResponse:
        runtime = request.app[RUNTIME]
        try:
            session = await _session(request)
        except DATABASE_DOWN:
            return plain(503, "storage unavailable")
        form = await read_form(request)  # a hostile body is a 400, not a 500
        if session is None or not auth.csrf_ok(runtime.settings, session, str(form.get("csrf", ""))):
            raise web.HTTPForbidden(text="missing or wrong CSRF token", content_type="text/plain")
        if session.role not in roles:
            raise web.HTTPForbidden(text=f"a {session.role} cannot do this", content_type="text/plain")
        try:
            return await work(request, runtime, session, form)
        except DATABASE_DOWN:
            return plain(503, "storage unavailable")

    return handler


logout = action(EVERYONE, _logout)
label = action(LABELLING_ROLES, _label)
decide_suggestion = action(LABELLING_ROLES, _decide_suggestion)
