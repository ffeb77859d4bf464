"""Who dials decides the first USSD screen: a committee member registered in French is greeted in
French without a language choice, and the menu offers only what applies to the caller, numbered
without gaps."""

from __future__ import annotations

import pytest

from tests.support.callbacks import FORM, TOKEN, hop
from tests.support.gateway import running_gateway

GABI_CHAIR = "+22796000201"  # demo: committee member of Gabi, French, no focal point row
GABI_FOCAL_POINT = "+22790000101"  # demo: approved focal point of Gabi, Hausa


@pytest.fixture(params=["memory", "database"])
def settings(request, settings):
    from dataclasses import replace  # noqa: PLC0415 - a fixture parameter's override, as in test_wire_ussd

    return replace(settings, ussd=replace(settings.ussd, session_store=request.param))


async def first_screen(client, phone: str) -> str:
    response = await client.post("/callbacks/at/ussd" + TOKEN, headers=FORM,
                                 data=hop(phoneNumber=phone, sessionId=f"ATUid_{phone[-4:]}"))
    assert response.status == 200
    return await response.text()


async def test_a_member_registered_in_french_is_not_asked_for_a_language(settings, clock) -> None:
    async with running_gateway(settings, clock) as client:
        screen = await first_screen(client, GABI_CHAIR)
    assert screen.splitlines()[1:] == ["1 Signaler un incident", "2 Prendre en charge une alerte", "3 Aide",
                                       "4 Langue"], screen


async def test_a_focal_point_sees_no_gap_and_no_registration(settings, clock) -> None:
    async with running_gateway(settings, clock) as client:
        screen = await first_screen(client, GABI_FOCAL_POINT)
    numbers = [line.split(" ", 1)[0] for line in screen.splitlines()[1:]]
    assert numbers == ["1", "2", "3"], screen
