"""Africa's Talking callbacks as tests post them to the gateway in this process: the token, the form
header, an SMS form and a USSD hop with every field defaulted, and send() for one SMS."""

from __future__ import annotations

import itertools
from urllib.parse import urlencode

from aiohttp.test_utils import TestClient

TOKEN = "?token=s3cret"
FOCAL_POINT = "+22790000101"  # demo: approved focal point of Gabi, Hausa
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
_ids = itertools.count(1)


def sms(encoding: str = "utf-8", **fields: str | None) -> str:
    form = {"from": FOCAL_POINT, "to": "3737", "text": "ATTAQUE GABI 12", "date": "2026-11-24 11:59:00",
            "id": "ATXid_1", "linkId": "lnk-1", "networkCode": "61402"}
    form.update(fields)
    return urlencode({k: v for k, v in form.items() if v is not None}, encoding=encoding)


def hop(**fields: str | None) -> str:
    form = {"sessionId": "ATUid_1", "serviceCode": "*384*3737#", "phoneNumber": FOCAL_POINT,
            "networkCode": "61402", "text": ""}
    form.update(fields)
    return urlencode({k: v for k, v in form.items() if v is not None})


async def send(client: TestClient, sender: str, text: str) -> str:
    """One SMS from `sender`, under a message id of its own; returns the callback's answer."""
    response = await client.post("/callbacks/at/sms" + TOKEN, headers=FORM,
                                 data=sms(**{"from": sender, "text": text, "id": f"ATXid_c{next(_ids)}"}))
    assert response.status == 200
    return await response.text()
