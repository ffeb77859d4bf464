"""`ewg alerts --resolve CODE`."""

from __future__ import annotations

from alerts import api as alerts_api
from gateway.cli.common import in_transaction
from gateway.cli.errors import CliError
from gateway.runtime import utc_now


def resolve_alert(settings, code: str) -> int:
    async def work(session):
        return await alerts_api.resolve_alert(session, code.strip().upper(), "admin", utc_now())

    if not in_transaction(settings, work):
        raise CliError(f"no open alert with code {code!r}")
    print(f"alert {code.upper()} resolved")
    return 0
