"""People on the dashboard: focal points (approve, block, edit, move to another commune) and committee
members (add, retire, move), within the user's scope. Numbers are masked; an admin may reveal one,
which the caller records in the audit trail. Approving a registration queues the villager's welcome
SMS in their language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.dashboard.layout import Texts
from gateway.dashboard.scope import Scope
from gateway.kernel.i18n import LANGUAGES, render
from gateway.kernel.phones import mask_phone, sender_key
from gateway.storage.models import AdminUnit, CommitteeMember, Reporter
from gateway.storage.outbox import PRIORITY_NOTICE, OutboundSms, enqueue

STATUSES = ("pending", "approved", "blocked")
MEMBER_ROLES = ("member", "chair", "authority")
WELCOME = "Welcome! You are now a focal point for {commune}. To report, send: INCIDENT PLACE NUMBER. Help: AIDE"
MAX_PLACE = 24  # as a reply cuts a place name: the welcome stays one SMS


@dataclass(frozen=True)
class PersonLine:
    id: int
    pseudonym: str
    masked_phone: str
    name: str | None
    commune_pcode: str | None
    commune: str | None
    lang: str
    status: str
    created_at: datetime
    last_report_at: datetime | None


@dataclass(frozen=True)
class MemberLine:
    id: int
    masked_phone: str
    name: str | None
    area_pcode: str
    area: str | None
    role: str
    lang: str


async def focal_points(session: AsyncSession, scope: Scope, secret: str, status: str | None) -> list[PersonLine]:
    query = (select(Reporter, AdminUnit.name).outerjoin(AdminUnit, AdminUnit.pcode == Reporter.commune_pcode)
             .where(Reporter.status.in_((status,) if status else STATUSES))
             .order_by(Reporter.status != "pending", AdminUnit.name, Reporter.id).limit(500))
    if (inside := scope.where(Reporter.commune_pcode)) is not None:
        query = query.where(inside)
    return [PersonLine(r.id, sender_key(r.phone, secret), mask_phone(r.phone), r.name, r.commune_pcode, commune,
                       r.lang, r.status, r.created_at, r.last_report_at) for r, commune in await session.execute(query)]


async def members(session: AsyncSession, scope: Scope) -> list[MemberLine]:
    query = (select(CommitteeMember, AdminUnit.name).outerjoin(AdminUnit, AdminUnit.pcode == CommitteeMember.area_pcode)
             .where(CommitteeMember.active.is_(True)).order_by(CommitteeMember.area_pcode, CommitteeMember.id).limit(500))
    if (inside := scope.where(CommitteeMember.area_pcode)) is not None:
        query = query.where(inside)
    return [MemberLine(m.id, mask_phone(m.phone), m.name, m.area_pcode, area, m.role, m.lang)
            for m, area in await session.execute(query)]


async def visible_reporter(session: AsyncSession, reporter_id: int, scope: Scope) -> Reporter | None:
    reporter = await session.get(Reporter, reporter_id)
    if reporter is None or reporter.status == "unregistered" or not scope.covers(reporter.commune_pcode):
        return None
    return reporter


async def visible_member(session: AsyncSession, member_id: int, scope: Scope) -> CommitteeMember | None:
    member = await session.get(CommitteeMember, member_id)
    if member is None or not member.active or not scope.covers(member.area_pcode):
        return None
    return member


def welcome_text(lang: str, commune: str) -> str:
    return render(lang, WELCOME, commune=commune.strip()[:MAX_PLACE])


async def approve(session: AsyncSession, reporter: Reporter, now: datetime) -> bool:
    """Approves; a first approval queues the welcome SMS (once per person, whatever is clicked twice).
    Returns whether a welcome was queued."""
    was = reporter.status
    reporter.status = "approved"
    if was == "approved":
        return False
    unit = await session.get(AdminUnit, reporter.commune_pcode) if reporter.commune_pcode else None
    sms = OutboundSms(dedup_key=f"welcome:{reporter.id}", kind="reply", recipient=reporter.phone,
                      body=welcome_text(reporter.lang, unit.name if unit else reporter.commune_pcode or ""),
                      priority=PRIORITY_NOTICE)
    return bool(await enqueue(session, [sms], now))


async def unit(session: AsyncSession, pcode: str) -> AdminUnit | None:
    return await session.get(AdminUnit, pcode)


async def member_at(session: AsyncSession, phone: str, area: str) -> CommitteeMember:
    return (await session.execute(select(CommitteeMember).where(
        CommitteeMember.phone == phone, CommitteeMember.area_pcode == area))).scalar_one()


def _hidden(csrf: str) -> str:
    return f'<input type="hidden" name="csrf" value="{csrf}">'


def _langs(selected: str) -> str:
    return "".join(f'<option value="{code}"{" selected" if code == selected else ""}>{code}</option>'
                   for code in LANGUAGES)


def people_body(t: Texts, people: list[PersonLine], committee: list[MemberLine], csrf: str, can_act: bool,
                status: str | None, notice: str | None) -> str:
    filters = "".join(f'<a href="/dashboard/people?status={s}"{" class=current" if s == status else ""}>{t(s)}</a> '
                      for s in STATUSES)
    rows = []
    for p in people:
        buttons = ""
        if can_act:
            for verb, label, wanted in (("approve", "Approve", "approved"), ("block", "Block", "blocked")):
                if p.status != wanted:
                    buttons += (f'<form class="inline" method="post" action="/dashboard/people/{p.id}/{verb}">'
                                f'{_hidden(csrf)}<button type="submit" name="do" value="{verb}">{t(label)}</button></form>')
        rows.append(
            f'<tr class="person" data-id="{p.id}" data-status="{escape(p.status)}"><td><code>{escape(p.pseudonym)}</code></td>'
            f"<td>{escape(p.masked_phone)}</td><td>{escape(p.name or '')}</td><td>{escape(p.commune or '?')}</td>"
            f"<td>{escape(p.lang)}</td><td>{t(p.status)}</td><td>{t.when(p.created_at)}</td><td>{t.when(p.last_report_at)}</td>"
            f'<td>{buttons}<a href="/dashboard/people/{p.id}">{t("Details")}</a></td></tr>')
    people_table = (f'<table id="focal-points"><tr><th>{t("Pseudonym")}</th><th>{t("Number (masked)")}</th>'
                    f'<th>{t("Name")}</th><th>{t("Commune")}</th><th>{t("Language")}</th><th>{t("Status")}</th>'
                    f'<th>{t("Registered")}</th><th>{t("Last report")}</th><th></th></tr>{"".join(rows)}</table>'
                    if people else f"<p>{t('Nobody here.')}</p>")
    member_rows = "".join(
        f'<tr class="member" data-id="{m.id}"><td>{escape(m.masked_phone)}</td><td>{escape(m.name or "")}</td>'
        f"<td>{escape(m.area or m.area_pcode)} <small>{escape(m.area_pcode)}</small></td><td>{t(m.role)}</td>"
        f"<td>{escape(m.lang)}</td><td>"
        + (f'<form class="inline" method="post" action="/dashboard/members/{m.id}/move">{_hidden(csrf)}'
           f'<input name="area" size="12" placeholder="{t("area (name or P-code)")}" required>'
           f'<button type="submit">{t("Move")}</button></form>'
           f'<form class="inline" method="post" action="/dashboard/members/{m.id}/retire">{_hidden(csrf)}'
           f'<button type="submit">{t("Retire")}</button></form>' if can_act else "")
        + "</td></tr>" for m in committee)
    add_member = (
        f'<form id="add-member" class="action" method="post" action="/dashboard/members">{_hidden(csrf)}'
        f'<h3>{t("Add a committee member")}</h3><label>{t("Phone")} <input name="phone" required></label>'
        f'<label>{t("Name")} <input name="name" maxlength="120"></label>'
        f'<label>{t("Area")} <input name="area" placeholder="{t("area (name or P-code)")}" required></label>'
        f'<label>{t("Role")} <select name="role">'
        + "".join(f'<option value="{r}">{t(r)}</option>' for r in MEMBER_ROLES)
        + f'</select></label><label>{t("Language")} <select name="lang">{_langs("fr")}</select></label>'
        f'<button type="submit">{t("Add")}</button></form>') if can_act else ""
    shown = f'<p class="notice">{t(notice)}</p>' if notice else ""
    return (shown + f'<h2>{t("Focal points")}</h2><p>{t("Show")}: {filters}'
            f'<a href="/dashboard/people">{t("all")}</a></p>{people_table}'
            f'<h2>{t("Committee members")}</h2>'
            + (f'<table id="members"><tr><th>{t("Number (masked)")}</th><th>{t("Name")}</th><th>{t("Area")}</th>'
               f'<th>{t("Role")}</th><th>{t("Language")}</th><th></th></tr>{member_rows}</table>'
               if committee else f"<p>{t('Nobody here.')}</p>") + add_member)


def person_body(t: Texts, person: PersonLine, csrf: str, can_act: bool, is_admin: bool,
                revealed: str | None, notice: str | None) -> str:
    number = (f'<b id="revealed">{escape(revealed)}</b>' if revealed else escape(person.masked_phone))
    reveal = (f'<form class="inline" method="post" action="/dashboard/people/{person.id}/reveal">{_hidden(csrf)}'
              f'<button type="submit">{t("Reveal the number")}</button></form>'
              f'<small class="hint"> {t("Each reveal is recorded in the audit trail.")}</small>'
              if is_admin and not revealed else "")
    facts = "".join(f"<tr><th>{t(label)}</th><td>{value}</td></tr>" for label, value in (
        ("Pseudonym", f"<code>{escape(person.pseudonym)}</code>"), ("Number", number + reveal),
        ("Status", t(person.status)), ("Registered", t.when(person.created_at)),
        ("Last report", t.when(person.last_report_at))))
    edit = (
        f'<form id="edit-person" class="action" method="post" action="/dashboard/people/{person.id}/edit">{_hidden(csrf)}'
        f'<h3>{t("Edit")}</h3><label>{t("Name")} <input name="name" maxlength="120" value="{escape(person.name or "")}">'
        f'</label><label>{t("Language")} <select name="lang">{_langs(person.lang)}</select></label>'
        f'<label>{t("Commune (name or P-code)")} <input name="commune" value="{escape(person.commune_pcode or "")}" '
        f'required></label><button type="submit">{t("Save")}</button></form>') if can_act else ""
    shown = f'<p class="notice">{t(notice)}</p>' if notice else ""
    return (shown + f'<p><a href="/dashboard/people">← {t("People")}</a></p>'
            f'<table class="facts">{facts}</table>{edit}')
