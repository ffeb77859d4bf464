"""The dashboard in a real headless Chromium (Debian's chromium driven by Playwright's Python client;
never `playwright install`). Skips with a reason when either is missing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from gateway.dashboard.svgmap import LEVEL_COLOURS
from tests.support.components import require
from tests.support.dashboard import ADMIN, ADMIN_PASSWORD, add_dashboard_user, seed_traffic

CHROMIUM = Path(os.environ.get("EWG_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "dashboard.png"

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
