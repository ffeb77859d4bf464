"""Page bodies of the audit trail, the API tokens and the silences in force. Values escaped here."""

from __future__ import annotations

from datetime import datetime
from html import escape

from gateway.dashboard.audit import ACTIONS, AuditFilter
from gateway.dashboard.layout import Texts
from gateway.dashboard.users import ROLES
from gateway.kernel.localtime import local, zone_label
from gateway.storage.models import AlertSilence, ApiToken, AuditEntry


def _hidden(csrf: str) -> str:
    return f'<input type="hidden" name="csrf" value="{csrf}">'


def audit_body(t: Texts, rows: list[AuditEntry], where: AuditFilter, limit: int) -> str:
    actions = "".join(f'<option value="{a}"{" selected" if a == where.action else ""}>{escape(a)}</option>'
                      for a in ACTIONS)

    def day(value: datetime | None) -> str:
        return f"{local(value, t.where):%Y-%m-%d}" if value else ""

    offset = zone_label(t.where)  # the filters' days are the deployment's, as the times listed

    form = (f'<form method="get" class="filters"><label>{t("Who")} <input name="actor" value="{escape(where.actor or "")}">'
            f'</label><label>{t("Action")} <select name="action"><option value="">{t("all")}</option>{actions}</select>'
            f'</label><label>{t("Target contains")} <input name="target" value="{escape(where.target or "")}"></label>'
            f'<label>{t("From ({offset})", offset=offset)} <input type="date" name="since" value="{day(where.since)}"></label>'
            f'<label>{t("Before ({offset})", offset=offset)} <input type="date" name="until" value="{day(where.until)}"></label>'
            f'<button type="submit">{t("Show")}</button></form>')
    body = "".join(
        f'<tr class="audit" data-action="{escape(r.action)}"><td>{t.when(r.at)}</td><td>{escape(r.actor)}</td>'
        f"<td>{escape(r.action)}</td><td>{escape(r.target or '')}</td><td>{escape(r.detail or '')}</td>"
        f"<td>{escape(r.address or '')}</td></tr>" for r in rows)
    table = (f'<table id="audit"><tr><th>{t("When")}</th><th>{t("Who")}</th><th>{t("Action")}</th>'
             f'<th>{t("Target")}</th><th>{t("Details")}</th><th>{t("From")}</th></tr>{body}</table>'
             if rows else f"<p>{t('Nothing recorded for these filters.')}</p>")
    more = f"<p class='hint'>{t('The newest {n} rows are shown.', n=limit)}</p>" if len(rows) >= limit else ""
    return (f"<p>{t('Every action by a person, newest first. Rows are never changed nor deleted.')}</p>"
            + form + table + more)


def tokens_body(t: Texts, tokens: list[ApiToken], csrf: str, now: datetime, new_token: str | None,
                notice: str | None) -> str:
    def state(token: ApiToken) -> str:
        if token.revoked_at:
            return "revoked"
        return "expired" if token.expires_at and token.expires_at <= now else "active"

    rows = "".join(
        f'<tr class="token" data-name="{escape(k.name)}" data-state="{state(k)}"><td>{escape(k.name)}</td>'
        f"<td>{t(k.role)}</td><td>{escape(', '.join(k.scope) if k.scope is not None else t('everywhere'))}</td>"
        f"<td>{t.when(k.created_at)}</td><td>{t.when(k.expires_at)}</td><td>{t(state(k))}</td><td>"
        + (f'<form class="inline" method="post" action="/dashboard/tokens/revoke">{_hidden(csrf)}'
           f'<input type="hidden" name="name" value="{escape(k.name)}"><button type="submit">{t("Revoke")}</button></form>'
           if state(k) == "active" else "") + "</td></tr>" for k in tokens)
    roles = "".join(f'<option value="{r}"{" selected" if r == "viewer" else ""}>{t(r)}</option>' for r in ROLES)
    shown = ""
    if new_token:
        shown = (f'<p class="notice">{t("The new token, shown only now: give it to the partner.")}<br>'
                 f'<code id="new-token">{escape(new_token)}</code></p>')
    elif notice:
        shown = f'<p class="notice">{t(notice)}</p>'
    form = (f'<form id="add-token" class="action" method="post" action="/dashboard/tokens">{_hidden(csrf)}'
            f'<h3>{t("New token")}</h3><label>{t("Partner")} <input name="name" maxlength="64" required></label>'
            f'<label>{t("Role")} <select name="role">{roles}</select></label>'
            f'<label>{t("Scope (names or P-codes, comma-separated; empty: everywhere)")} <input name="scope"></label>'
            f'<label>{t("Days before it expires")} <input type="number" name="days" min="1" max="3650" value="365"></label>'
            f'<button type="submit">{t("Make the token")}</button></form>')
    table = (f'<table id="tokens"><tr><th>{t("Partner")}</th><th>{t("Role")}</th><th>{t("Scope")}</th>'
             f'<th>{t("Created")}</th><th>{t("Expires")}</th><th>{t("State")}</th><th></th></tr>{rows}</table>'
             if tokens else f"<p>{t('No partner token yet.')}</p>")
    return (shown + f"<p>{t('Each partner has its own token; only its hash is kept. The deployment token (api.token) is not listed.')}</p>"
            + table + form)


def silences_body(t: Texts, silences: list[AlertSilence], csrf: str, can_act: bool, notice: str | None) -> str:
    rows = "".join(
        f'<tr class="silence"><td>{escape(s.area_pcode)}</td><td>{escape(s.incident or "*")}</td>'
        f"<td>{t.when(s.until)}</td><td>{escape(s.reason)}</td><td>{escape(s.created_by)}</td><td>"
        + (f'<form class="inline" method="post" action="/dashboard/silences/{s.id}/lift">{_hidden(csrf)}'
           f'<button type="submit">{t("Lift")}</button></form>' if can_act else "") + "</td></tr>"
        for s in silences)
    shown = f'<p class="notice">{t(notice)}</p>' if notice else ""
    return (shown + f"<p>{t('Silences set on the dashboard that still hold; those of the rule files (rules/silences.toml) apply too.')}</p>"
            + (f'<table id="silences"><tr><th>{t("Area")}</th><th>{t("Incident")}</th><th>{t("Until")}</th>'
               f'<th>{t("Reason")}</th><th>{t("By")}</th><th></th></tr>{rows}</table>' if silences
               else f"<p>{t('No silence in force.')}</p>"))
