"""The `ewg` command line: clear one-line errors, parse output, CSV imports."""

from __future__ import annotations

import asyncio
import json
import shutil

import pytest

from tests.support.callbacks import send
from tests.support.cli import ewg
from tests.support.gateway import make_settings, running_gateway
from tests.support.gateway_process import DEMO_GAZETTEER
from tests.support.paths import REPO


def test_parse_json_matches_the_interface() -> None:
    result = ewg("parse", "--json", "ATTAQUE GABI 12", db_url="sqlite+aiosqlite:////nonexistent/x.db")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {k: data[k] for k in ("kind", "incident", "commune", "commune_name", "count", "command", "lang")} == {
        "kind": "report", "incident": "attack", "commune": "NE004006003", "commune_name": "Gabi", "count": 12,
        "command": None, "lang": "fr"}


def test_parse_jsonl_keeps_order_and_reports_bad_lines() -> None:
    lines = "\n".join(json.dumps(x) for x in [
        {"text": "OK K7Q2", "lang": None, "home": None},
        {"text": "hommes armes 30 a moto", "lang": "fr", "home": "NE006011005"},
        {"text": "bonjour"},
    ])
    result = ewg("parse", "--jsonl", stdin=lines, db_url="sqlite+aiosqlite:////nonexistent/x.db")
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(o["kind"], o["command"] or o["incident"]) for o in out] == [
        ("command", "acknowledge"), ("report", "armed_men"), ("unknown", None)]
    assert out[1]["commune"] == "NE006011005" and out[1]["count"] == 30
    bad = ewg("parse", "--jsonl", stdin='{"text": 1}\n', db_url="sqlite+aiosqlite:////nonexistent/x.db")
    assert bad.returncode == 1
    assert bad.stderr.strip() == 'ewg: stdin:1: expected a JSON object with a string field "text"'


@pytest.mark.parametrize("args, message", [
    (["--config", "/nonexistent/settings.toml", "parse", "x"], "no such settings file"),
    (["reporters", "import", "/nonexistent.csv"], "/nonexistent.csv: no such file"),
    (["replay", "--since", "yesterday"], "not a date"),
])
def test_bad_input_is_one_clear_line(args, message, db_url) -> None:
    result = ewg(*args, db_url=db_url)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_toml_settings(tmp_path) -> None:
    bad = tmp_path / "settings.toml"
    bad.write_text("[http\nport = 1\n")
    result = ewg("--config", str(bad), "parse", "x")
    assert result.returncode == 1 and "not valid TOML" in result.stderr and "Traceback" not in result.stderr


def test_unknown_ussd_session_store_is_named(tmp_path) -> None:
    settings = tmp_path / "settings.toml"
    settings.write_text('[ussd]\nsession_store = "redis"\n')
    result = ewg("--config", str(settings), "parse", "x")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "ussd.session_store must be auto, memory or database, not 'redis'" in result.stderr


def test_reporters_import_all_or_nothing(tmp_path, db_url) -> None:
    assert ewg("db", "upgrade", db_url=db_url).returncode == 0
    assert ewg("gazetteer", "import", *map(str, DEMO_GAZETTEER), db_url=db_url).returncode == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("phone,name,commune,lang\n+22790000201,Awa,Gabi,ha\nnot-a-phone,X,Gabi,fr\n+22790000202,Y,Atlantis,fr\n")
    result = ewg("reporters", "import", str(bad), db_url=db_url)
    assert result.returncode == 1
    assert f"{bad}:3: not a phone number" in result.stderr
    assert f"{bad}:4: unknown commune 'Atlantis'" in result.stderr
    listing = ewg("reporters", "list", "--json", db_url=db_url)
    phones = [json.loads(line)["phone"] for line in listing.stdout.splitlines()]
    assert "+227*****201" not in phones  # nothing from the bad file was imported

    good = tmp_path / "good.csv"
    good.write_text("phone,name,commune,lang\n90 00 02 01,Awa,Guidan Sori,ha\n+22376000301,Moussa,NE004006003,fr\n")
    result = ewg("reporters", "import", str(good), db_url=db_url)
    assert result.returncode == 0, result.stderr
    listing = ewg("reporters", "list", "--json", "--show-numbers", db_url=db_url)
    rows = {json.loads(line)["phone"]: json.loads(line) for line in listing.stdout.splitlines()}
    assert rows["+22790000201"]["commune"] == "NE004005003" and rows["+22790000201"]["status"] == "approved"
    assert rows["+22376000301"]["lang"] == "fr"


def test_replay_prints_what_a_rule_set_would_have_raised(db_url, tmp_path) -> None:
    assert ewg("db", "upgrade", db_url=db_url).returncode == 0

    async def reports() -> None:
        async with running_gateway(make_settings(db_url, callbacks={"token": "s3cret"})) as client:
            await send(client, "+22790000101", "vol betail gabi 5")
            await send(client, "+22790000102", "sata shanu gabi 4")

    asyncio.run(reports())
    shipped = ewg("replay", "--since", "2026-01-01", "--json", db_url=db_url)
    assert shipped.returncode == 0, shipped.stderr
    assert shipped.stdout == "", "two cattle-theft reports stay under the shipped 24 h threshold"

    strict = tmp_path / "rules"
    shutil.copytree(REPO / "rules", strict)
    defaults = strict / "defaults.toml"
    defaults.write_text(defaults.read_text().replace("levels = [{ reporters = 3, count = 50 }",
                                                     "levels = [{ reporters = 2, count = 50 }", 1))
    replayed = ewg("replay", "--since", "2026-01-01", "--rules", str(strict), "--json", db_url=db_url)
    assert replayed.returncode == 0, replayed.stderr
    alerts = [json.loads(line) for line in replayed.stdout.splitlines()]
    assert [(a["commune"], a["incident"], a["reporters"]) for a in alerts] == [("NE004006003", "cattle_theft", 2)]
