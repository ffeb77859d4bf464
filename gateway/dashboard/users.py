"""Dashboard users in the database (`dashboard_users`): who may log in, with which role.

Only a scrypt hash of a password is stored. Raising a user's `session_epoch` revokes every session
cookie issued to that user, because the cookie carries the epoch it was issued under."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.dashboard.auth import Session, SessionClaim, hash_password_off_loop, verify_password_off_loop
from gateway.dashboard.scope import EVERYWHERE, Scope
from gateway.runtime import utc_now
from gateway.storage.models import DashboardUser

ROLES = ("admin", "operator", "viewer")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MIN_PASSWORD_LENGTH = 10


class UserError(ValueError):
    """A user name, role or password that cannot be used; the message says why in one line."""


def checked_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise UserError(f"user name {name[:70]!r} must be 1-64 letters, digits, '.', '_', '@' or '-'")
    return name


def checked_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"role {role[:20]!r} must be one of {', '.join(ROLES)}")
    return role


async def find_user(session: AsyncSession, name: str) -> DashboardUser | None:
    return (await session.execute(select(DashboardUser).where(DashboardUser.name == name))).scalar_one_or_none()


async def add_user(session: AsyncSession, name: str, password: str, role: str = "viewer",
                   now: datetime | None = None, scope: Scope = EVERYWHERE) -> DashboardUser:
    checked_name(name)
    checked_role(role)
    if await find_user(session, name) is not None:
        raise UserError(f"user {name!r} already exists (change the password with: ewg users passwd {name})")
    user = DashboardUser(name=name, password_hash=await hash_password_off_loop(password), role=role,
                         session_epoch=0, created_at=now or utc_now(),
                         scope=None if scope.everywhere else list(scope.pcodes))
    session.add(user)
    await session.flush()
    return user


async def set_password(session: AsyncSession, name: str, password: str) -> DashboardUser:
    """A new password; every session of the user ends."""
    user = await find_user(session, name)
    if user is None:
        raise UserError(f"no dashboard user {name!r}")
    user.password_hash = await hash_password_off_loop(password)
    user.session_epoch += 1
    await session.flush()
    return user


async def ensure_user(session: AsyncSession, name: str, password: str, role: str = "admin") -> DashboardUser:
    """The user NAME with this password and role, created if missing (the demo admin, test fixtures)."""
    checked_role(role)
    user = await find_user(session, name)
    if user is None:
        return await add_user(session, name, password, role)
    if user.role == role and await verify_password_off_loop(password, user.password_hash):
        return user  # unchanged: its sessions stay valid
    user.password_hash = await hash_password_off_loop(password)
    user.role = role
    user.session_epoch += 1  # a new password or role ends the sessions made under the old one
    await session.flush()
    return user


async def set_scope(session: AsyncSession, name: str, scope: Scope) -> DashboardUser:
    """A new scope; the user's sessions end, so no page opened under the wider scope lives on."""
    user = await find_user(session, name)
    if user is None:
        raise UserError(f"no dashboard user {name!r}")
    user.scope = None if scope.everywhere else list(scope.pcodes)
    user.session_epoch += 1
    await session.flush()
    return user


async def list_users(session: AsyncSession) -> list[DashboardUser]:
    return list((await session.execute(select(DashboardUser).order_by(DashboardUser.name))).scalars())


async def remove_user(session: AsyncSession, name: str) -> bool:
    result = await session.execute(delete(DashboardUser).where(DashboardUser.name == name))
    return bool(result.rowcount)


async def end_sessions(session: AsyncSession, user_id: int, epoch: int) -> None:
    """Log a user out everywhere: the epoch of the session being ended is raised, once, so two
    logouts racing each other raise it by one."""
    await session.execute(update(DashboardUser)
                          .where(DashboardUser.id == user_id, DashboardUser.session_epoch == epoch)
                          .values(session_epoch=epoch + 1))


async def check_login(sessions: async_sessionmaker, name: str, password: str) -> DashboardUser | None:
    """The user whose name and password these are, or None; the same scrypt work either way.
    The database session is closed before scrypt runs, so no connection waits on it."""
    user = None
    if NAME.fullmatch(name):
        async with sessions() as session:
            user = await find_user(session, name)
    ok = await verify_password_off_loop(password, user.password_hash if user else None)
    return user if ok else None


async def session_of(session: AsyncSession, claim: SessionClaim) -> Session | None:
    """The session a signed cookie stands for, if its user still exists at the same epoch."""
    user = await session.get(DashboardUser, claim.user_id)
    if user is None or user.session_epoch != claim.epoch:
        return None
    return Session(user.id, user.name, user.role, claim.epoch, claim.cookie, Scope.of(user.scope))
