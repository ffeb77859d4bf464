"""CAP 1.2 documents and their Atom feed: the OASIS schema (the copy the gateway ships, identical
to ../shared's when that is there), and explicit checks of the required elements and value sets."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from gateway.feeds.cap import ATOM_NS, CAP_NS, CapAlert, atom_feed, cap_level, cap_xml
from gateway.feeds.cap_inbound import SCHEMA_PATH
from gateway.kernel.taxonomy import load_taxonomy
from tests.support.dashboard import GABI_1, GABI_2, post_sms, scored
from tests.support.gateway import make_settings, running_gateway

CAP_XSD = SCHEMA_PATH
SHARED_XSD = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "CAP-v1.2.xsd"
C = {"cap": CAP_NS}
A = {"atom": ATOM_NS}
CAP_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")  # the schema's own pattern
HEADER = ["identifier", "sender", "sent", "status", "msgType", "scope", "restriction", "references", "incidents",
          "info"]
INFO_ORDER = ["language", "category", "event", "responseType", "urgency", "severity", "certainty", "audience",
              "effective", "senderName", "headline", "description", "instruction", "parameter", "area"]
BEARER = {"Authorization": "Bearer api-token"}

ALERT = CapAlert(id=7, code="K7Q2", incident="attack", level=2, status="open", escalation_step=1,
                 opened_at=datetime(2026, 11, 24, 11, 0, 30, 123456, tzinfo=UTC),
                 updated_at=datetime(2026, 11, 24, 11, 30, tzinfo=UTC), commune_pcode="NE004006003",
                 commune_name="Gabi", lat=13.13726, lon=7.06059, reports=2, count=20)


def local(element: ET.Element) -> str:
    return element.tag.split("}", 1)[1]


def check_cap(root: ET.Element) -> None:
    """Every element CAP 1.2 requires, in the schema's order, with values from its closed sets."""
    assert root.tag == f"{{{CAP_NS}}}alert"
    tags = [local(child) for child in root]
    header = [t for t in tags if t != "info"]
    assert header == [t for t in HEADER if t in header] and tags[len(header):] == ["info"] * (len(tags) - len(header))
    for required in ("identifier", "sender", "sent", "status", "msgType", "scope"):
        assert root.find(f"cap:{required}", C) is not None, required
    assert not re.search(r"[\s,<&]", root.findtext("cap:identifier", namespaces=C))
    assert CAP_TIME.match(root.findtext("cap:sent", namespaces=C))
    assert root.findtext("cap:status", namespaces=C) in {"Actual", "Exercise", "System", "Test", "Draft"}
    assert root.findtext("cap:msgType", namespaces=C) in {"Alert", "Update", "Cancel", "Ack", "Error"}
    assert root.findtext("cap:scope", namespaces=C) == "Restricted"
    assert root.findtext("cap:restriction", namespaces=C)  # CAP: required when scope is Restricted
    infos = root.findall("cap:info", C)
    assert [i.findtext("cap:language", namespaces=C) for i in infos] == ["fr", "ha", "dje"]
    for info in infos:
        order = [local(child) for child in info]
        assert sorted(set(order), key=order.index) == [t for t in INFO_ORDER if t in order]
        assert [c.text for c in info.findall("cap:category", C)] == ["Security"]
        assert info.findtext("cap:event", namespaces=C)
        assert info.findtext("cap:urgency", namespaces=C) in {"Immediate", "Expected", "Future", "Past", "Unknown"}
        assert info.findtext("cap:severity", namespaces=C) in {"Extreme", "Severe", "Moderate", "Minor", "Unknown"}
        assert info.findtext("cap:certainty", namespaces=C) in {"Observed", "Likely", "Possible", "Unlikely",
                                                                  "Unknown"}
        for response in info.findall("cap:responseType", C):
            assert response.text in {"Shelter", "Evacuate", "Prepare", "Execute", "Avoid", "Monitor", "Assess",
                                     "AllClear", "None"}
        for parameter in info.findall("cap:parameter", C):
            assert parameter.findtext("cap:valueName", namespaces=C) and parameter.find("cap:value", C) is not None
        areas = info.findall("cap:area", C)
        assert len(areas) == 1 and areas[0].findtext("cap:areaDesc", namespaces=C)
        for circle in areas[0].findall("cap:circle", C):
            lat, lon, radius = re.fullmatch(r"(-?[\d.]+),(-?[\d.]+) ([\d.]+)", circle.text).groups()
            assert -90 <= float(lat) <= 90 and -180 <= float(lon) <= 180 and float(radius) > 0


def validate_with_schema(document: bytes) -> None:
    if not CAP_XSD.is_file():
        pytest.skip(f"CAP schema not found at {CAP_XSD} (a user's clone has no ../shared)")
    etree = pytest.importorskip("lxml.etree", reason="lxml is not installed: schema validation skipped")
    schema = etree.XMLSchema(etree.parse(str(CAP_XSD)))
    assert schema.validate(etree.fromstring(document)), schema.error_log


def test_cap_document_of_an_alert() -> None:
    root = ET.fromstring(cap_xml(ALERT, load_taxonomy(), "ewg@observatoire.ne"))
    check_cap(root)
    assert root.findtext("cap:identifier", namespaces=C) == "ewg@observatoire.ne.alert.7.1795519800"
    assert root.findtext("cap:sent", namespaces=C) == "2026-11-24T11:30:00+00:00"
    fr, ha, dje = root.findall("cap:info", C)
    assert fr.findtext("cap:effective", namespaces=C) == "2026-11-24T11:00:30+00:00"  # no fractions
    assert (fr.findtext("cap:event", namespaces=C), ha.findtext("cap:event", namespaces=C)) == ("attaque", "hari")
    assert [fr.findtext(f"cap:{t}", namespaces=C) for t in ("urgency", "severity", "certainty")] == \
        ["Immediate", "Severe", "Likely"]
    assert fr.findtext("cap:headline", namespaces=C) == "attaque à Gabi : alerte K7Q2 de niveau 2"
    assert fr.findtext("cap:description", namespaces=C) == \
        "2 signalement(s) indépendant(s). Plus grand nombre signalé : 20."
    assert "TO K7Q2" in ha.findtext("cap:instruction", namespaces=C)
    area = dje.find("cap:area", C)
    assert area.findtext("cap:circle", namespaces=C) == "13.13726,7.06059 15"
    assert (area.findtext("cap:geocode/cap:valueName", namespaces=C),
            area.findtext("cap:geocode/cap:value", namespaces=C)) == ("OCHA_PCODE", "NE004006003")


def test_cap_document_passes_the_schema() -> None:
    validate_with_schema(cap_xml(ALERT, load_taxonomy(), "ewg@observatoire.ne"))


@pytest.mark.parametrize(("level", "expected"), [(1, ("Immediate", "Moderate", "Possible")),
                                                  (2, ("Immediate", "Severe", "Likely")),
                                                  (3, ("Immediate", "Extreme", "Likely")),
                                                  (5, ("Immediate", "Extreme", "Likely"))])
def test_level_mapping(level: int, expected: tuple[str, str, str]) -> None:
    mapped = cap_level(level)
    assert (mapped.urgency, mapped.severity, mapped.certainty) == expected


def test_closed_alert_says_all_clear() -> None:
    from dataclasses import replace

    root = ET.fromstring(cap_xml(replace(ALERT, status="resolved"), load_taxonomy(), "ewg@observatoire.ne"))
    check_cap(root)
    info = root.find("cap:info", C)
    assert info.findtext("cap:responseType", namespaces=C) == "AllClear"
    assert info.find("cap:instruction", C) is None


def check_atom(root: ET.Element) -> list[ET.Element]:
    assert root.tag == f"{{{ATOM_NS}}}feed"
    for required in ("id", "title", "updated", "author/atom:name"):
        assert root.findtext(f"atom:{required}", namespaces=A), required
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d([+-]\d\d:\d\d|Z)$", root.findtext("atom:updated", namespaces=A))
    assert root.find("atom:link[@rel='self']", A) is not None
    entries = root.findall("atom:entry", A)
    for entry in entries:
        for required in ("id", "title", "updated"):
            assert entry.findtext(f"atom:{required}", namespaces=A), required
        assert entry.find("atom:link[@rel='alternate'][@type='application/cap+xml']", A) is not None
    assert len({e.findtext("atom:id", namespaces=A) for e in entries}) == len(entries)
    return entries


def test_atom_feed_offline() -> None:
    root = ET.fromstring(atom_feed([ALERT], load_taxonomy(), "ewg@observatoire.ne", "https://gw.example",
                                   datetime(2026, 11, 24, 12, tzinfo=UTC)))
    (entry,) = check_atom(root)
    assert entry.find("atom:link[@rel='alternate']", A).get("href") == "https://gw.example/feeds/cap/7.xml"
    # one language in the summary: no English status beside French words
    assert entry.findtext("atom:summary", namespaces=A) == "Alerte ouverte. 2 signalement(s) indépendant(s)."
    acknowledged = atom_feed([replace(ALERT, status="acknowledged")], load_taxonomy(), "s", "https://gw.example",
                             datetime(2026, 11, 24, 12, tzinfo=UTC))
    assert ET.fromstring(acknowledged).findtext("atom:entry/atom:summary", namespaces=A) == (
        "Alerte prise en charge. 2 signalement(s) indépendant(s).")
    empty = ET.fromstring(atom_feed([], load_taxonomy(), "s", "https://gw.example", datetime(2026, 11, 24, tzinfo=UTC)))
    assert check_atom(empty) == [] and empty.findtext("atom:updated", namespaces=A) == "2026-11-24T00:00:00+00:00"


async def test_feeds_over_http(gateway) -> None:
    await post_sms(gateway, GABI_1, "ATTAQUE GABI 12", "c-1")
    await post_sms(gateway, GABI_2, "hari gabi 20", "c-2")
    # Level 2 is reached by the first report alone (count 12 >= 10): wait for both to be linked.
    alerts = await scored(gateway, lambda a: len(a.get("NE004006003", {}).get("report_ids", [])) == 2)
    alert_id = alerts["NE004006003"]["id"]

    for headers, status in (({}, 401), ({"Authorization": "Bearer wrong"}, 401)):
        for path in ("/feeds/cap.atom", f"/feeds/cap/{alert_id}.xml"):
            assert (await gateway.get(path, headers=headers)).status == status
    response = await gateway.get("/feeds/cap.atom", headers=BEARER)
    assert (response.status, response.content_type) == (200, "application/atom+xml")
    (entry,) = check_atom(ET.fromstring(await response.read()))
    href = entry.find("atom:link[@rel='alternate']", A).get("href")
    assert href == str(gateway.make_url(f"/feeds/cap/{alert_id}.xml"))

    response = await gateway.get(f"/feeds/cap/{alert_id}.xml", headers=BEARER)
    assert (response.status, response.content_type) == (200, "application/cap+xml")
    document = await response.read()
    root = ET.fromstring(document)
    check_cap(root)
    assert root.findtext("cap:info/cap:parameter[cap:valueName='ewg:alert_code']/cap:value", namespaces=C) == \
        alerts["NE004006003"]["code"]
    assert root.findtext("cap:info/cap:description", namespaces=C).startswith("2 signalement(s)")
    assert GABI_1 not in document.decode() and GABI_2 not in document.decode()
    assert (await gateway.get("/feeds/cap/999999.xml", headers=BEARER)).status == 404
    validate_with_schema(document)


async def test_feeds_are_off_without_an_api_token(db_url, clock) -> None:
    async with running_gateway(make_settings(db_url, api={"token": ""}), clock) as client:
        response = await client.get("/feeds/cap.atom", headers={"Authorization": "Bearer "})
        assert response.status == 403 and "set api.token" in await response.text()


def test_msg_type_follows_the_alert_and_later_states_reference_the_opening() -> None:
    sender = "ewg@observatoire.ne"

    def header(alert: CapAlert) -> tuple[str | None, str | None]:
        document = cap_xml(alert, load_taxonomy(), sender)
        validate_with_schema(document)
        root = ET.fromstring(document)
        return root.findtext("cap:msgType", namespaces=C), root.findtext("cap:references", namespaces=C)

    opening = f"{sender},{sender}.alert.7.1795518030,2026-11-24T11:00:30+00:00"
    assert header(replace(ALERT, updated_at=ALERT.opened_at)) == ("Alert", None)
    assert header(ALERT) == ("Update", opening)  # its level rose, or it was taken in charge or escalated
    assert header(replace(ALERT, status="resolved")) == ("Cancel", opening)
    assert header(replace(ALERT, status="expired")) == ("Cancel", opening)


def test_the_shipped_schema_is_the_oasis_one_verbatim() -> None:
    if not SHARED_XSD.is_file():
        pytest.skip(f"no ../shared copy at {SHARED_XSD} to compare with")
    assert SCHEMA_PATH.read_bytes() == SHARED_XSD.read_bytes()
    assert b"Copyright OASIS Open 2010 All Rights Reserved" in SCHEMA_PATH.read_bytes()
