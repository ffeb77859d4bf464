"""The dashboard in a real headless Chromium (Debian's chromium driven by Playwright's Python client;
never `playwright install`). Skips with a reason when either is missing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.dashboard.scope import Scope
from gateway.dashboard.svgmap import LEVEL_COLOURS
from gateway.dashboard.users import add_user
from gateway.feeds.cap import CapAlert, PartnerMessage, partner_cap_xml
from gateway.kernel.taxonomy import load_taxonomy
from gateway.runtime import RUNTIME
from gateway.storage.models import AuditEntry, Outbox
from tests.support.components import require
from tests.support.dashboard import (
    ADMIN,
    ADMIN_PASSWORD,
    TERA,
    add_dashboard_user,
    post_sms,
    scored,
    seed_traffic,
)
from tests.support.gateway import make_settings, running_gateway, settle

CHROMIUM = Path(os.environ.get("EWG_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "dashboard.png"
AYEROU, NEWCOMER = "+22790000105", "+22790000188"

playwright_api = pytest.importorskip("playwright.async_api", reason="playwright (PyPI) is not installed")
pytestmark = require(CHROMIUM.is_file() and bool(shutil.which(str(CHROMIUM))),
                     f"no Chromium at {CHROMIUM}: apt-get install -y chromium")


def hex_to_rgb(colour: str) -> str:
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


@pytest.fixture
async def browser():
    async with playwright_api.async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        await chromium.close()


async def logged_in_page(browser, gateway):
    await add_dashboard_user(gateway)
    page = await browser.new_page(viewport={"width": 1280, "height": 1000})
    await page.goto(str(gateway.make_url("/dashboard")))
    assert page.url.endswith("/dashboard/login")
    await page.fill("input[name=user]", ADMIN)
    await page.fill("input[name=password]", ADMIN_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/dashboard")
    return page


async def test_login_refuses_a_wrong_password(browser, gateway) -> None:
    await add_dashboard_user(gateway)
    page = await browser.new_page()
    await page.goto(str(gateway.make_url("/dashboard/login")))
    await page.fill("input[name=user]", ADMIN)
    await page.fill("input[name=password]", "guess")
    await page.click("button[type=submit]")
    assert "incorrect" in await page.text_content(".error")
    assert page.url.endswith("/dashboard/login")


async def test_map_and_alerts_in_the_browser(browser, gateway, clock, tmp_path) -> None:
    alerts = await seed_traffic(gateway, clock)
    page = await logged_in_page(browser, gateway)
    assert await page.title() == "Situation — Observatoire d'alerte précoce"

    circles = page.locator("#commune-map circle.commune")
    assert await circles.count() >= 30
    fills = {await c.get_attribute("data-pcode"): await c.evaluate("e => getComputedStyle(e).fill")
             for c in await circles.all()}
    assert fills["NE004006003"] == hex_to_rgb(LEVEL_COLOURS[2])  # Gabi, level 2
    assert fills["NE004005003"] == hex_to_rgb(LEVEL_COLOURS[1])  # Guidan Sori, level 1
    assert fills["NE006011005"] == hex_to_rgb(LEVEL_COLOURS[0])  # Téra, no alert
    box = await page.locator("#commune-map").bounding_box()
    assert box["width"] > 600 and box["height"] > 300  # the SVG is laid out, not collapsed

    rows = page.locator("#alerts tr.alert-row")
    assert await rows.count() == 2
    first = rows.nth(0)
    assert await first.get_attribute("data-code") == alerts["NE004006003"]["code"]
    assert "Gabi" in await first.inner_text() and "non pris en charge" in await first.inner_text()
    await first.locator("summary").click()
    assert await first.locator("details table tr").count() == 3  # header and the two reports
    second = await rows.nth(1).inner_text()
    assert "Comite Guidan Sori" in second and "après 12 min" in second

    shot = await page.locator("#commune-map").screenshot(path=str(tmp_path / "map.png"))
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 5000
    if os.environ.get("EWG_UPDATE_SCREENSHOT"):  # refresh docs/dashboard.png on purpose only
        await page.screenshot(path=str(SCREENSHOT), full_page=True)


async def test_review_label_in_the_browser(browser, gateway, clock) -> None:
    await seed_traffic(gateway, clock)
    page = await logged_in_page(browser, gateway)
    await page.click("text=Textes à examiner")
    await page.wait_for_url("**/dashboard/review")
    assert "bonjour kaykay" in await page.inner_text("#review")
    await page.select_option("select[name=label]", "noise")
    await page.click("#review button[type=submit]")
    await page.wait_for_url("**/dashboard/review?done=labelled")
    assert "Rien à examiner." in await page.inner_text("main")


# --- operators: people, alerts, scope --------------------------------------------------------------

DOCS = Path(__file__).resolve().parents[1] / "docs"
OPERATOR_PASSWORD = "sahel-operator-2026"


async def log_in_as(browser, gateway, name: str, role: str, scope: tuple[str, ...] | None = None):
    async with gateway.server.app[RUNTIME].sessions() as session, session.begin():
        await add_user(session, name, OPERATOR_PASSWORD, role, scope=Scope(scope))
    page = await browser.new_page(viewport={"width": 1100, "height": 900})
    await page.goto(str(gateway.make_url("/dashboard/login")))
    await page.fill("input[name=user]", name)
    await page.fill("input[name=password]", OPERATOR_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/dashboard")
    return page


async def screenshot(page, name: str, full_page: bool = False) -> None:
    """A small PNG of the page for docs/, refreshed on purpose only (EWG_UPDATE_SCREENSHOT)."""
    shot = await page.screenshot(full_page=full_page)
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("EWG_UPDATE_SCREENSHOT"):
        (DOCS / name).write_bytes(shot)


async def tera_alert(gateway) -> dict:
    await post_sms(gateway, TERA, "ATTAQUE TERA 3", "b-tera")
    return (await scored(gateway, lambda a: "NE006011005" in a))["NE006011005"]


async def test_the_admin_approves_a_registration_and_the_welcome_goes_out(browser, gateway, clock) -> None:
    await post_sms(gateway, NEWCOMER, "LANGUE dje", "b-1")
    await post_sms(gateway, NEWCOMER, "INSCRIPTION GABI Moussa", "b-2")
    await settle(gateway)
    page = await log_in_as(browser, gateway, "awa", "admin")
    await page.click("header nav >> text=Personnes")
    await page.wait_for_url("**/dashboard/people")
    row = page.locator("#focal-points tr.person[data-status=pending]")
    assert await row.count() == 1 and "Moussa" in await row.inner_text() and NEWCOMER not in await page.content()
    await screenshot(page, "dashboard-people.png")
    await row.locator("button[value=approve]").click()
    await page.wait_for_url("**/dashboard/people?done=approved")
    assert "SMS de bienvenue" in await page.inner_text(".notice")
    assert await page.locator("#focal-points tr.person[data-status=pending]").count() == 0
    await settle(gateway)
    async with gateway.server.app[RUNTIME].sessions() as session:
        sent = (await session.execute(select(Outbox).where(Outbox.recipient == NEWCOMER,
                                                           Outbox.dedup_key.like("welcome:%")))).scalar_one()
    assert sent.status == "logged" and sent.body.startswith("Fofo!") and "Gabi" in sent.body  # Zarma, as chosen


async def test_an_operator_silences_an_alert_and_a_matching_report_is_withheld(browser, gateway, clock) -> None:
    alert = await tera_alert(gateway)
    await settle(gateway)
    page = await log_in_as(browser, gateway, "musa", "operator")
    await page.click(f"#alerts a >> text={alert['code']}")
    await page.wait_for_url(f"**/dashboard/alerts/{alert['code']}")
    await page.select_option("#silence select[name=area]", "NE006011005")
    await page.select_option("#silence select[name=hours]", "6")
    await page.fill("#silence input[name=reason]", "opération de l'armée en cours")
    await page.click("#silence button[type=submit]")
    await page.wait_for_url("**?done=silenced")
    assert "opération de l'armée" in await page.inner_text("#silences")

    await post_sms(gateway, AYEROU, "ATTAQUE TERA 12", "b-3")  # a second reporter, a count of 12: level 2
    await scored(gateway, lambda a: a.get("NE006011005", {}).get("level") == 2)
    await page.reload()
    withheld = page.locator("#timeline tr.withheld")
    assert await withheld.count() >= 1
    assert all("silenced until" in text for text in await withheld.all_inner_texts())
    await screenshot(page, "dashboard-alert.png")


async def test_an_operator_resolves_an_alert_with_an_outcome(browser, gateway, clock) -> None:
    alert = await tera_alert(gateway)
    page = await log_in_as(browser, gateway, "musa", "operator")
    await page.goto(str(gateway.make_url(f"/dashboard/alerts/{alert['code']}")))
    await page.click("#acknowledge button")
    await page.wait_for_url("**?done=acknowledged")
    assert await page.inner_text("#alert-status") == "prise en charge"
    await page.select_option("#resolve select[name=category]", "security_forces")
    await page.fill("#resolve textarea[name=note]", "Patrouille envoyée, assaillants partis")
    await page.click("#resolve button[type=submit]")
    await page.wait_for_url("**?done=resolved")
    assert "forces de sécurité" in await page.inner_text("#outcome")
    assert "Patrouille envoyée" in await page.inner_text("#timeline")
    assert await page.locator("#resolve").count() == 0  # a closed alert takes notes only
    api = await gateway.get("/api/alerts", headers={"Authorization": "Bearer api-token"})
    [resolved] = [a for a in (await api.json())["alerts"] if a["code"] == alert["code"]]
    assert resolved["outcome"]["category"] == "security_forces"


async def test_a_viewer_of_maradi_cannot_see_or_open_a_tillaberi_alert(browser, gateway, clock) -> None:
    alerts = await seed_traffic(gateway, clock)
    tera = await tera_alert(gateway)
    page = await log_in_as(browser, gateway, "zara", "viewer", ("NE004",))
    codes = await page.locator("#alerts tr.alert-row").evaluate_all("rows => rows.map(r => r.dataset.code)")
    assert sorted(codes) == sorted([alerts["NE004006003"]["code"], alerts["NE004005003"]["code"]])
    assert await page.locator('#commune-map [data-pcode="NE006011005"]').count() == 0
    response = await page.goto(str(gateway.make_url(f"/dashboard/alerts/{tera['code']}")))
    assert response.status == 404
    response = await page.goto(str(gateway.make_url(f"/dashboard/alerts/{alerts['NE004006003']['code']}")))
    assert response.status == 200 and await page.locator("form.action").count() == 0  # a viewer reads only


FROM_MALI = "mali-to-niger-token-0123456789"
MALI = {"name": "mali", "url": "http://127.0.0.1:9", "token": "niger-to-mali-token-0123456789",
        "inbound_token": FROM_MALI, "areas": ["ML"]}


@pytest.fixture
async def partner_gateway(db_url, clock):
    """Niger's gateway with Mali's as its partner."""
    settings = make_settings(db_url, callbacks={"token": "s3cret"}, api={"token": "api-token"},
                             spillover={"partners": [MALI]})
    async with running_gateway(settings, clock) as client:
        yield client


async def warning_from_mali(gateway, clock) -> None:
    """Mali's gateway warns Ayerou of an attack in Ouattagouna, across the border."""
    alert = CapAlert(3, "M4LK", "attack", 1, "open", 0, clock.now, clock.now, "ML070104", "Ouattagouna",
                     15.17606, 0.90175, 1, None)
    body = partner_cap_xml(alert, PartnerMessage(1, "Alert", 1, {"NE006002001": 1}, clock.now), load_taxonomy(),
                           "ewg@mali.example")
    response = await gateway.post("/api/cap/inbound", data=body, headers={"Authorization": f"Bearer {FROM_MALI}"})
    assert response.status == 200, await response.text()


async def test_the_admin_reads_the_audit_trail(browser, partner_gateway, clock) -> None:
    gateway = partner_gateway
    await seed_traffic(gateway, clock)
    page = await log_in_as(browser, gateway, "awa", "admin")
    await page.click("header nav >> text=Journal d'audit")
    await page.wait_for_url("**/dashboard/audit")
    assert "login" in await page.locator("#audit tr.audit").first.inner_text()
    await page.select_option("select[name=action]", "login")
    await page.click(".filters button")
    await page.wait_for_url("**/dashboard/audit?*action=login*")
    assert set(await page.locator("#audit tr.audit").evaluate_all("rows => rows.map(r => r.dataset.action)")) == {"login"}
    await screenshot(page, "dashboard-audit.png")
    await warning_from_mali(gateway, clock)
    await page.goto(str(gateway.make_url("/dashboard")))
    warning = await page.inner_text("#partner-warnings tr.partner-warning")
    assert "M4LK" in warning and "Ouattagouna (ML)" in warning and "Ayerou" in warning
    await screenshot(page, "dashboard-situation.png", full_page=True)
    await page.click("header nav >> text=Délais de réponse")
    await page.wait_for_url("**/dashboard/response-times")
    bars = page.locator('#response-chart rect.response-bar[data-commune="NE004005003"]')
    assert await bars.evaluate_all("bars => bars.map(b => [b.dataset.measure, b.dataset.median])") == [
        ["alert", "60"], ["acknowledged", "780"]]  # reported at 11:59, alert at 12:00, taken in charge at 12:12
    ticks = await page.locator("#response-chart text.grid-label").evaluate_all("ts => ts.map(t => t.textContent)")
    assert ticks[-3:] == ["1 j", "7 j", "30 j"]  # days in the page's language
    await screenshot(page, "dashboard-response-times.png")


# --- broadcasts --------------------------------------------------------------------------------------

@pytest.fixture
async def low_threshold_gateway(db_url, clock):
    """Broadcasts to more than three people wait for a second operator."""
    settings = make_settings(db_url, callbacks={"token": "s3cret"}, api={"token": "api-token"},
                             broadcast={"approval_threshold": 3})
    async with running_gateway(settings, clock) as client:
        yield client


async def test_a_broadcast_above_the_threshold_waits_for_a_second_operator(browser, low_threshold_gateway) -> None:
    gateway = low_threshold_gateway
    author = await log_in_as(browser, gateway, "musa", "operator")
    await author.click("header nav >> text=Diffusions")
    await author.wait_for_url("**/dashboard/broadcasts")
    await author.fill("#new-broadcast input[name=area]", "Maradi")
    await author.select_option("#new-broadcast select[name=audience]", "committees")
    await author.fill("#new-broadcast textarea[name=text_fr]", "Reunion du comite samedi a 10h.")
    await author.click("#new-broadcast button[value=preview]")
    await author.wait_for_url("**/dashboard/broadcasts/preview")
    assert "2 recipients read ha" in await author.inner_text("#problems")  # the Hausa readers need their text
    assert await author.locator("#new-broadcast button[value=send]").count() == 0
    await author.fill("#new-broadcast textarea[name=text_ha]", "Taron kwamiti ranar Asabar karfe 10.")
    await author.click("#new-broadcast button[value=preview]")
    assert "5 destinataires" in await author.inner_text("#estimate")
    assert await author.locator("#needs-approval").count() == 1
    await author.click("#new-broadcast button[value=send]")
    await author.wait_for_url("**/dashboard/broadcasts/*?done=waiting")
    assert await author.inner_text("#broadcast-status") == "en attente d'approbation"
    assert await author.locator("#approve").count() == 0 and await author.locator("#own-broadcast").count() == 1
    path = author.url.split("?")[0]

    approver = await log_in_as(browser, gateway, "awa", "admin")
    await approver.goto(path)
    await approver.click("#approve button")
    await approver.wait_for_url("**?done=approved")
    await settle(gateway)
    await approver.reload()
    assert await approver.locator("#approve").count() == 0
    assert await approver.inner_text('#delivery tr[data-state="sent"] td:nth-child(2)') == "5"
    assert await approver.inner_text('#delivery tr[data-state="stopped"]') == "arrêté : budget mensuel atteint\t0"
    await screenshot(approver, "dashboard-broadcast.png", full_page=True)
    async with gateway.server.app[RUNTIME].sessions() as session:
        audited = (await session.execute(select(AuditEntry.actor, AuditEntry.action)
                                         .where(AuditEntry.action.like("broadcast%")).order_by(AuditEntry.id))).all()
        sent = (await session.execute(select(Outbox.recipient).where(Outbox.kind == "broadcast"))).scalars().all()
    assert [tuple(a) for a in audited] == [("musa", "broadcast"), ("awa", "broadcast_approve")]
    assert len(sent) == 5
