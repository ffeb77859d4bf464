"""Replies to reporters, rendered from locales/<lang>/LC_MESSAGES/replies.po.

Every template is kept to one GSM-7 segment in every language (tests/test_replies.py
measures them); variable parts (commune names) are transliterated to GSM-7 first.
"""

from __future__ import annotations

from gateway.kernel.i18n import render
from gateway.kernel.segments import to_gsm7
from gateway.kernel.taxonomy import Taxonomy

CONFIRM = "Received {ref}: {incident} {place}{count}. Thank you. Mistake? Send FAUX {ref}"
CONFIRM_UNVERIFIED = "Received {ref}: {incident} {place}{count}. Thank you. To become a focal point: INSCRIPTION <commune>"
HELP = "Send: INCIDENT PLACE NUMBER. Ex: ATTAQUE GABI 12. Codes: 1 attack 2 kidnap 3 cattle theft 4 armed men 5 mine 6 killing 7 displaced 8 fire 9 clash 10 trafficking"
LANGUAGE_SET = "Language set: English. Send AIDE for help."
REGISTER_PENDING = "Request received for {commune}. An administrator will confirm you as a focal point."
REGISTER_NEEDS_COMMUNE = "Commune not found. Send: INSCRIPTION <commune> <your name>"
RETRACTED = "Report {ref} withdrawn. Thank you."
RETRACT_UNKNOWN = "No report {ref} from your number. Check the reference."
ACK_DONE = "Alert {code} taken in charge by you. The others are informed."
ACK_ALREADY = "Alert {code} is already taken in charge by {who}."
ACK_UNKNOWN = "Alert {code} not found. Check the code."
ACK_NOT_MEMBER = "Only committee members can acknowledge alerts."
ACK_VIGILANCE = "Vigilance {code} noted for your commune. Thank you."  # a neighbouring commune's committee
BLOCKED = "Your number cannot send reports. Contact the observatory."

ALL_TEMPLATES = (CONFIRM, CONFIRM_UNVERIFIED, HELP, LANGUAGE_SET, REGISTER_PENDING, REGISTER_NEEDS_COMMUNE,
                 RETRACTED, RETRACT_UNKNOWN, ACK_DONE, ACK_ALREADY, ACK_UNKNOWN, ACK_NOT_MEMBER, BLOCKED,
                 ACK_VIGILANCE)


def confirmation(lang: str, taxonomy: Taxonomy, ref: str, incident: str, place: str | None,
                 count: int | None, verified: bool) -> str:
    label = taxonomy.by_id(incident).label(lang)
    template = CONFIRM if verified else CONFIRM_UNVERIFIED
    return render(lang, template, ref=ref, incident=label, place=to_gsm7(place or "?")[:24],
                  count=f" ({count})" if count is not None else "")


def text(lang: str, template: str, **values: object) -> str:
    return render(lang, template, **{k: to_gsm7(str(v)) for k, v in values.items()})


_ACK_TEMPLATES = {"done": ACK_DONE, "already": ACK_ALREADY, "not_member": ACK_NOT_MEMBER, "noted": ACK_VIGILANCE}


def acknowledgement(lang: str, outcome: str, code: str, who: str | None) -> str:
    """The reply to `OK <code>` (by SMS or USSD), from the alert service's outcome."""
    return text(lang, _ACK_TEMPLATES.get(str(outcome), ACK_UNKNOWN), code=code or "?", who=who or "?")
