"""The lexicon suggestions page: the words labelled in the review queue that wait for an operator,
each with Accept (the word joins the parser's lexicon at once) and Reject."""

from __future__ import annotations

from html import escape

from gateway.dashboard.layout import Texts
from gateway.dashboard.suggestions import Pending
from gateway.kernel.taxonomy import Taxonomy


def suggestions_body(t: Texts, taxonomy: Taxonomy, items: list[Pending], csrf: str, notice: str | None) -> str:
    labels = {i.id: i.label(t.lang) for i in taxonomy.incidents}
    rows = "".join(
        f'<tr data-suggestion="{s.index}"><td><code>{escape(s.word)}</code></td><td>{escape(s.lang)}</td>'
        f"<td>{escape(labels.get(s.incident, s.incident))}</td><td>{s.message_id}</td><td>"
        f'<form method="post" action="/dashboard/suggestions/{s.index}"><input type="hidden" name="csrf" value="{csrf}">'
        f'<input type="hidden" name="word" value="{escape(s.word)}">'
        f'<button type="submit" name="decision" value="accept">{t("Accept")}</button> '
        f'<button type="submit" name="decision" value="reject">{t("Reject")}</button></form></td></tr>'
        for s in items)
    shown = f'<p class="notice">{t(notice)}</p>' if notice else ""
    return shown + (f"<p>{t('Words suggested in the review queue. An accepted word is added to the local lexicon file and understood in the next SMS; the shipped lexicon is not changed.')}</p>"
                    + (f'<table id="suggestions"><tr><th>{t("Word")}</th><th>{t("Language")}</th>'
                       f'<th>{t("Incident")}</th><th>{t("Message")}</th><th>{t("Decision")}</th></tr>{rows}</table>'
                       if items else f"<p>{t('No suggestion waiting.')}</p>"))
