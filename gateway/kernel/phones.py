"""Phone numbers: E.164 normalisation (phonenumbers) and masking for logs."""

from __future__ import annotations

import hashlib
import hmac
import re
from functools import lru_cache

import phonenumbers


class PhoneError(ValueError):
    """Not a usable phone number; the message says which value and why."""


def normalise_phone(raw: str, default_region: str = "NE", accepted_regions: tuple[str, ...] | list[str] = ("NE", "ML", "BF", "NG")) -> str:
    """Return the E.164 form of a number typed in any common national or international form."""
    return _normalised(raw, default_region, tuple(accepted_regions or ()))


@lru_cache(maxsize=16_384)
def _normalised(raw: str, default_region: str, accepted_regions: tuple[str, ...]) -> str:
    # Cached: every USSD hop and every callback carries the number, and parsing it is costly; a
    # refused number raises each time (exceptions are not cached).
    text = (raw or "").strip()
    if not text:
        raise PhoneError("empty phone number")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        raise PhoneError(f"not a phone number: {mask_phone(text)!r}") from None
    if not phonenumbers.is_valid_number(number):
        raise PhoneError(f"not a valid phone number: {mask_phone(text)}")
    region = phonenumbers.region_code_for_number(number)
    if accepted_regions and region not in accepted_regions:
        raise PhoneError(f"phone number from an unsupported country ({region}): {mask_phone(text)}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=16_384)
def region_of(e164: str) -> str | None:
    """The country (ISO 3166 alpha-2) of a number already normalised, None if phonenumbers has none."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return None


def mask_phone(phone: str | None) -> str:
    """+22790123456 -> +227*****456: enough to tell numbers apart in a log, not to call one."""
    if not phone:
        return "-"
    if len(phone) <= 6:
        return "*" * len(phone)
    return phone[:4] + "*" * (len(phone) - 7) + phone[-3:]


# A run of 7 or more digits, with an optional "+" and single spaces, dots or dashes between groups.
_NUMBER_IN_TEXT = re.compile(r"\+?\d(?:[ .\-]?\d){6,}")


def mask_phones_in(text: str) -> str:
    """Free text from a library or a provider ("Invalid phoneNumber +22790123456") with every
    phone-like number reduced to its last three digits ("+*********456")."""
    def mask(match: re.Match) -> str:
        digits = [c for c in match.group() if c.isdigit()]
        return ("+" if match.group().startswith("+") else "") + "*" * (len(digits) - 3) + "".join(digits[-3:])

    return _NUMBER_IN_TEXT.sub(mask, text)


def sender_key(phone: str, secret: str = "") -> str:
    """A stable pseudonym for a number: distinguishes reporters for corroboration without
    storing or revealing the number itself."""
    digest = hmac.new(secret.encode(), phone.encode(), hashlib.sha256).hexdigest()
    return "p" + digest[:15]
