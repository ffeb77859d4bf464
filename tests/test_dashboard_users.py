"""`ewg users`: dashboard users made, changed and removed from the command line, as the running
dashboard sees them; errors in one line without a traceback."""

from __future__ import annotations

import json

import pytest

from gateway.cli import users as users_command
from gateway.cli.errors import CliError
from tests.support.cli import ewg
from tests.support.dashboard import log_in
from tests.support.gateway import make_settings, running_gateway


def one_line_error(result, fragment: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ewg: ") and fragment in lines[0], result.stderr


async def test_users_made_on_the_command_line_log_in_to_the_dashboard(db_url, clock) -> None:
    assert ewg("db", "upgrade", db_url=db_url).returncode == 0
    result = ewg("users", "add", "amina", "--role", "operator", "--password-stdin", stdin="sahel-2026-amina\n",
                 db_url=db_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "dashboard user amina added (operator)"
    one_line_error(ewg("users", "add", "amina", "--password-stdin", stdin="another-password\n", db_url=db_url),
                   "user 'amina' already exists")
    listing = ewg("users", "list", "--json", db_url=db_url)
    assert [{k: row[k] for k in ("name", "role")} for row in map(json.loads, listing.stdout.splitlines())] == [
        {"name": "amina", "role": "operator"}]
    assert "scrypt" not in listing.stdout

    async with running_gateway(make_settings(db_url, api={"token": "api-token"}), clock) as client:
        await log_in(client, "amina", "sahel-2026-amina")
        assert (await client.get("/dashboard", allow_redirects=False)).status == 200

        result = ewg("users", "passwd", "amina", "--password-stdin", stdin="sahel-2027-amina\n", db_url=db_url)
        assert result.returncode == 0, result.stderr
        assert (await client.get("/dashboard", allow_redirects=False)).status == 303  # her sessions ended
        await log_in(client, "amina", "sahel-2027-amina")

        assert ewg("users", "remove", "amina", db_url=db_url).returncode == 0
        assert (await client.get("/dashboard", allow_redirects=False)).status == 303
        response = await client.post("/dashboard/login", data={"user": "amina", "password": "sahel-2027-amina"},
                                     allow_redirects=False)
        assert response.status == 401
    assert ewg("users", "list", db_url=db_url).stdout.strip() == ""


@pytest.mark.parametrize(("args", "stdin", "fragment"), [
    (["users", "add", "bob", "--password-stdin"], "short\n", "a password needs at least 10 characters"),
    (["users", "add", "bob"], "", "give it on stdin with --password-stdin"),  # no terminal to ask on
    (["users", "add", "bob smith", "--password-stdin"], "long-enough-password\n", "user name 'bob smith' must be"),
    (["users", "passwd", "nobody", "--password-stdin"], "long-enough-password\n", "no dashboard user 'nobody'"),
    (["users", "remove", "nobody"], None, "no dashboard user 'nobody'"),
])
def test_users_command_errors_are_one_line(db_url, args: list[str], stdin: str | None, fragment: str) -> None:
    assert ewg("db", "upgrade", db_url=db_url).returncode == 0
    one_line_error(ewg(*args, stdin=stdin, db_url=db_url), fragment)


def test_the_password_is_asked_twice_on_a_terminal(monkeypatch) -> None:
    monkeypatch.setattr(users_command.sys.stdin, "isatty", lambda: True, raising=False)
    answers = iter(["long-enough-password", "long-enough-password", "long-enough-password", "a-typo-in-the-second"])
    monkeypatch.setattr(users_command.getpass, "getpass", lambda prompt: next(answers))
    assert users_command.read_password(from_stdin=False) == "long-enough-password"
    with pytest.raises(CliError, match="the two passwords differ"):
        users_command.read_password(from_stdin=False)
