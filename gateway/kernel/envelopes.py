"""Neutral message types flowing between the provider adapter and the application."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum


@dataclass(frozen=True)
class InboundSms:
    external_id: str  # the provider's message id: the idempotency key
    sender: str  # E.164
    short_code: str
    text: str
    received_at: datetime
    link_id: str | None = None
    network_code: str | None = None
    provider: str = "africastalking"  # which provider carried it: its reply leaves the same way


class DeliveryState(Enum):
    """What a delivery report means for the outbox row."""

    IN_FLIGHT = "in_flight"  # accepted by the network, not yet on the handset
    DELIVERED = "delivered"
    FAILED = "failed"
    UNKNOWN = "unknown"


class FailureCause(Enum):
    """Why a delivery report says an SMS did not arrive: a closed set, each provider's words mapped
    to it by that provider's module; what is done about each lives in gateway.outbox.redelivery."""

    PROVIDER = "provider"  # the provider or its network failed: another provider may reach the phone
    ABSENT = "absent"  # the phone is off or out of coverage: worth trying again until the SMS expires
    RECIPIENT = "recipient"  # the number itself (invalid, blacklisted, suspended): no provider will do better


@dataclass(frozen=True)
class DeliveryReport:
    provider_message_id: str
    status: str  # the provider's own word, kept verbatim
    state: DeliveryState
    phone: str | None
    network_code: str | None
    failure_reason: str | None
    retry_count: int
    cause: FailureCause | None = None  # set when `state` is FAILED


@dataclass(frozen=True)
class UssdHop:
    session_id: str
    service_code: str
    phone: str  # E.164
    network_code: str | None
    text: str  # cumulative answers joined by '*', empty on the first hop


@dataclass(frozen=True)
class UssdEnd:
    session_id: str
    phone: str | None
    status: str
    input: str | None
    duration_ms: int | None
    error_message: str | None


@dataclass(frozen=True)
class UssdScreen:
    text: str
    final: bool  # True: the session ends here (the adapter answers END)


class SendOutcome(Enum):
    SENT = "sent"
    RETRY = "retry"  # transient: 5xx, timeout, connection error, throttling
    FAILED = "failed"  # permanent: invalid number, blacklisted, rejected


@dataclass(frozen=True)
class SendResult:
    recipient: str
    outcome: SendOutcome
    provider_message_id: str | None = None
    cost: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Outgoing:
    """One SMS of a batch as a provider that tracks SMS by our id sees it (`per_sms = True`):
    the outbox id its delivery reports name, and when it is no longer worth delivering."""

    outbox_id: int
    recipient: str
    expires_at: datetime | None = None
    attempt: int = 0  # tries before this one: a try after the first gets an id of its own
