"""API tokens per partner (table api_tokens): a role, a scope and an expiry each; only the token's
SHA-256 is stored, and the token is shown once, when made. `api.token` stays the deployment's own
admin token, unscoped and never stored."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.dashboard.scope import EVERYWHERE, Scope
from gateway.dashboard.users import ROLES
from gateway.storage.models import ApiToken

PREFIX = "ewg_"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


class TokenError(ValueError):
    """A token name, role or expiry that cannot be used; the message says why in one line."""


@dataclass(frozen=True)
class Principal:
    """Who an API request speaks for: the deployment (api.token) or a partner's token."""

    name: str
    role: str
    scope: Scope = EVERYWHERE


DEPLOYMENT = Principal("api.token", "admin")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode(errors="surrogatepass")).hexdigest()


def checked_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise TokenError(f"token name {name[:70]!r} must be 1-64 letters, digits, '.', '_', '@' or '-'")
    return name


async def add_token(session: AsyncSession, name: str, role: str, scope: Scope, expires_at: datetime | None,
                    now: datetime) -> tuple[ApiToken, str]:
    """A new token for a partner; returns the row and the token itself (shown once, never stored)."""
    checked_name(name)
    if role not in ROLES:
        raise TokenError(f"role {role[:20]!r} must be one of {', '.join(ROLES)}")
    if expires_at is not None and expires_at <= now:
        raise TokenError(f"expiry {expires_at:%Y-%m-%d %H:%M} is already past")
    active = (await session.execute(select(ApiToken.id).where(
        ApiToken.name == name, ApiToken.revoked_at.is_(None)))).first()
    if active is not None:
        raise TokenError(f"partner {name!r} already has a token: revoke it first (ewg tokens revoke {name})")
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=name, token_hash=token_hash(token), role=role, scope=None if scope.everywhere
                   else list(scope.pcodes), created_at=now, expires_at=expires_at)
    session.add(row)
    await session.flush()
    return row, token


async def list_tokens(session: AsyncSession) -> list[ApiToken]:
    return list((await session.execute(select(ApiToken).order_by(ApiToken.name, ApiToken.id))).scalars())


async def revoke_token(session: AsyncSession, name: str, now: datetime) -> int:
    """Revokes the partner's live token(s); refused from the next request on. Returns how many."""
    result = await session.execute(update(ApiToken).where(ApiToken.name == name, ApiToken.revoked_at.is_(None))
                                   .values(revoked_at=now))
    return result.rowcount or 0


async def principal_of(session: AsyncSession, token: str, now: datetime) -> Principal | str:
    """The partner a token stands for, or why it is refused (unknown, revoked, expired)."""
    if not token.startswith(PREFIX):
        return "wrong or missing API token"
    row = (await session.execute(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))).scalar_one_or_none()
    if row is None:
        return "wrong or missing API token"
    if row.revoked_at is not None:
        return "API token revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "API token expired"
    return Principal(row.name, row.role, Scope.of(row.scope))
