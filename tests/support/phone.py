"""The fake phone running SMS Gateway for Android (gateway.providers.android_fake), served by the
test's own event loop on a free loopback port."""

from __future__ import annotations

from aiohttp import web

from gateway.providers.android_fake import FAKE_PASSWORD, FAKE_USERNAME, STATE, create_app

SIGNING_KEY = "phone-signing-key-0123456789"


class FakePhone:
    def __init__(self) -> None:
        self.app = create_app()
        self.runner = web.AppRunner(self.app)
        self.url = ""

    async def __aenter__(self) -> FakePhone:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.runner.cleanup()

    @property
    def messages(self) -> list[dict]:
        return self.app[STATE].messages

    def env(self) -> dict[str, str]:
        return {"EWG_ANDROID__BASE_URL": self.url, "EWG_ANDROID__USERNAME": FAKE_USERNAME,
                "EWG_ANDROID__PASSWORD": FAKE_PASSWORD, "EWG_ANDROID__SIGNING_KEY": SIGNING_KEY}
