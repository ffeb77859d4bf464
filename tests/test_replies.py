"""Every reply template, in every language, fits one SMS segment with long values."""

from __future__ import annotations

import pytest

from gateway.kernel.i18n import LANGUAGES, has_translation, render
from gateway.kernel.segments import measure, to_gsm7
from gateway.kernel.taxonomy import load_taxonomy
from gateway.sms import replies

LONG_VALUES = {"ref": "RZZZZ", "incident": "vol de betail", "place": to_gsm7("Birni N'Konni")[:24],
               "count": " (12345)", "commune": "Tchintabaraden", "code": "K7Q2", "who": "Aissatou Abdoulaye Mahamadou"}


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("template", replies.ALL_TEMPLATES, ids=lambda t: t[:30])
def test_reply_fits_one_gsm7_segment(lang: str, template: str) -> None:
    text = render(lang, template, **LONG_VALUES)
    info = measure(text)
    assert (info.encoding, info.segments) == ("GSM-7", 1), f"{lang}: {info} {text!r}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_language_catalog_is_complete(lang: str) -> None:
    missing = [t for t in replies.ALL_TEMPLATES if not has_translation(lang, t)]
    assert missing == []


def test_zarma_has_its_own_text_not_the_french_one() -> None:
    assert render("dje", replies.HELP) != render("fr", replies.HELP)
    assert "Fofo" in render("dje", replies.CONFIRM, **LONG_VALUES)


def test_confirmation_names_incident_place_count_and_how_to_retract() -> None:
    text = replies.confirmation("fr", load_taxonomy(), "R7K2", "cattle_theft", "Tillabéri", 40, verified=True)
    assert text == "Signalement R7K2 enregistré: vol de bétail Tillabéri (40). Merci. Erreur? Envoyez FAUX R7K2"


def test_variable_values_cannot_flip_a_reply_to_ucs2() -> None:
    text = replies.confirmation("ha", load_taxonomy(), "R7K2", "attack", "Ɗan Kaɗa “Ƙasa”", None, verified=True)
    assert measure(text).encoding == "GSM-7"
