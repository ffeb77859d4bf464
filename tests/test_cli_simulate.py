"""`ewg simulate sms` against a real `ewg serve`, as a trainer uses it: each text shows the reply the
gateway queued for it, never the answer to the text before; a text over the number's reply limit says
it got none."""

from __future__ import annotations

from tests.support.cli import ewg
from tests.support.gateway_process import GatewayProcess
from tests.support.ports import free_port

GABI_FOCAL_POINT = "+22790000101"  # a demo focal point of Gabi, reading Hausa


async def test_each_text_shows_its_own_reply(tmp_path) -> None:
    gateway = GatewayProcess({"EWG_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'ewg.db'}"}, free_port(), tmp_path)
    await gateway.start()
    try:
        def simulate(text: str) -> str:
            done = ewg("simulate", "sms", "--from", GABI_FOCAL_POINT, text, env=gateway.env)
            assert done.returncode == 0, done.stderr
            return done.stdout

        shown = [simulate(text) for text in ("bonjour", "ATTAQUE GABI 12", "AIDE", "ATTAQUE GABI 3")]
    finally:
        await gateway.terminate()
    help_reply, report_reply, second_help, over_limit = shown
    assert "Misali: HARI GABI 12" in help_reply
    assert "An karba" in report_reply and "Misali" not in report_reply
    assert "Misali: HARI GABI 12" in second_help and "An karba" not in second_help
    assert "< " not in over_limit and "no reply" in over_limit, over_limit
