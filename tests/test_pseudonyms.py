"""Reporters' pseudonyms are keyed by a secret generated once per database: stable across
restarts and replicas, and not computable from a phone number alone."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from gateway.phones import sender_key
from gateway.runtime import RUNTIME
from gateway.storage.models import Report
from tests.conftest import running_gateway
from tests.test_sms_commands import send


async def test_pseudonym_key_is_generated_once_and_shared(settings, clock) -> None:  # noqa: ANN001
    async with running_gateway(settings, clock) as first:
        secret = first.server.app[RUNTIME].pseudonym_secret
        await send(first, "+22790000101", "ATTAQUE GABI 2")
    async with running_gateway(settings, clock) as second:  # a restart, or another replica
        assert second.server.app[RUNTIME].pseudonym_secret == secret
        async with second.server.app[RUNTIME].sessions() as session:
            report = (await session.execute(select(Report))).scalar_one()
    assert len(secret) == 64
    assert report.sender_key == sender_key("+22790000101", secret)
    assert report.sender_key != sender_key("+22790000101", "")


async def test_a_configured_secret_wins(settings, clock) -> None:  # noqa: ANN001
    settings = replace(settings, gateway=replace(settings.gateway, pseudonym_secret="chosen"))
    async with running_gateway(settings, clock) as client:
        assert client.server.app[RUNTIME].pseudonym_secret == "chosen"
