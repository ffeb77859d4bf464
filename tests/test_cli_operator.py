"""What an operator meets at the terminal: `ewg --version`, help on every option, tables with a
header, a bad --status named with the valid values, a near-miss commune answered with the right
name, `ewg outbox`, and the CLI's exports in the audit trail."""

from __future__ import annotations

import argparse
import asyncio
import json
import re

from sqlalchemy import select

from gateway.cli.main import build_parser
from gateway.runtime import RUNTIME
from gateway.storage.models import AuditEntry
from tests.support.cli import ewg
from tests.support.dashboard import TERA, post_sms, scored
from tests.support.gateway import settle


def test_version_names_the_release_and_the_schema() -> None:
    result = ewg("--version")
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"ewg \d+\.\d+\.\d+ \(database schema \w+\)\n", result.stdout), result.stdout


def _options(parser: argparse.ArgumentParser, path: str):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _options(child, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction):
            yield f"{path} {'/'.join(action.option_strings) or action.dest}", action.help


def test_every_option_and_argument_has_help() -> None:
    options = dict(_options(build_parser(), "ewg"))
    assert "ewg reports --since" in options and "ewg outbox --status" in options
    assert [name for name, text in options.items() if not text] == []
    assert "YYYY-MM-DD" in options["ewg reports --since"]
    assert "open, acknowledged, escalated, resolved, expired" in options["ewg alerts --status"]
    assert "GeoJSON" in options["ewg alerts --geojson"]
    assert "phone number" in options["ewg simulate sms --from"]


async def test_operator_commands_on_a_serving_gateway(gateway, db_url) -> None:
    async def run(*args: str):
        return await asyncio.to_thread(ewg, *args, db_url=db_url)

    await post_sms(gateway, TERA, "hommes armes 30 a moto", "o-1")  # Téra: one alert, level 1
    await scored(gateway, lambda alerts: "NE006011005" in alerts)
    await settle(gateway)

    table = await run("alerts")
    assert table.returncode == 0, table.stderr
    header, *lines = table.stdout.splitlines()
    assert header.split() == ["id", "code", "commune", "incident", "level", "status", "opened_at",
                              "acknowledged_at", "acknowledged_by", "resolved_at", "report_ids"]
    assert len(lines) == 1 and "None" not in table.stdout and "[" not in table.stdout
    assert lines[0].split()[2:6] == ["NE006011005", "armed_men", "1", "open"]

    bogus = await run("alerts", "--status", "bogus")
    assert bogus.returncode != 0 and bogus.stdout == ""
    assert "invalid choice: 'bogus'" in bogus.stderr
    assert "'open', 'acknowledged', 'escalated', 'resolved', 'expired'" in bogus.stderr

    gaby = await run("reporters", "add", "+22790000999", "--commune", "Gaby")
    assert gaby.returncode == 1 and "Traceback" not in gaby.stderr
    assert gaby.stderr.strip() == "ewg: unknown commune 'Gaby'; did you mean Gabi (NE004006003)?"
    by_name = await run("reports", "--json", "--commune", "Téra")
    assert [json.loads(line)["external_id"] for line in by_name.stdout.splitlines()] == ["o-1"]

    outbox = await run("outbox", "--json")
    assert outbox.returncode == 0, outbox.stderr
    rows = [json.loads(line) for line in outbox.stdout.splitlines()]
    assert rows and {row["kind"] for row in rows} >= {"reply", "alert"}
    assert all(re.fullmatch(r"\+\d{3}\*+\d{3}", row["recipient"]) for row in rows), rows
    assert all(row["status"] == "logged" and row["attempts"] >= 1 for row in rows), rows
    assert [row["id"] for row in rows] == sorted((row["id"] for row in rows), reverse=True)  # newest first
    reply = next(row for row in rows if row["kind"] == "reply")
    assert reply["recipient"] == "+227*****104" and TERA not in outbox.stdout
    only_replies = await run("outbox", "--kind", "reply", "--json")
    assert [json.loads(line)["id"] for line in only_replies.stdout.splitlines()] == [
        row["id"] for row in rows if row["kind"] == "reply"]
    assert (await run("outbox", "--status", "pending")).stdout == ""
    table = await run("outbox", "--limit", "1")
    assert table.stdout.splitlines()[0].split()[:5] == ["id", "created_at", "kind", "recipient", "status"]
    assert len(table.stdout.splitlines()) == 2
    bad = await run("outbox", "--status", "lost")
    assert bad.returncode != 0 and "pending" in bad.stderr and "failed" in bad.stderr

    async with gateway.app[RUNTIME].sessions() as session:
        audit = [(a.actor.startswith("cli"), a.action, a.target, a.detail) for a in (await session.execute(
            select(AuditEntry).where(AuditEntry.action == "export").order_by(AuditEntry.id))).scalars()]
    assert audit == [(True, "export", "alerts.table", "1 rows"), (True, "export", "reports.json", "1 rows")]
