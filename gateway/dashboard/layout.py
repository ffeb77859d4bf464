"""The page frame, texts (locales/<lang>/LC_MESSAGES/dashboard.po) and value formatting."""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta, tzinfo
from functools import lru_cache
from html import escape
from pathlib import Path
from string import Template

from gateway.kernel.i18n import LANGUAGES, render
from gateway.kernel.localtime import local, offset_label, zone_of

TEMPLATES = Path(__file__).resolve().parent / "templates"
PAGES = (("/dashboard", "Situation"), ("/dashboard/reports", "Reports"), ("/dashboard/review", "Review queue"),
         ("/dashboard/focal-points", "Silent focal points"), ("/dashboard/delivery", "Delivery and cost"),
         ("/dashboard/response-times", "Response times"),
         ("/dashboard/people", "People"), ("/dashboard/silences", "Silences"), ("/dashboard/broadcasts", "Broadcasts"),
         ("/dashboard/spend", "SMS spend"))
OPERATOR_PAGES = (("/dashboard/suggestions", "Lexicon suggestions"),)  # viewers do not decide on words
ADMIN_PAGES = (("/dashboard/audit", "Audit trail"), ("/dashboard/tokens", "API tokens"))
NIGER_TIME = zone_of("NE")
LANGUAGE_NAMES = {"fr": "Français", "ha": "Hausa", "dje": "Zarma"}


@lru_cache(maxsize=8)
def template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text(encoding="utf-8"))


class Texts:
    """`t("msgid", name=value)`: the text in the page's language (French when not translated), HTML-escaped."""

    def __init__(self, lang: str, where: tzinfo = NIGER_TIME):
        self.lang = lang if lang in LANGUAGES else "fr"
        self.where = where  # the deployment's zone: every time shown is in it

    def when(self, value: datetime | None) -> str:
        """A stored time in the deployment's zone, with its offset ("2026-03-01 09:00 UTC+1")."""
        if value is None:
            return "—"
        shown = local(value, self.where)
        return f"{shown:%Y-%m-%d %H:%M} {offset_label(shown)}"

    def __call__(self, msgid: str, **values: object) -> str:
        return escape(render(self.lang, msgid, **values))

    def duration(self, delta: timedelta | None) -> str:
        if delta is None:
            return "—"
        minutes = max(int(delta.total_seconds() // 60), 0)
        if minutes < 60:
            return self("{minutes} min", minutes=minutes)
        if minutes < 48 * 60:
            return self("{hours} h {minutes:02d}", hours=minutes // 60, minutes=minutes % 60)
        return self("{days} d {hours} h", days=minutes // 1440, hours=minutes % 1440 // 60)

    def median(self, delays: list[timedelta]) -> str:
        if not delays:
            return "—"
        return self.duration(timedelta(seconds=statistics.median(d.total_seconds() for d in delays)))


def page(t: Texts, title_msgid: str, body: str, path: str, csrf: str | None, role: str | None = None) -> str:
    shown = PAGES + (OPERATOR_PAGES if role in ("admin", "operator") else ()) + (ADMIN_PAGES if role == "admin" else ())
    nav = "".join(f'<a href="{href}"{" class=current" if href == path else ""}>{t(label)}</a>'
                  for href, label in shown) if csrf else ""
    langs = "".join(f'<a href="?lang={code}" lang="{code}">{escape(name)}</a>' for code, name in LANGUAGE_NAMES.items())
    logout = (f'<form method="post" action="/dashboard/logout"><input type="hidden" name="csrf" value="{csrf}">'
              f'<button type="submit">{t("Log out")}</button></form>') if csrf else ""
    return template("layout.html").substitute(
        lang=t.lang, title=t(title_msgid), app_name=t("Early warning observatory"), nav=nav, langs=langs,
        logout=logout, body=body, footer=t("Reporters are shown as pseudonyms; every action is in the audit trail."))
