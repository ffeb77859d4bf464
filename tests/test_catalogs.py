"""The .po catalogs themselves: complete in French, Hausa and Zarma, marked for review in one format,
gender-neutral in Hausa, and within their SMS budget with the longest values filled in.

The catalogs are read straight from locales/ (as gateway.kernel.i18n does), so a message that a template
module does not list yet is checked too.
"""

from __future__ import annotations

import re
from functools import cache
from string import Formatter

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from alerts.digest import MAX_ITEMS
from alerts.spillover_texts import VigilanceFacts, vigilance_text
from alerts.texts import COUNT_PART, COUNT_PARTS, MAX_MEMBER_CHARS, MAX_PLACE_CHARS, REPORTED_PART
from gateway import PROJECT_ROOT
from gateway.kernel.i18n import LANGUAGES, render
from gateway.kernel.segments import is_gsm7, measure, to_gsm7
from gateway.kernel.taxonomy import load_taxonomy
from gateway.sms.followup import MAX_CANDIDATE_CHARS, MAX_CANDIDATES

LOCALES = PROJECT_ROOT / "locales"
CATALOGS = ("replies", "alerts", "ussd", "dashboard")
TRANSLATED = ("ha", "dje")

# One line written in the three languages at once, shown before a language is chosen.
MULTILINGUAL = {"Choose a language (shown in every language)"}
# Units and protocol words that read the same in every language.
CODE_WORDS = {"h", "min", "s", "SMS"}
PLACEHOLDER = re.compile(r"\{[^{}]*\}")
MARK = re.compile(r"UNVERIFIED: \S")

# Masculine (and feminine) singular "you" in Hausa: the pronouns, and the possessive suffix on a noun
# (bukatarka, lambarka, sunanka, dinka). `kai` alone also means "to bring" (kai rahoto, an kai hari), so
# only "da kai" ("... you", as in "tabbatar da kai") is a marker.
SINGULAR_YOU = re.compile(
    r"\b(?:ka|kana|kake|kayi|naka|maka|gareka|zaka|ki|kina|kike|naki|maki)\b"
    r"|\bda kai\b(?! (?:hari|rahoto))"
    r"|\b\w+[rn]ka\b",
    re.IGNORECASE)
NOT_A_PRONOUN = {"amurka", "sarka"}  # nouns that happen to end in -rka
# Hausa terms the catalogs must not use, with or without hooked letters: "gargadi" is the one word for alert,
# "karbi" is to receive (not to take charge), and "gunduma" names the département in Niger, not the commune.
HAUSA_BANNED = ("fadakarwa", "karbi gargadi", "<gunduma>")

# The longest values each placeholder takes in production (see the bounds imported above).
LONGEST_COMMUNE = to_gsm7("Sere Moussa Ani Samo de Siékorolé")  # Mali's longest commune name
REPLY_PLACE_CHARS = 24  # replies.confirmation cuts the place name to this


@cache
def catalog(lang: str, name: str) -> Catalog:
    with (LOCALES / lang / "LC_MESSAGES" / f"{name}.po").open("rb") as handle:
        return read_po(handle, locale=None)


def messages(lang: str, name: str) -> dict[str, Message]:
    return {str(message.id): message for message in catalog(lang, name) if message.id}


def all_msgids(name: str) -> list[str]:
    """Every msgid any language's copy of the catalog holds."""
    return sorted({msgid for lang in LANGUAGES for msgid in messages(lang, name)})


def is_code(text: str) -> bool:
    """A text made only of placeholders, digits, punctuation and unit words (" {items}.", "{hours} h")."""
    return all(word in CODE_WORDS for word in re.findall(r"[^\W\d_]+", PLACEHOLDER.sub(" ", text)))


def fields(text: str) -> set[str]:
    return {f"{name}:{spec}" for _, name, spec, _ in Formatter().parse(text) if name is not None}


def longest_label(lang: str) -> str:
    return max((incident.label(lang) for incident in load_taxonomy().incidents), key=len)


def longest_alert_details(lang: str) -> str:
    """An alert's count with the longest noun any incident gives it, and when it was reported."""
    counts = (render(lang, part, count=99999) for part in {COUNT_PART, *COUNT_PARTS.values()})
    return max(counts, key=len) + render(lang, REPORTED_PART, day="31/12", time="23:59")


def long_values(lang: str, name: str) -> dict[str, object]:
    """Placeholder values at their production maximum, rendered the way the code renders them: a
    reply's count is " (n)", an alert's is its own sentence."""
    labels = sorted((incident.label(lang) for incident in load_taxonomy().incidents), key=len)[-MAX_ITEMS:]
    return {
        "ref": "RZZZZZ", "code": "K7Q2Z", "level": 3, "reports": 999, "minutes": 99999, "open": 99,
        "incident": longest_label(lang),
        "place": LONGEST_COMMUNE[:REPLY_PLACE_CHARS],
        "commune": LONGEST_COMMUNE[:MAX_PLACE_CHARS],
        "who": "Hadjia Mariama Abdoulaye Souley"[:MAX_MEMBER_CHARS],
        "member": "Hadjia Mariama Abdoulaye Souley"[:MAX_MEMBER_CHARS],
        "area": "Tchintabaraden Tchintabaraden Tchintabaraden",
        "count": " (99999)" if name == "replies" else longest_alert_details(lang),
        "day": "31/12", "time": "23:59",
        "details": render(lang, " {items}.", items=", ".join(f"{label} 999" for label in labels)),
        "items": ", ".join(f"{label} 999" for label in labels),
        "name": LONGEST_COMMUNE[:22], "language": "Francais",
        "candidates": ", ".join([LONGEST_COMMUNE[:MAX_CANDIDATE_CHARS]] * MAX_CANDIDATES),
    }


# (a) Complete catalogs: no empty, fuzzy or French-copied entry.

@pytest.mark.parametrize("name", CATALOGS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_has_a_translation(lang: str, name: str) -> None:
    entries = messages(lang, name)
    missing = [msgid for msgid in all_msgids(name)
               if msgid not in entries or not entries[msgid].string or entries[msgid].fuzzy]
    assert missing == [], f"{lang}/{name}.po: {len(missing)} untranslated, e.g. {missing[:3]}"


@pytest.mark.parametrize("name", CATALOGS)
@pytest.mark.parametrize("lang", TRANSLATED)
def test_hausa_and_zarma_are_not_the_french_text(lang: str, name: str) -> None:
    french = messages("fr", name)
    copied = [msgid for msgid, message in messages(lang, name).items()
              if msgid in french and message.string == french[msgid].string
              and msgid not in MULTILINGUAL and not is_code(str(message.string))]
    assert copied == [], f"{lang}/{name}.po repeats the French text of {copied}"


@pytest.mark.parametrize("name", CATALOGS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_translations_keep_every_placeholder(lang: str, name: str) -> None:
    changed = [(msgid, str(message.string)) for msgid, message in messages(lang, name).items()
               if message.string and fields(str(message.string)) != fields(msgid)]
    assert changed == []


@pytest.mark.parametrize(("text", "code"), [
    (" {items}.", True), ("{hours} h {minutes:02d}", True), ("SMS", True), ("{minutes} min", True),
    ("Code", False), ("alerte", False), ("Commune", False), ("Nombre: {count}.", False),
])
def test_only_placeholders_and_units_count_as_code(text: str, code: bool) -> None:
    assert is_code(text) is code


# (b) Review marks: one format, listable.

@pytest.mark.parametrize("name", CATALOGS)
@pytest.mark.parametrize("lang", TRANSLATED)
def test_unverified_marks_are_extracted_comments_with_a_reason(lang: str, name: str) -> None:
    wrong = []
    for msgid, message in messages(lang, name).items():
        marks = [c for c in message.auto_comments if "UNVERIFIED" in c.upper()]
        elsewhere = ([c for c in message.user_comments if "UNVERIFIED" in c.upper()]
                     or "UNVERIFIED" in str(message.string).upper())
        if elsewhere or any(not MARK.match(mark) for mark in marks):
            wrong.append(msgid)
    assert wrong == [], f"{lang}/{name}.po: mark these '#. UNVERIFIED: <why>': {wrong}"


def test_unverified_marks_can_be_listed_for_a_speaker() -> None:
    """What a review listing reads: the Zarma catalogs are unchecked drafts, so each holds marks."""
    for name in CATALOGS:
        listed = [msgid for msgid, message in messages("dje", name).items()
                  if any(MARK.match(comment) for comment in message.auto_comments)]
        assert listed, name


# (c) Hausa addresses people in the polite plural.

@pytest.mark.parametrize(("text", "flagged"), [
    ("An karbi bukatarka don Gabi.", True), ("Ka dauki nauyin fadakarwa K7Q2.", True),
    ("Rubuta sunan komin ka:", True), ("Mai gudanarwa zai tabbatar da kai a matsayin wakili.", True),
    ("Lambarka ba za ta iya aika rahoto ba.", True), ("Sunanka (0 don tsallake):", True),
    ("An karbi bukatarku don Gabi.", False), ("Kun dauki nauyin gargadi K7Q2.", False),
    ("Don kai rahoto: ku kira wannan lamba.", False), ("An tabbatar da kai hari a Gabi.", False),
    ("Ku aika KARYA R7K2", False),
])
def test_singular_you_markers(text: str, flagged: bool) -> None:
    assert bool(singular_you(text)) is flagged


def singular_you(text: str) -> list[str]:
    return [match.group(0) for match in SINGULAR_YOU.finditer(text) if match.group(0).lower() not in NOT_A_PRONOUN]


@pytest.mark.parametrize("name", CATALOGS)
def test_hausa_never_addresses_one_man(name: str) -> None:
    found = {msgid: singular_you(str(message.string)) for msgid, message in messages("ha", name).items()}
    assert {msgid: words for msgid, words in found.items() if words} == {}


@pytest.mark.parametrize("name", CATALOGS)
def test_hausa_uses_one_word_for_alert_and_the_niger_terms(name: str) -> None:
    found = [(msgid, term) for msgid, message in messages("ha", name).items()
             for term in HAUSA_BANNED if term in to_gsm7(str(message.string)).lower()]
    assert found == []


# (d) SMS budget with the longest values: a reply is one GSM-7 segment, an alert at most two.

@pytest.mark.parametrize(("name", "max_segments"), [("replies", 1), ("alerts", 2)])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_sms_texts_fit_their_segments_with_long_values(lang: str, name: str, max_segments: int) -> None:
    too_long = []
    for msgid in messages(lang, name):
        text = render(lang, msgid, **long_values(lang, name))
        info = measure(text)
        if info.encoding != "GSM-7" or info.segments > max_segments:
            too_long.append((info.encoding, info.units, text))
    assert too_long == []


@pytest.mark.parametrize("country", ["NE", "ML", "BF"])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_vigilance_sms_is_one_gsm7_segment(lang: str, country: str) -> None:
    """A neighbour's warning, the longest incident in the longest commune, Niger, Mali or a partner's country."""
    too_long = []
    for incident in load_taxonomy().incidents:
        text = vigilance_text(lang, VigilanceFacts("K7Q2Z", 3, incident.id, LONGEST_COMMUNE, country))
        info = measure(text)
        if info.encoding != "GSM-7" or info.segments > 1:
            too_long.append((info.encoding, info.units, text))
    assert too_long == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_ussd_texts_are_gsm7_and_fit_a_screen(lang: str) -> None:
    wrong = [str(m.string) for m in messages(lang, "ussd").values()
             if not is_gsm7(str(m.string)) or measure(str(m.string)).units > 160]
    assert wrong == []


def test_french_uses_the_accents_gsm7_carries() -> None:
    """é è à ù are in GSM-7: the French texts spell them, and never need ç or a circumflex."""
    texts = [str(m.string) for name in ("replies", "alerts", "ussd") for m in messages("fr", name).values()]
    assert all(is_gsm7(text) for text in texts)
    for unaccented in (r"\ba \{commune\}", r"\bindependant", r"\bRepondez", r"\bcomite\b", r"\bnumero\b",
                       r"\bVerifiez", r"^Ou\?", r"\bprecoce", r"\b(?:recue?|annulee?|deja|ete)\b"):
        assert not any(re.search(unaccented, text) for text in texts), unaccented
    # "de attaque", "le enlevement": a word that elides cannot stand before a value that may start with a vowel.
    eliding = [text for text in texts if re.search(r"\b(?:de|le|la|que|ce|se|ne) \{(?:incident|commune|area)\}", text)]
    assert eliding == []
