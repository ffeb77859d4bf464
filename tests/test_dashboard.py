"""Dashboard pages on a real gateway with demo data, fed through the SMS callbacks."""

from __future__ import annotations

import re
import threading
import tomllib
from datetime import timedelta

import aiohttp
import pytest
from sqlalchemy import select, update

from alerts.api import silent_reporters
from gateway.dashboard import auth
from gateway.dashboard.svgmap import LEVEL_COLOURS
from gateway.dashboard.users import set_password
from gateway.kernel.phones import sender_key
from gateway.runtime import RUNTIME
from gateway.storage.models import Message, Outbox, Reporter
from tests.support.dashboard import (
    ADMIN,
    ADMIN_PASSWORD,
    GABI_1,
    GABI_2,
    GUIDAN_SORI,
    TERA,
    add_dashboard_user,
    log_in,
    post_sms,
    seed_traffic,
)
from tests.support.gateway import make_settings, running_gateway


def pseudonym(client, phone: str) -> str:
    """A reporter's pseudonym under this deployment's key (generated once per database)."""
    return sender_key(phone, client.server.app[RUNTIME].pseudonym_secret)


async def page(client, path: str) -> str:
    response = await client.get(path, allow_redirects=False)
    assert response.status == 200, (path, response.status)
    assert response.content_type == "text/html"
    return await response.text()


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]{64})"', html).group(1)


# --- login ---------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/dashboard", "/dashboard/reports", "/dashboard/review",
                                  "/dashboard/focal-points", "/dashboard/delivery"])
async def test_every_page_needs_a_login(gateway, path: str) -> None:
    response = await gateway.get(path, allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (303, "/dashboard/login")


async def test_login_page_in_french_then_hausa(gateway) -> None:
    html = await page(gateway, "/dashboard/login")
    assert '<html lang="fr">' in html and "Connexion" in html and "Mot de passe" in html
    assert "jeton" not in html  # the API token is no dashboard password
    html = await page(gateway, "/dashboard/login?lang=ha")
    assert '<html lang="ha">' in html and "Shiga" in html
    html = await page(gateway, "/dashboard/login")  # the choice is remembered
    assert '<html lang="ha">' in html


@pytest.mark.parametrize(("user", "password"), [("", "wrong"), ("", ""), ("nobody", "api-token"),
                                                ("amina", "api-token"), ("amina", "wrong"),
                                                ("", "api-token"), ("admin", "api-token")])
async def test_wrong_credentials_are_refused(db_url, clock, user: str, password: str) -> None:
    settings = make_settings(db_url, api={"token": "api-token"})
    async with running_gateway(settings, clock) as client:
        await add_dashboard_user(client, "amina", "sahel-2026", "viewer")
        response = await client.post("/dashboard/login", data={"user": user, "password": password},
                                     allow_redirects=False)
        assert response.status == 401
        assert "Nom d&#x27;utilisateur ou mot de passe incorrect." in await response.text()
        assert "ewg_session" not in response.cookies


async def test_user_password_login_and_logout(db_url, clock) -> None:
    settings = make_settings(db_url, api={"token": "api-token"})
    async with running_gateway(settings, clock) as client:
        await add_dashboard_user(client, "amina", "sahel-2026", "viewer")
        await log_in(client, "amina", "sahel-2026")
        html = await page(client, "/dashboard")
        response = await client.post("/dashboard/logout", data={"csrf": "0" * 64}, allow_redirects=False)
        assert response.status == 403  # a forged form cannot log anybody out
        response = await client.post("/dashboard/logout", data={"csrf": csrf_of(html)}, allow_redirects=False)
        assert (response.status, response.headers["Location"]) == (303, "/dashboard/login")
        assert (await client.get("/dashboard", allow_redirects=False)).status == 303


async def test_session_expires_and_cannot_be_forged(gateway, clock) -> None:
    await log_in(gateway)
    cookie = gateway.session.cookie_jar.filter_cookies(gateway.make_url("/dashboard"))["ewg_session"].value
    user_id, epoch, expires, signature = cookie.split("|")
    for forged in (f"{user_id}|{epoch}|{int(expires) + 86400}|{signature}",
                   f"{int(user_id) + 1}|{epoch}|{expires}|{signature}"):
        response = await gateway.get("/dashboard", cookies={"ewg_session": forged}, allow_redirects=False)
        assert response.status == 303
    assert (await gateway.get("/dashboard", allow_redirects=False)).status == 200
    clock.advance(hours=12, seconds=1)  # dashboard.session_hours = 12
    assert (await gateway.get("/dashboard", allow_redirects=False)).status == 303


async def test_login_is_refused_without_a_session_secret(db_url, clock) -> None:
    """The session key no longer falls back to one derived from the API token."""
    settings = make_settings(db_url, api={"token": "api-token"}, dashboard={"session_secret": ""})
    async with running_gateway(settings, clock) as client:
        await add_dashboard_user(client)
        for user, password in ((ADMIN, ADMIN_PASSWORD), ("", "api-token")):
            response = await client.post("/dashboard/login", data={"user": user, "password": password},
                                         allow_redirects=False)
            assert response.status == 503
            assert "dashboard.session_secret" in await response.text()
            assert "ewg_session" not in response.cookies


def session_cookie(client) -> str:
    return client.session.cookie_jar.filter_cookies(client.make_url("/dashboard"))["ewg_session"].value


async def test_logout_ends_every_session_of_the_user(gateway) -> None:
    await add_dashboard_user(gateway, "amina", "sahel-2026-amina", "viewer")
    await log_in(gateway)
    first_cookie = session_cookie(gateway)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as other, \
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as amina:
        for client, (user, password) in ((other, (ADMIN, ADMIN_PASSWORD)), (amina, ("amina", "sahel-2026-amina"))):
            response = await client.post(gateway.make_url("/dashboard/login"), allow_redirects=False,
                                         data={"user": user, "password": password})
            assert response.status == 303
        for client in (gateway.session, other, amina):
            assert (await client.get(gateway.make_url("/dashboard"), allow_redirects=False)).status == 200

        html = await page(gateway, "/dashboard")
        response = await gateway.post("/dashboard/logout", data={"csrf": csrf_of(html)}, allow_redirects=False)
        assert response.status == 303
        # The admin's other browser is logged out, and so is a copy of the first cookie; amina is not.
        assert (await other.get(gateway.make_url("/dashboard"), allow_redirects=False)).status == 303
        response = await gateway.get("/dashboard", cookies={"ewg_session": first_cookie}, allow_redirects=False)
        assert response.status == 303
        assert (await amina.get(gateway.make_url("/dashboard"), allow_redirects=False)).status == 200
    await log_in(gateway)  # a new login works
    assert (await gateway.get("/dashboard", allow_redirects=False)).status == 200


async def test_a_password_change_ends_the_users_sessions(gateway) -> None:
    await log_in(gateway)
    assert (await gateway.get("/dashboard", allow_redirects=False)).status == 200
    async with gateway.server.app[RUNTIME].sessions() as session, session.begin():
        await set_password(session, ADMIN, "a-new-password-2026")  # what `ewg users passwd` does
    assert (await gateway.get("/dashboard", allow_redirects=False)).status == 303
    response = await gateway.post("/dashboard/login", data={"user": ADMIN, "password": ADMIN_PASSWORD},
                                  allow_redirects=False)
    assert response.status == 401
    await log_in(gateway, ADMIN, "a-new-password-2026")
    assert (await gateway.get("/dashboard", allow_redirects=False)).status == 200


def set_cookie_header(response) -> str:
    return next(h for h in response.headers.getall("Set-Cookie") if h.startswith("ewg_session="))


@pytest.mark.parametrize(("trusted_proxies", "forwarded_proto", "secure"), [
    (["127.0.0.1"], "https", True),
    (["127.0.0.0/8", "10.0.0.0/8"], "http, https", True),
    ([], "https", False),  # anybody can send the header: only a listed proxy is believed
    (["10.0.0.0/8"], "https", False),
    (["127.0.0.1"], "http", False),
    (["127.0.0.1"], None, False),
])
async def test_cookie_is_secure_behind_a_trusted_tls_proxy(db_url, clock, trusted_proxies, forwarded_proto,
                                                           secure: bool) -> None:
    settings = make_settings(db_url, http={"trusted_proxies": trusted_proxies})
    async with running_gateway(settings, clock) as client:
        await add_dashboard_user(client)
        headers = {"X-Forwarded-Proto": forwarded_proto} if forwarded_proto else {}
        response = await client.post("/dashboard/login", data={"user": ADMIN, "password": ADMIN_PASSWORD},
                                     headers=headers, allow_redirects=False)
        assert response.status == 303
        attributes = {part.strip().split("=")[0].lower() for part in set_cookie_header(response).split(";")[1:]}
        assert ("secure" in attributes) is secure
        assert {"httponly", "samesite", "path", "max-age"} <= attributes
        assert "SameSite=Strict" in set_cookie_header(response)


async def wrong_login(client, user: str, headers: dict | None = None):
    return await client.post("/dashboard/login", data={"user": user, "password": "guess-guess"},
                             headers=headers or {}, allow_redirects=False)


async def test_login_attempts_are_limited_per_user_name(db_url, clock) -> None:
    # Behind a trusted proxy each X-Forwarded-For is a client of its own: only the name's limit applies.
    settings = make_settings(db_url, http={"trusted_proxies": ["127.0.0.1"]})
    async with running_gateway(settings, clock) as client:
        await add_dashboard_user(client)
        for attempt in range(5):  # dashboard.login_attempts_per_minute = 5
            response = await wrong_login(client, ADMIN, {"X-Forwarded-For": f"198.51.100.{attempt}"})
            assert response.status == 401
        clock.advance(seconds=20)
        response = await client.post("/dashboard/login", data={"user": ADMIN, "password": ADMIN_PASSWORD},
                                     headers={"X-Forwarded-For": "198.51.100.99"}, allow_redirects=False)
        assert response.status == 429  # even the right password: no attempt is checked while limited
        assert response.headers["Retry-After"] == "40"
        assert "Trop de tentatives de connexion" in await response.text()
        assert "ewg_session" not in response.cookies
        assert (await wrong_login(client, "amina", {"X-Forwarded-For": "198.51.100.99"})).status == 401
        clock.advance(seconds=41)
        await log_in(client)


async def test_login_attempts_are_limited_per_client_address(db_url, clock) -> None:
    settings = make_settings(db_url, http={"trusted_proxies": ["127.0.0.1"]})
    async with running_gateway(settings, clock) as client:
        await add_dashboard_user(client)
        for attempt in range(5):
            assert (await wrong_login(client, f"user{attempt}", {"X-Forwarded-For": "198.51.100.7"})).status == 401
        response = await wrong_login(client, ADMIN, {"X-Forwarded-For": "198.51.100.7"})
        assert response.status == 429 and int(response.headers["Retry-After"]) == 60
        # The proxy's other clients are not locked out; a spoofed header from outside the list would
        # not have been believed (the peer itself would be counted).
        assert (await wrong_login(client, ADMIN, {"X-Forwarded-For": "198.51.100.8"})).status == 401


async def test_scrypt_runs_off_the_event_loop(gateway, monkeypatch) -> None:
    await add_dashboard_user(gateway)
    threads: list[bool] = []
    real = auth.hashlib.scrypt

    def spy(*args, **kwargs) -> bytes:
        threads.append(threading.current_thread() is threading.main_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(auth.hashlib, "scrypt", spy)
    await log_in(gateway)
    assert (await wrong_login(gateway, ADMIN)).status == 401
    assert threads and not any(threads), threads


async def test_an_unknown_user_costs_the_same_scrypt_work(gateway, monkeypatch) -> None:
    await add_dashboard_user(gateway)
    calls: list[tuple] = []
    real = auth.hashlib.scrypt

    def spy(password: bytes, **kwargs) -> bytes:
        calls.append((kwargs["n"], kwargs["r"], kwargs["p"], kwargs["dklen"]))
        return real(password, **kwargs)

    monkeypatch.setattr(auth.hashlib, "scrypt", spy)
    assert (await wrong_login(gateway, ADMIN)).status == 401
    known, calls[:] = list(calls), []
    assert (await wrong_login(gateway, "nobody")).status == 401
    assert calls == known == [(auth.SCRYPT_N, auth.SCRYPT_R, auth.SCRYPT_P, 32)]


@pytest.mark.parametrize(("content_type", "body"), [
    ("application/x-www-form-urlencoded; charset=unicode_escape", b"user=\\ud800&password=x"),
    ("application/x-www-form-urlencoded; charset=no-such-charset", b"user=admin&password=x"),
    ("multipart/form-data; boundary=zz", b"not a multipart body"),
])
async def test_hostile_login_and_logout_forms_are_a_400(gateway, content_type: str, body: bytes) -> None:
    await log_in(gateway)
    for path in ("/dashboard/login", "/dashboard/logout"):
        response = await gateway.post(path, data=body, headers={"Content-Type": content_type}, allow_redirects=False)
        assert response.status == 400, (path, response.status)
    assert (await gateway.get("/dashboard", allow_redirects=False)).status == 200  # still logged in


async def test_a_viewer_reads_but_cannot_label(gateway) -> None:
    await post_sms(gateway, TERA, "bonjour", "v-1")
    await add_dashboard_user(gateway, "amina", "sahel-2026-amina", "viewer")
    await log_in(gateway, "amina", "sahel-2026-amina")
    html = await page(gateway, "/dashboard/review")
    message_id = re.search(r'<tr data-message="(\d+)">', html).group(1)
    response = await gateway.post(f"/dashboard/review/{message_id}", data={"label": "noise", "csrf": csrf_of(html)},
                                  allow_redirects=False)
    assert response.status == 403 and "viewer" in await response.text()


def test_password_hashes() -> None:
    stored = auth.hash_password("sahel-2026", salt=bytes(16))
    assert stored.startswith("scrypt$16384$8$1$" + "00" * 16 + "$")
    assert auth.verify_password("sahel-2026", stored)
    assert not auth.verify_password("sahel-2027", stored)
    assert not auth.verify_password("sahel-2026", "pbkdf2$1$x")
    assert not auth.verify_password("sahel-2026", "scrypt$x$y")
    assert auth.hash_password("sahel-2026") != auth.hash_password("sahel-2026")  # salted


# --- pages ---------------------------------------------------------------------------

async def test_situation_shows_the_map_and_the_alert_response_gap(gateway, clock) -> None:
    alerts = await seed_traffic(gateway, clock)
    gabi, guidan_sori = alerts["NE004006003"], alerts["NE004005003"]
    assert (gabi["level"], gabi["status"], guidan_sori["level"], guidan_sori["status"]) == (2, "open", 1, "acknowledged")
    await log_in(gateway)
    html = await page(gateway, "/dashboard")

    circles = dict(re.findall(r'<circle class="commune level-\d" data-pcode="(\w+)" data-level="\d" '
                              r'cx="[\d.]+" cy="[\d.]+" r="\d+" fill="(#[0-9a-f]{6})"', html))
    assert circles["NE004006003"] == LEVEL_COLOURS[2]
    assert circles["NE004005003"] == LEVEL_COLOURS[1]
    assert circles["NE006011005"] == LEVEL_COLOURS[0]  # Téra: no alert
    assert len(circles) >= 30  # every demo commune with coordinates
    assert ">Maradi</text>" in html and ">Tillabéri</text>" in html and ">NIGER</text>" in html

    assert re.search(r'id="standing">2<', html) and re.search(r'id="unacknowledged">1<', html)
    assert re.search(r'id="median-tta">12 min<', html)
    rows = re.findall(r'<tr class="alert-row" data-code="(\w+)" data-level="(\d)">', html)
    assert rows == [(gabi["code"], "2"), (guidan_sori["code"], "1")]  # highest level first
    assert "Comite Guidan Sori<br><small>après 12 min</small>" in html
    assert "non pris en charge" in html
    assert "Âge" in html and "2 signalement(s)" in html
    for phone in (GABI_1, GABI_2, GUIDAN_SORI):  # reporters appear as pseudonyms only
        assert phone not in html and phone[4:] not in html
        assert pseudonym(gateway, phone) in html


async def test_reports_chart_per_day_incident_and_region(gateway, clock) -> None:
    await seed_traffic(gateway, clock)
    await log_in(gateway)
    html = await page(gateway, "/dashboard/reports?days=7")
    bars = re.findall(r'<rect class="bar" data-day="([\d-]+)" data-incident="(\w+)" data-count="(\d+)"', html)
    assert sorted(bars) == [("2026-11-24", "attack", "2"), ("2026-11-24", "kidnapping", "1")]
    table = re.search(r'<table id="per-region">.*?</table>', html).group(0)
    assert "<th>attaque</th><th>enlèvement</th>" in table
    assert "<tr><td>Maradi</td><td>2</td><td>1</td></tr>" in table

    html = await page(gateway, "/dashboard/reports?days=7&region=NE006")  # Tillabéri: nothing
    assert 'class="bar"' not in html and "Aucun signalement sur cette période." in html


async def test_review_queue_label_and_word_suggestion(db_url, clock, tmp_path) -> None:
    suggestions = tmp_path / "suggestions.toml"
    settings = make_settings(db_url, callbacks={"token": "s3cret"}, api={"token": "api-token"},
                             dashboard={"suggestions_path": str(suggestions)})
    lexicon = (settings.base_dir / "locales" / "dje" / "LC_MESSAGES").parent.parent / "dje" / "keywords.toml"
    lexicon_before = lexicon.read_bytes()
    async with running_gateway(settings, clock) as client:
        await seed_traffic(client, clock)
        await log_in(client)
        html = await page(client, "/dashboard/review")
        message_id = int(re.search(r'<tr data-message="(\d+)">', html).group(1))
        assert "bonjour kaykay" in html and pseudonym(client, TERA) in html and TERA not in html

        form = {"label": "attack", "word": "kaykay", "word_lang": "dje"}
        response = await client.post(f"/dashboard/review/{message_id}", data=form, allow_redirects=False)
        assert response.status == 403  # no CSRF token
        response = await client.post(f"/dashboard/review/{message_id}", data={**form, "csrf": "f" * 64},
                                     allow_redirects=False)
        assert response.status == 403
        response = await client.post(f"/dashboard/review/{message_id}", data={**form, "csrf": csrf_of(html)},
                                     allow_redirects=False)
        assert (response.status, response.headers["Location"]) == (303, "/dashboard/review?done=suggested")

        html = await page(client, "/dashboard/review?done=suggested")
        assert "Rien à examiner." in html and "le mot a été ajouté au fichier de suggestions" in html
        async with client.server.app[RUNTIME].sessions() as session:
            assert (await session.get(Message, message_id)).review_label == "attack"
    data = tomllib.loads(suggestions.read_text(encoding="utf-8"))
    assert data["suggestion"] == [{"word": "kaykay", "lang": "dje", "incident": "attack", "message_id": message_id,
                                   "by": "admin", "at": clock.now}]
    assert lexicon.read_bytes() == lexicon_before  # a suggestion never edits the lexicon


@pytest.mark.parametrize(("form", "status", "fragment"), [
    ({"label": "weather"}, 400, "unknown label 'weather'"),
    ({"label": "attack", "word_lang": "en"}, 400, "unknown language 'en'"),
    ({"label": "noise", "word": "kaykay"}, 400, "a suggested word needs an incident label"),
])
async def test_review_label_refusals(gateway, clock, form: dict, status: int, fragment: str) -> None:
    await post_sms(gateway, TERA, "bonjour", "r-1")
    await log_in(gateway)
    html = await page(gateway, "/dashboard/review")
    message_id = re.search(r'<tr data-message="(\d+)">', html).group(1)
    response = await gateway.post(f"/dashboard/review/{message_id}", data={**form, "csrf": csrf_of(html)},
                                  allow_redirects=False)
    assert response.status == status
    assert fragment in await response.text()


async def test_silent_focal_points(gateway, clock) -> None:
    await seed_traffic(gateway, clock)
    async with gateway.server.app[RUNTIME].sessions() as session, session.begin():  # registered minutes ago
        await session.execute(update(Reporter).values(created_at=clock() - timedelta(minutes=30)))
    await log_in(gateway)
    html = await page(gateway, "/dashboard/focal-points")
    # Téra's focal point only sent a text that was not understood, Ayerou's sent nothing: both were
    # registered minutes ago, so neither has been silent for 7 days yet.
    assert "<tr><td><code>" not in html and "Tous les points focaux ont signalé récemment." in html
    clock.advance(days=8)  # dashboard.silent_days = 7
    await log_in(gateway)  # the session expired meanwhile
    html = await page(gateway, "/dashboard/focal-points")
    silent = re.findall(r"<tr><td><code>(\w+)</code></td><td>([+*\d]+)</td><td>([^<]+)</td>", html)
    assert len(silent) == 5
    assert silent[:2] == [(pseudonym(gateway, TERA), "+227*****104", "Téra"),  # never reported: first
                          (pseudonym(gateway, "+22790000105"), "+227*****105", "Ayerou")]
    assert GABI_1 not in html
    async with gateway.server.app[RUNTIME].sessions() as session:  # the page lists whom the metric counts
        assert len(await silent_reporters(session, 7, clock())) == 5


async def test_delivery_failures_and_cost(gateway, clock) -> None:
    await seed_traffic(gateway, clock)
    runtime = gateway.server.app[RUNTIME]
    async with runtime.sessions() as session, session.begin():
        ids = list((await session.execute(select(Outbox.id).order_by(Outbox.id))).scalars())
        await session.execute(update(Outbox).where(Outbox.id == ids[0]).values(status="failed",
                                                                                last_error="InvalidPhoneNumber"))
        await session.execute(update(Outbox).where(Outbox.id == ids[1]).values(status="sent",
                                                                                delivery_status="AbsentSubscriber"))
        await session.execute(update(Outbox).where(Outbox.id.in_(ids[1:4])).values(cost="XOF 25.0000"))
    await log_in(gateway)
    html = await page(gateway, "/dashboard/delivery")
    failures = re.search(r'<table id="failures">.*?</table>', html).group(0)
    assert failures.count("<tr><td>") == 2
    assert "InvalidPhoneNumber" in failures and "AbsentSubscriber" in failures
    assert not re.search(r"\+227\d{8}", html)  # recipients masked
    cost = re.search(r'<table id="cost">.*?</table>', html).group(0)
    assert sorted(re.findall(r"<td>(\d+)</td><td>([\d.]+ XOF)</td>", cost)) in (
        [("3", "75.00 XOF")], [("1", "25.00 XOF"), ("2", "50.00 XOF")])


async def test_stylesheet_is_served_locally(gateway) -> None:
    response = await gateway.get("/dashboard/static/dashboard.css")
    assert response.status == 200 and "#commune-map" in await response.text()
