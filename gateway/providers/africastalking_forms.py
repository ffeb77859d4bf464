"""Africa's Talking callback forms (inbound SMS, delivery reports, USSD hops) as the provider posts them.

Shared by the fake provider, the tests and the benchmarks so that all of them speak the same
wire format; only the provider adapter in the gateway reads these field names.
"""

from __future__ import annotations

import uuid
from datetime import datetime

# The provider writes inbound dates as "2026-11-24 17:10:25" (UTC, no zone marker).
AT_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"

# Mobile network codes (MCC+MNC) the provider reports; Niger is 614, Mali 610.
NETWORK_AIRTEL_NIGER = "61402"
NETWORK_MOOV_NIGER = "61403"
NETWORK_ORANGE_MALI = "61002"

# Delivery-report statuses the provider documents, final or not.
DELIVERY_STATUSES = ("Sent", "Submitted", "Buffered", "Rejected", "Success", "Failed", "AbsentSubscriber", "Expired")


def inbound_sms_form(
    sender: str,
    text: str,
    *,
    received_at: datetime,
    to: str = "3737",
    message_id: str | None = None,
    link_id: str | None = None,
    network_code: str = NETWORK_AIRTEL_NIGER,
) -> dict[str, str]:
    """The form the provider posts to the inbound-SMS callback for one received text (`link_id=""`:
    a message that carries none)."""
    return {
        "from": sender,
        "to": to,
        "text": text,
        "date": received_at.strftime(AT_DATE_FORMAT),
        "id": message_id or str(uuid.uuid4()),
        "linkId": str(uuid.uuid4()) if link_id is None else link_id,
        "networkCode": network_code,
    }


def ussd_hop_form(session_id: str, service_code: str, phone_number: str, text: str, *,
                  network_code: str = NETWORK_AIRTEL_NIGER) -> dict[str, str]:
    """The form the provider posts to the USSD callback for one hop (`text`: the answers so far, joined by '*')."""
    return {"sessionId": session_id, "serviceCode": service_code, "phoneNumber": phone_number,
            "networkCode": network_code, "text": text}


def delivery_report_form(
    message_id: str,
    status: str,
    phone_number: str,
    *,
    network_code: str = NETWORK_AIRTEL_NIGER,
    failure_reason: str = "",
    retry_count: int = 0,
) -> dict[str, str]:
    """The form the provider posts to the delivery-report callback; failureReason only on failures."""
    form = {
        "id": message_id,
        "status": status,
        "phoneNumber": phone_number,
        "networkCode": network_code,
        "retryCount": str(retry_count),
    }
    if failure_reason:
        form["failureReason"] = failure_reason
    return form
