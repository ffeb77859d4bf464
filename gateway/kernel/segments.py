"""How many SMS segments a text costs: GSM-7 (160/153) or UCS-2 (70/67)."""

from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Characters of the extension table cost two septets (escape + char).
GSM7_EXTENDED = set("^{}\\[~]|€\f")


@dataclass(frozen=True)
class SegmentInfo:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int


GSM7 = frozenset(GSM7_BASIC | GSM7_EXTENDED)


def is_gsm7(text: str) -> bool:
    return GSM7.issuperset(text)


def measure(text: str) -> SegmentInfo:
    if is_gsm7(text):
        units = len(text) + sum(text.count(ch) for ch in GSM7_EXTENDED if ch in text)
        single, multi = 160, 153
        encoding = "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi = 70, 67
        encoding = "UCS-2"
    segments = 1 if units <= single else -(-units // multi)
    return SegmentInfo(encoding, units, max(segments, 1))


def segment_count(text: str) -> int:
    return measure(text).segments


_GSM_FRIENDLY = str.maketrans({
    "ê": "e", "ë": "e", "â": "a", "á": "a", "ô": "o", "ó": "o", "î": "i", "ï": "i", "í": "i",
    "û": "u", "ú": "u", "ç": "c", "É": "E", "È": "E", "Ê": "E", "À": "A", "Â": "A", "Î": "I",
    "Ô": "O", "Û": "U", "’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "...",
    "ɓ": "b", "ɗ": "d", "ƙ": "k", "ƴ": "y", "Ɓ": "B", "Ɗ": "D", "Ƙ": "K", "Ƴ": "Y", "ŋ": "n",
    "ɲ": "ny", "ɛ": "e", "ɔ": "o", "ã": "a", "õ": "o",
})


def to_gsm7(text: str) -> str:
    """Replace the usual non-GSM letters (French accents, Hausa hooked letters) so a
    variable value (a commune name) cannot flip a whole SMS to UCS-2."""
    return text.translate(_GSM_FRIENDLY)
