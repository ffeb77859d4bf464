"""The "vigilance" SMS a neighbouring commune's committee receives, from locales/*/alerts.po.

Its own words, never the home alert's text: the place and country of the incident, its kind and
level, and the alert's code (to acknowledge for the neighbour's own commune). No count, no
reporters, nothing about who reported: only alert facts are inputs here."""

from __future__ import annotations

from dataclasses import dataclass

from alerts.texts import MAX_PLACE_CHARS
from gateway.kernel.i18n import render
from gateway.kernel.segments import to_gsm7
from gateway.kernel.taxonomy import Taxonomy, load_taxonomy

# One text per country of the incident: a country's name is its own word in each language.
VIGILANCE = {
    "NE": "VIGILANCE {code}: {incident} L{level} in {commune}, Niger, near your commune. Stay alert. "
          "Reply OK {code} to confirm receipt.",
    "ML": "VIGILANCE {code}: {incident} L{level} in {commune}, Mali, near your commune. Stay alert. "
          "Reply OK {code} to confirm receipt.",
}
# Elsewhere (a partner's country), the place carries its country code: "Name (BF)".
VIGILANCE_ELSEWHERE = ("VIGILANCE {code}: {incident} L{level} in {commune}, near your commune. Stay alert. "
                       "Reply OK {code} to confirm receipt.")


@dataclass(frozen=True)
class VigilanceFacts:
    code: str
    level: int
    incident: str  # incident id
    commune_name: str  # the home commune
    country: str  # ISO 3166 alpha-2 of the home commune (NE, ML...)


def vigilance_text(lang: str, facts: VigilanceFacts, taxonomy: Taxonomy | None = None) -> str:
    incident = (taxonomy or load_taxonomy()).by_id(facts.incident).label(lang)
    place = to_gsm7(facts.commune_name)[:MAX_PLACE_CHARS].strip()
    template = VIGILANCE.get(facts.country)
    if template is None:
        template, place = VIGILANCE_ELSEWHERE, f"{place} ({to_gsm7(facts.country)[:2]})"
    return render(lang, template, code=facts.code, level=facts.level, incident=incident, commune=place)
