"""The broadcast pages (list and new broadcast, preview, one broadcast with its delivery), the SMS
spend page, and the budget banner. Server-rendered forms, no script: the preview shows the count
per language, the segments and the estimate before the Send button appears."""

from __future__ import annotations

from html import escape

from gateway.dashboard.broadcasts import AUDIENCES, DELIVERY, Plan
from gateway.dashboard.layout import Texts
from gateway.kernel.i18n import LANGUAGES
from gateway.storage.models import Broadcast
from gateway.storage.spend import WARN_AT, Budget, SpendLine

LANGUAGE_LABELS = {"fr": "French text", "ha": "Hausa text", "dje": "Zarma text"}
AUDIENCE_LABELS = {"focal_points": "Focal points", "committees": "Committee members"}
STATUS_LABELS = {"awaiting_approval": "awaiting approval", "queued": "queued", "cancelled": "cancelled"}
DELIVERY_LABELS = {"pending": "waiting to leave", "sent": "sent", "delivered": "delivered", "failed": "failed",
                   "stopped": "stopped: monthly budget reached"}
FACTS = ("Area", "To", "Status", "Recipients", "Estimated cost", "Spent", "Written by", "Approved by", "Queued",
         "Expires")
NOTICES = {"queued": "Broadcast queued: its SMS leave after alerts and replies.",
           "waiting": "Broadcast saved: it waits for another operator's approval.",
           "approved": "Approved: the broadcast is queued.", "cancelled": "Broadcast cancelled."}


def _hidden(csrf: str) -> str:
    return f'<input type="hidden" name="csrf" value="{csrf}">'


def budget_banner(t: Texts, budget: Budget) -> str:
    """A warning once the month's spend reaches WARN_AT of the budget; nothing without a budget."""
    if not budget.warning:
        return ""
    values = {"spent": f"{budget.spent:.0f}", "budget": f"{budget.budget:.0f}", "currency": budget.currency,
              "share": f"{budget.share * 100:.0f}"}
    text = (t("Monthly SMS budget spent: {spent} of {budget} {currency}. Broadcasts are stopped; alerts and replies still leave.", **values)
            if budget.exhausted
            else t("Monthly SMS budget: {share}% used ({spent} of {budget} {currency}).", **values))
    return f'<p class="budget-warning" role="alert">{text}</p>'


def _form(t: Texts, csrf: str, area: str, audience: str, texts: dict[str, str], plan: Plan | None) -> str:
    audiences = "".join(f'<option value="{a}"{" selected" if a == audience else ""}>{t(AUDIENCE_LABELS[a])}</option>'
                        for a in AUDIENCES)
    boxes = ""
    for lang in LANGUAGES:
        readers = plan.recipients.get(lang, 0) if plan else None
        count = f' <small class="hint">{t("{n} recipients", n=readers)}</small>' if readers is not None else ""
        boxes += (f'<label>{t(LANGUAGE_LABELS[lang])}{count}<textarea name="text_{lang}" rows="3" maxlength="1000">'
                  f'{escape(texts.get(lang, ""))}</textarea></label>')
    send = (f'<button type="submit" name="step" value="send" formaction="/dashboard/broadcasts">{t("Send")}</button>'
            if plan is not None and not plan.problems else "")
    return (f'<form id="new-broadcast" class="action" method="post" action="/dashboard/broadcasts/preview">'
            f'{_hidden(csrf)}<h3>{t("New broadcast")}</h3>'
            f'<label>{t("Area")} <input name="area" value="{escape(area)}" placeholder="{t("area (name or P-code)")}" '
            f'required></label><label>{t("To")} <select name="audience">{audiences}</select></label>{boxes}'
            f'<p class="hint">{t("Write the text once in each language its recipients read.")}</p>'
            f'<div><button type="submit" name="step" value="preview">{t("Preview")}</button> {send}</div></form>')


def preview_body(t: Texts, csrf: str, area: str, audience: str, texts: dict[str, str], plan: Plan,
                 threshold: int, error: str | None) -> str:
    rows = "".join(
        f'<tr class="language" data-lang="{lang}"><td>{t(LANGUAGE_LABELS[lang])}</td><td>{plan.recipients.get(lang, 0)}</td>'
        f"<td>{plan.segments.get(lang, '—')}</td><td>{escape(plan.encodings.get(lang, ''))}</td></tr>"
        for lang in LANGUAGES if plan.recipients.get(lang) or plan.texts.get(lang))
    facts = (f'<table id="plan"><tr><th>{t("Language")}</th><th>{t("Recipients")}</th><th>{t("Segments")}</th>'
             f'<th>{t("Encoding")}</th></tr>{rows}</table>'
             f'<p id="estimate">{t("{n} recipients in {area}; estimated cost {cost} {currency}.", n=plan.total, area=plan.area_name, cost=f"{plan.estimate:.0f}", currency=plan.currency)}</p>')
    if plan.total > threshold:
        facts += f'<p class="hint" id="needs-approval">{t("More than {n} recipients: another operator must approve it before it leaves.", n=threshold)}</p>'
    problems = list(plan.problems) + ([error] if error else [])
    shown = (f'<div class="error" id="problems"><p>{t("Not ready to send:")}</p><ul>'
             + "".join(f"<li>{escape(p)}</li>" for p in problems) + "</ul></div>") if problems else ""
    return (f'<p><a href="/dashboard/broadcasts">← {t("Broadcasts")}</a></p>{shown}{facts}'
            + _form(t, csrf, area, audience, texts, plan))


def list_body(t: Texts, rows: list[Broadcast], names: dict[str, str], csrf: str, can_act: bool, banner: str) -> str:
    lines = "".join(
        f'<tr class="broadcast" data-id="{b.id}" data-status="{b.status}"><td><a href="/dashboard/broadcasts/{b.id}">'
        f"#{b.id}</a></td><td>{t.when(b.created_at)}</td><td>{escape(names.get(b.area_pcode, b.area_pcode))}</td>"
        f"<td>{t(AUDIENCE_LABELS.get(b.audience, b.audience))}</td><td>{b.recipients}</td>"
        f"<td>{t(STATUS_LABELS.get(b.status, b.status))}</td><td>{escape(b.created_by)}</td></tr>" for b in rows)
    table = (f'<table id="broadcasts"><tr><th></th><th>{t("Created")}</th><th>{t("Area")}</th><th>{t("To")}</th>'
             f'<th>{t("Recipients")}</th><th>{t("Status")}</th><th>{t("By")}</th></tr>{lines}</table>'
             if rows else f"<p>{t('No broadcast yet.')}</p>")
    return banner + table + (_form(t, csrf, "", "committees", {}, None) if can_act else "")


def detail_body(t: Texts, row: Broadcast, area_name: str, delivered: dict[str, int], spent: float, currency: str,
                csrf: str, viewer: str, can_act: bool, notice: str | None, banner: str) -> str:
    values = (f"{escape(area_name)} <small>{escape(row.area_pcode)}</small>",
              t(AUDIENCE_LABELS.get(row.audience, row.audience)),
              f'<span id="broadcast-status">{t(STATUS_LABELS.get(row.status, row.status))}</span>',
              str(row.recipients), f"{row.estimated_cost:.0f} {escape(currency)}", f"{spent:.0f} {escape(currency)}",
              f"{escape(row.created_by)}, {t.when(row.created_at)}",
              f"{escape(row.approved_by)}, {t.when(row.approved_at)}" if row.approved_by else "—",
              t.when(row.queued_at), t.when(row.expires_at))
    facts = "".join(f"<tr><th>{t(label)}</th><td>{value}</td></tr>" for label, value in zip(FACTS, values, strict=True))
    texts = "".join(f'<tr data-lang="{lang}"><th>{t(LANGUAGE_LABELS[lang])}</th><td>{escape(text)}</td></tr>'
                    for lang, text in sorted(row.texts.items()))
    counts = "".join(f'<tr class="delivery" data-state="{state}"><td>{t(DELIVERY_LABELS[state])}</td>'
                     f"<td>{delivered[state]}</td></tr>" for state in DELIVERY)
    actions = ""
    if row.status == "awaiting_approval" and can_act:
        if viewer != row.created_by:
            actions += (f'<form id="approve" class="action" method="post" action="/dashboard/broadcasts/{row.id}/approve">'
                        f'{_hidden(csrf)}<button type="submit">{t("Approve and send")}</button></form>')
        else:
            actions += f'<p class="hint" id="own-broadcast">{t("Another operator or admin must approve your broadcast.")}</p>'
        actions += (f'<form id="cancel" class="action" method="post" action="/dashboard/broadcasts/{row.id}/cancel">'
                    f'{_hidden(csrf)}<button type="submit">{t("Cancel the broadcast")}</button></form>')
    shown = f'<p class="notice">{t(notice)}</p>' if notice else ""
    return (shown + banner + f'<p><a href="/dashboard/broadcasts">← {t("Broadcasts")}</a></p>'
            f'<table class="facts" id="broadcast">{facts}</table><h2>{t("Texts")}</h2><table class="facts">{texts}</table>'
            f'<h2>{t("Delivery")}</h2><table id="delivery" class="facts">{counts}</table>'
            f'<div class="actions">{actions}</div>')


def spend_body(t: Texts, lines: list[SpendLine], budget: Budget, days: int) -> str:
    rows = "".join(f'<tr class="spend" data-provider="{escape(s.provider)}"><td>{s.day:%Y-%m-%d}</td>'
                   f"<td>{escape(s.provider)}</td><td>{s.sms}</td><td>{s.segments}</td>"
                   f"<td>{s.amount:.2f} {escape(budget.currency)}</td></tr>" for s in lines)
    month = (t("This month: {spent} {currency} of a budget of {budget} {currency} ({share}%); a warning at {warn}%, broadcasts stop at 100%.",
               spent=f"{budget.spent:.0f}", budget=f"{budget.budget:.0f}", currency=budget.currency,
               share=f"{budget.share * 100:.0f}", warn=f"{WARN_AT * 100:.0f}")
             if budget.budget > 0 else t("This month: {spent} {currency}; no monthly budget is set.",
                                         spent=f"{budget.spent:.0f}", currency=budget.currency))
    table = (f'<table id="spend"><tr><th>{t("Day (UTC)")}</th><th>{t("Provider")}</th><th>{t("SMS")}</th>'
             f'<th>{t("Segments")}</th><th>{t("Cost")}</th></tr>{rows}</table>'
             if lines else f"<p>{t('Nothing spent in the last {days} days.', days=days)}</p>")
    return budget_banner(t, budget) + f'<p id="month">{month}</p>' + table
