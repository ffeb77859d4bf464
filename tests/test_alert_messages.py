"""Alert texts: every template in every language fits two SMS segments with long place names."""

import re
from datetime import UTC, datetime

import pytest

from alerts.pipeline import Trigger
from alerts.texts import (
    ACK_NOTICE,
    ALERT_TEMPLATES,
    CANCELLED,
    COUNT_PART,
    COUNT_PARTS,
    REPORTED_PART,
    RESOLVED,
    SOMEONE,
    AlertFacts,
    ack_notice_text,
    alert_text,
    closing_text,
    local_time_of,
)
from gateway.kernel.i18n import LANGUAGES, has_translation
from gateway.kernel.segments import measure
from gateway.kernel.taxonomy import load_taxonomy

LONG_NAMES = ["Commune Urbaine de Tillabéri Département", "Birni N'Konni", "Tondikiwindi-Tondikiwindi-Tondi",
              "Kéniéba Koro Djénné Ségou Sikasso Kayes"]
INCIDENTS = [incident.id for incident in load_taxonomy().incidents]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_alert_template_is_translated(lang):
    for msgid in [*ALERT_TEMPLATES.values(), COUNT_PART, *COUNT_PARTS.values(), REPORTED_PART, ACK_NOTICE, CANCELLED,
                  RESOLVED, SOMEONE]:
        assert has_translation(lang, msgid), (lang, msgid)


def test_every_incident_says_what_its_count_counts():
    assert set(COUNT_PARTS) == set(INCIDENTS)


def test_a_committee_member_reads_what_was_counted_and_when_it_was_reported():
    """The count carries its noun and the time is Niger's (UTC+1), whatever the server's zone."""
    facts = AlertFacts("S9XN", 2, "killing", "Gabi", reports=1, count=12,
                       reported_at=datetime(2026, 11, 24, 13, 5, tzinfo=UTC))
    assert alert_text("fr", Trigger.OPENED, facts) == (
        "ALERTE S9XN niveau 2: meurtre à Gabi. 1 signalement(s) indépendant(s). 12 morts. Signalé le 24/11 à 14:05. "
        "Répondez OK S9XN pour prendre en charge.")
    cattle = AlertFacts("S9XN", 1, "cattle_theft", "Gabi", reports=1, count=40)
    assert "40 animaux volés." in alert_text("fr", Trigger.OPENED, cattle)
    assert "Nombre" not in alert_text("fr", Trigger.OPENED, cattle)


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("trigger", list(Trigger))
def test_alert_texts_fit_two_gsm7_segments(lang, trigger):
    for name in LONG_NAMES:
        for incident in INCIDENTS:
            facts = AlertFacts("K7Q2", 2, incident, name, reports=12, count=1500, minutes=1440)
            text = alert_text(lang, trigger, facts)
            info = measure(text)
            assert info.encoding == "GSM-7" and info.segments <= 2, (text, info)
            assert "K7Q2" in text and "{" not in text


def test_french_alert_reads_as_expected():
    facts = AlertFacts("K7Q2", 1, "attack", "Gabi", reports=1, count=None)
    assert alert_text("fr", Trigger.OPENED, facts) == (
        "ALERTE K7Q2 niveau 1: attaque à Gabi. 1 signalement(s) indépendant(s). Répondez OK K7Q2 pour prendre en charge.")
    raised = AlertFacts("K7Q2", 2, "attack", "Gabi", reports=2, count=12)
    assert alert_text("ha", Trigger.RAISED, raised) == (
        "GARGADI K7Q2 ya kai mataki 2: hari a Gabi. Rahotanni 2 daban-daban. Wadanda abin ya shafa: 12. Ku amsa TO K7Q2 "
        "don daukar nauyi.")
    assert measure(alert_text("fr", Trigger.OPENED, facts)).segments == 1


@pytest.mark.parametrize("lang", LANGUAGES)
def test_notices_fit_and_name_the_member_not_a_reporter(lang):
    notice = ack_notice_text(lang, "K7Q2", "Hadjia Mariama Abdoulaye Souley Garba")
    assert "K7Q2" in notice and measure(notice).segments == 1
    assert ack_notice_text(lang, "K7Q2", None).count("K7Q2") == 1
    for cancelled in (True, False):
        text = closing_text(lang, AlertFacts("K7Q2", 1, "kidnapping", LONG_NAMES[0], 0), cancelled)
        assert measure(text).segments == 1 and measure(text).encoding == "GSM-7"
    assert ack_notice_text("fr", "K7Q2", "Aissa") == "Alerte K7Q2 prise en charge par Aissa."


def test_no_template_has_room_for_a_phone_number():
    """Texts are built only from alert facts; no placeholder can carry a number or a reporter."""
    placeholders = set()
    for msgid in [*ALERT_TEMPLATES.values(), COUNT_PART, ACK_NOTICE, CANCELLED, RESOLVED]:
        placeholders |= set(re.findall(r"{(\w+)}", msgid))
    assert placeholders == {"code", "level", "incident", "commune", "reports", "count", "minutes", "member"}


def test_the_time_is_the_communes_own():
    """Mali keeps UTC, Niger UTC+1: a report at 13:05 UTC reads 13:05 in Gao and 14:05 in Gabi."""
    facts = AlertFacts("S9XN", 2, "attack", "Ouattagouna", reports=1,
                       reported_at=datetime(2026, 11, 24, 13, 5, tzinfo=UTC))
    assert "le 24/11 à 13:05." in alert_text("fr", Trigger.OPENED, facts, local_time=local_time_of("ML07"))
    assert "le 24/11 à 14:05." in alert_text("fr", Trigger.OPENED, facts, local_time=local_time_of("NE004006003"))
    assert local_time_of(None) == local_time_of("NE")
