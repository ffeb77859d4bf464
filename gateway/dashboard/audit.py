"""The audit trail (table audit_log): every action by a person, who, what, when and from where.
Rows are only inserted (the schema's triggers refuse updates and deletes). A target names a record
(an alert code, a reporter's id, a token's name), never a phone number."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.storage.models import AuditEntry

ACTIONS = ("login", "login_refused", "logout", "reveal", "approve", "block", "edit", "move", "member_add",
           "member_retire", "acknowledge", "resolve", "note", "silence", "silence_lift", "label",
           "token_add", "token_revoke", "export", "backup", "broadcast", "broadcast_approve",
           "broadcast_cancel", "lexicon_accept", "lexicon_reject")
PAGE_SIZE = 200


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def record(session: AsyncSession, at: datetime, actor: str, action: str, target: str | None = None,
                 detail: str | None = None, address: str | None = None) -> None:
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    await session.execute(insert(AuditEntry).values(
        at=at, actor=actor[:80], action=action, target=target[:120] if target else None,
        detail=detail[:300] if detail else None, address=address[:64] if address else None))


async def entries(session: AsyncSession, where: AuditFilter, limit: int = PAGE_SIZE) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    if where.actor:
        query = query.where(AuditEntry.actor == where.actor)
    if where.action:
        query = query.where(AuditEntry.action == where.action)
    if where.target:
        query = query.where(AuditEntry.target.contains(where.target, autoescape=True))
    if where.since:
        query = query.where(AuditEntry.at >= where.since)
    if where.until:
        query = query.where(AuditEntry.at < where.until)
    return list((await session.execute(query)).scalars())
