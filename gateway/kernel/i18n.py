"""Reply and alert texts from gettext catalogs (locales/<lang>/LC_MESSAGES/*.po).

Catalogs are read straight from the .po files with Babel, so a translator's edit
needs no compile step. Every .po file of a language is merged (replies, alerts,
ussd each keep their own file). Lookup falls back to French, then to the msgid.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from babel.messages.pofile import read_po

from gateway import PROJECT_ROOT

LANGUAGES = ("fr", "ha", "dje")
FALLBACK = "fr"
DEFAULT_LOCALES_DIR = PROJECT_ROOT / "locales"


def normalise_lang(lang: str | None) -> str:
    """Map anything a user may type or store ('FR', 'zarma', 'hausa', None) to fr/ha/dje."""
    if not lang:
        return FALLBACK
    key = lang.strip().lower()
    aliases = {"fr": "fr", "fra": "fr", "francais": "fr", "français": "fr", "french": "fr",
               "ha": "ha", "hau": "ha", "hausa": "ha", "haoussa": "ha",
               "dje": "dje", "zarma": "dje", "djerma": "dje", "zar": "dje", "dj": "dje"}
    return aliases.get(key, FALLBACK)


@dataclass(frozen=True)
class Catalog:
    lang: str
    messages: dict[str, str]


def load_catalog(lang: str, locales_dir: Path = DEFAULT_LOCALES_DIR) -> Catalog:
    messages: dict[str, str] = {}
    for po_path in sorted((locales_dir / lang / "LC_MESSAGES").glob("*.po")):
        with po_path.open("rb") as handle:
            catalog = read_po(handle, locale=None)
        for message in catalog:
            if message.id and message.string and not message.fuzzy:
                messages[str(message.id)] = str(message.string)
    return Catalog(lang, messages)


@lru_cache(maxsize=16)
def _catalogs(locales_dir: Path) -> dict[str, Catalog]:
    return {lang: load_catalog(lang, locales_dir) for lang in LANGUAGES}


def gettext(lang: str | None, msgid: str, locales_dir: Path = DEFAULT_LOCALES_DIR) -> str:
    catalogs = _catalogs(locales_dir)
    lang = normalise_lang(lang)
    for candidate in (lang, FALLBACK):
        text = catalogs[candidate].messages.get(msgid)
        if text:
            return text
    return msgid


def render(lang: str | None, msgid: str, **values: object) -> str:
    """Translate msgid into lang and fill its {placeholders}."""
    return gettext(lang, msgid).format(**values)


def has_translation(lang: str, msgid: str, locales_dir: Path = DEFAULT_LOCALES_DIR) -> bool:
    return msgid in _catalogs(locales_dir)[normalise_lang(lang)].messages
