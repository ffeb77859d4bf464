"""`ewg providers android register-webhooks` against the fake phone, through the real client code."""

from __future__ import annotations

import asyncio
import os
import sys

from aiohttp import web

from gateway.providers.android import EVENTS
from gateway.providers.android_fake import FAKE_PASSWORD, FAKE_USERNAME, STATE, create_app
from tests.support.paths import REPO

URL = "https://gw.example/callbacks/android?token=abc"


async def ewg_async(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("EWG_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", *args, "--config", str(REPO / "settings.toml"), env={**clean, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode, out.decode(), err.decode()


async def test_register_webhooks_registers_every_event_with_the_phone() -> None:
    app = create_app()
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        env = {"EWG_ANDROID__BASE_URL": base, "EWG_ANDROID__USERNAME": FAKE_USERNAME,
               "EWG_ANDROID__PASSWORD": FAKE_PASSWORD}
        code, out, err = await ewg_async(env, "providers", "android", "register-webhooks", "--url", URL)
        assert code == 0, err
        assert out.splitlines() == [f"{event}: registered" for event in EVENTS]
        assert sorted((hook["event"], hook["url"]) for hook in app[STATE].webhooks.values()) == sorted(
            (event, URL) for event in EVENTS)

        wrong = {**env, "EWG_ANDROID__PASSWORD": "not-the-password"}
        code, out, err = await ewg_async(wrong, "providers", "android", "register-webhooks", "--url", URL)
        assert code == 1 and "refused (HTTP 401)" in out
    finally:
        await runner.cleanup()


async def test_register_webhooks_says_what_is_missing() -> None:
    code, _, err = await ewg_async({}, "providers", "android", "register-webhooks", "--url", URL)
    assert code == 1 and err.strip() == ("ewg: the phone is not configured: set EWG_ANDROID__BASE_URL, "
                                         "EWG_ANDROID__USERNAME and EWG_ANDROID__PASSWORD")
    env = {"EWG_ANDROID__BASE_URL": "http://127.0.0.1:9", "EWG_ANDROID__USERNAME": "u",
           "EWG_ANDROID__PASSWORD": "p"}
    code, _, err = await ewg_async(env, "providers", "android", "register-webhooks", "--url", "gw.example")
    assert code == 1 and "--url must be the gateway's http(s) address" in err and "Traceback" not in err
    code, _, err = await ewg_async(env, "providers", "android", "register-webhooks", "--url", URL)
    assert code == 1 and err.startswith("ewg: cannot reach the phone at http://127.0.0.1:9") and "Traceback" not in err
