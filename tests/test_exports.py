"""Exports round-trip: data created through the HTTP callbacks, `ewg reports|alerts` run as a
subprocess on the same database, its JSON lines / CSV / GeoJSON read back and compared with the
JSON API; and the API's filters and token refusal."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sys

import pytest

from tests.support.dashboard import GABI_1, GABI_2, GUIDAN_SORI, TERA, post_sms, scored

BEARER = {"Authorization": "Bearer api-token"}
REPORT_KEYS = {"id", "ref", "external_id", "received_at", "incident", "commune", "count", "status"}
ALERT_KEYS = {"id", "code", "commune", "incident", "level", "status", "report_ids"}


async def ewg(db_url: str, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", *args, env={"EWG_DATABASE__URL": db_url, "PATH": "/usr/bin:/bin"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


@pytest.fixture
async def traffic(gateway):
    await post_sms(gateway, GABI_1, "ATTAQUE GABI 12", "e-1")
    await post_sms(gateway, GABI_2, "hari gabi 20", "e-2")
    await post_sms(gateway, GUIDAN_SORI, "sace guidan sori uku", "e-3")
    await post_sms(gateway, TERA, "hommes armes 30 a moto", "e-4")
    # Téra: one approved focal point counting 30 armed men reaches armed_men's level 1 (count >= 20).
    await scored(gateway, lambda a: a.get("NE004006003", {}).get("level") == 2 and "NE004005003" in a
                 and "NE006011005" in a)
    return gateway


async def api(client, path: str) -> dict:
    response = await client.get(path, headers=BEARER)
    assert response.status == 200, await response.text()
    return await response.json()


async def test_reports_json_lines_round_trip(traffic, db_url) -> None:
    lines = (await ewg(db_url, "reports", "--json")).splitlines()
    exported = [json.loads(line) for line in lines]
    assert exported == (await api(traffic, "/api/reports"))["reports"]
    assert len(exported) == 4 and all(REPORT_KEYS <= set(row) for row in exported)
    assert [(r["external_id"], r["incident"], r["commune"], r["count"]) for r in exported] == [
        ("e-1", "attack", "NE004006003", 12), ("e-2", "attack", "NE004006003", 20),
        ("e-3", "kidnapping", "NE004005003", 3), ("e-4", "armed_men", "NE006011005", 30)]
    for phone in (GABI_1, GABI_2, GUIDAN_SORI, TERA):
        assert phone not in "\n".join(lines)


async def test_reports_csv_round_trip(traffic, db_url) -> None:
    rows = list(csv.DictReader(io.StringIO(await ewg(db_url, "reports", "--csv"))))
    api_rows = (await api(traffic, "/api/reports"))["reports"]
    assert [r["ref"] for r in rows] == [r["ref"] for r in api_rows]
    for row, expected in zip(rows, api_rows, strict=True):
        assert (int(row["id"]), row["external_id"], row["received_at"], row["incident"], row["commune"],
                int(row["count"]), row["status"], json.loads(row["secondary"])) == \
            (expected["id"], expected["external_id"], expected["received_at"], expected["incident"],
             expected["commune"], expected["count"], expected["status"], expected["secondary"])


async def test_alerts_json_csv_and_geojson_round_trip(traffic, db_url) -> None:
    api_alerts = (await api(traffic, "/api/alerts"))["alerts"]
    exported = [json.loads(line) for line in (await ewg(db_url, "alerts", "--json")).splitlines()]
    assert exported == api_alerts and all(ALERT_KEYS <= set(a) for a in exported)
    reports = {r["id"]: r for r in (await api(traffic, "/api/reports"))["reports"]}
    gabi = next(a for a in exported if a["commune"] == "NE004006003")
    assert (gabi["level"], sorted(reports[i]["external_id"] for i in gabi["report_ids"])) == (2, ["e-1", "e-2"])

    rows = list(csv.DictReader(io.StringIO(await ewg(db_url, "alerts", "--csv"))))
    assert [(r["code"], r["commune"], int(r["level"]), json.loads(r["report_ids"]), r["acknowledged_by"]) for r in rows] == \
        [(a["code"], a["commune"], a["level"], a["report_ids"], a["acknowledged_by"] or "") for a in api_alerts]

    geo = json.loads(await ewg(db_url, "alerts", "--geojson"))
    assert geo["type"] == "FeatureCollection" and len(geo["features"]) == len(api_alerts)
    by_code = {f["properties"]["code"]: f for f in geo["features"]}
    feature = by_code[gabi["code"]]
    assert feature["type"] == "Feature"
    assert feature["geometry"] == {"type": "Point", "coordinates": [7.06059, 13.13726]}  # lon, lat
    assert feature["properties"]["commune_name"] == "Gabi" and feature["properties"]["report_ids"] == gabi["report_ids"]


@pytest.mark.parametrize(("query", "externals"), [
    ("", ["e-1", "e-2", "e-3", "e-4"]),
    ("commune=NE004006003", ["e-1", "e-2"]),
    ("commune=Gabi", ["e-1", "e-2"]),
    ("commune=guidan%20sori", ["e-3"]),
    ("region=NE004", ["e-1", "e-2", "e-3"]),
    ("region=Maradi", ["e-1", "e-2", "e-3"]),
    ("region=tillaberi", ["e-4"]),
    ("region=NE006", ["e-4"]),
    ("incident=kidnapping", ["e-3"]),
    ("region=NE004&incident=attack", ["e-1", "e-2"]),
    ("since=2026-11-24T11:59:00Z", ["e-1", "e-2", "e-3", "e-4"]),
    ("since=2026-11-24T12:00:00Z", []),
    ("until=2026-11-24T11:59:00%2B00:00", []),
    ("limit=1", ["e-1"]),
])
async def test_api_report_filters(traffic, query: str, externals: list[str]) -> None:
    rows = (await api(traffic, f"/api/reports?{query}"))["reports"]
    assert [r["external_id"] for r in rows] == externals


@pytest.mark.parametrize(("query", "communes"), [
    ("", ["NE004006003", "NE004005003", "NE006011005"]),
    ("commune=NE004005003", ["NE004005003"]),
    ("commune=Guidan%20Sori", ["NE004005003"]),
    ("region=NE004", ["NE004006003", "NE004005003"]),
    ("region=MARADI", ["NE004006003", "NE004005003"]),
    ("region=NE006", ["NE006011005"]),
    ("incident=attack", ["NE004006003"]),
    ("since=2026-11-24T12:00:00Z", ["NE004006003", "NE004005003", "NE006011005"]),
    ("since=2026-11-25", []),
    ("status=acknowledged", []),
])
async def test_api_alert_filters(traffic, query: str, communes: list[str]) -> None:
    rows = (await api(traffic, f"/api/alerts?{query}"))["alerts"]
    assert sorted(r["commune"] for r in rows) == sorted(communes)


async def test_api_communes_filters(gateway) -> None:
    rows = (await api(gateway, "/api/communes?region=NE004"))["communes"]
    assert {r["pcode"] for r in rows} >= {"NE004006003", "NE004005003"} and all(r["pcode"].startswith("NE004")
                                                                                for r in rows)
    (gabi,) = (await api(gateway, "/api/communes?commune=NE004006003"))["communes"]
    assert (gabi["name"], gabi["lat"], gabi["lon"]) == ("Gabi", 13.13726, 7.06059)


@pytest.mark.parametrize("path", ["/api/reports", "/api/alerts", "/api/communes"])
@pytest.mark.parametrize(("headers", "status"), [({}, 401), ({"Authorization": "Bearer nope"}, 401),
                                                 ({"Authorization": "Basic YXBpLXRva2Vu"}, 401)])
async def test_api_refuses_a_wrong_token(gateway, path: str, headers: dict, status: int) -> None:
    response = await gateway.get(path, headers=headers)
    assert response.status == status
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(("query", "fragment"), [("since=yesterday", "parameter 'since' is not a date"),
                                                 ("limit=0", "parameter 'limit' must be 1..5000")])
async def test_api_bad_parameters(gateway, query: str, fragment: str) -> None:
    response = await gateway.get(f"/api/reports?{query}", headers=BEARER)
    assert response.status == 400 and fragment in await response.text()


@pytest.mark.parametrize(("query", "fragment"), [
    ("commune=Gaby", "parameter 'commune': unknown commune 'Gaby'; did you mean Gabi (NE004006003)?"),
    ("commune=Atlantis", "parameter 'commune': unknown commune 'Atlantis'"),
    ("commune=NE004999999", "parameter 'commune': unknown commune 'NE004999999'"),
    ("commune=Niamey", "parameter 'commune': commune 'Niamey' names several communes: NE008001001 (Niamey I), "
                       "NE008001002 (Niamey II)"),
    ("region=Maradie", "parameter 'region': unknown region or department 'Maradie'; did you mean Maradi (NE004)?"),
    ("region=NE099", "parameter 'region': unknown region or department 'NE099'"),
])
@pytest.mark.parametrize("path", ["/api/reports", "/api/alerts", "/api/communes"])
async def test_api_place_that_names_no_area_or_several(gateway, path: str, query: str, fragment: str) -> None:
    response = await gateway.get(f"{path}?{query}", headers=BEARER)
    assert response.status == 400 and fragment in await response.text()
