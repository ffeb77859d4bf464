"""Dashboard login: password hashes (scrypt), signed session cookies, CSRF tokens (HMAC) and the
login attempt limit.

Hashes are `scrypt$N$r$p$<salt hex>$<hash hex>`. A session cookie is
`<user id>|<session epoch>|<expiry epoch>|<signature>`, signed with `dashboard.session_secret`
only; the epoch must still be the user's in the database, so raising it revokes the cookie."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.config import Settings
from gateway.dashboard.scope import EVERYWHERE, Scope

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
# scrypt holds 16 MiB and ~50 ms of CPU per call: a small pool of its own keeps it off the event
# loop and bounds what a burst of logins can take from callbacks.
_HASHING = ThreadPoolExecutor(max_workers=2, thread_name_prefix="scrypt")
_COOKIE = re.compile(r"([0-9]{1,18})\|([0-9]{1,9})\|([0-9]{1,12})\|([0-9a-f]{64})")
# What an unknown user name is checked against: a well-formed hash with the same parameters that no
# password matches, so the login costs the same scrypt work as for a known name.
_NOBODY_HASH = f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${secrets.token_hex(16)}${secrets.token_hex(32)}"


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                                dklen=len(expected) // 2)
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), expected)


async def hash_password_off_loop(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_HASHING, hash_password, password)


async def verify_password_off_loop(password: str, stored: str | None) -> bool:
    """Without a stored hash (an unknown user name) the same scrypt work is done, and refused."""
    matches = await asyncio.get_running_loop().run_in_executor(_HASHING, verify_password, password,
                                                               stored or _NOBODY_HASH)
    return matches and stored is not None


def sessions_enabled(settings: Settings) -> bool:
    return bool(settings.dashboard.session_secret)


def _sign(settings: Settings, payload: str) -> str:
    if not settings.dashboard.session_secret:
        raise RuntimeError("dashboard.session_secret is not set")  # callers check sessions_enabled first
    return hmac.new(settings.dashboard.session_secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SessionClaim:
    """What a validly signed, unexpired cookie says; the database decides whether it still holds."""

    user_id: int
    epoch: int
    expires: datetime
    cookie: str


@dataclass(frozen=True)
class Session:
    user_id: int
    user: str
    role: str
    epoch: int
    cookie: str
    scope: Scope = EVERYWHERE

    def csrf_token(self, settings: Settings) -> str:
        return _sign(settings, "csrf|" + self.cookie)


def new_session_cookie(settings: Settings, user_id: int, epoch: int, now: datetime) -> str:
    expires = int((now + timedelta(hours=settings.dashboard.session_hours)).timestamp())
    payload = f"{user_id}|{epoch}|{expires}"
    return f"{payload}|{_sign(settings, payload)}"


def read_session_cookie(settings: Settings, cookie: str | None, now: datetime) -> SessionClaim | None:
    if not cookie or not sessions_enabled(settings):
        return None
    match = _COOKIE.fullmatch(cookie)
    if match is None:
        return None
    user_id, epoch, expires, signature = match.groups()
    if not hmac.compare_digest(signature, _sign(settings, f"{user_id}|{epoch}|{expires}")):
        return None
    expiry = datetime.fromtimestamp(int(expires), tz=now.tzinfo)
    if expiry <= now:
        return None
    return SessionClaim(int(user_id), int(epoch), expiry, cookie)


def csrf_ok(settings: Settings, session: Session, given: str | None) -> bool:
    return hmac.compare_digest((given or "").encode("utf-8", "replace"), session.csrf_token(settings).encode())


class AttemptLimiter:
    """At most `per_minute` attempts per key (a client address, a user name) in any 60 s."""

    WINDOW = 60.0
    MAX_KEYS = 100_000  # forgotten keys are dropped first; this bounds memory under a spray of names

    def __init__(self, per_minute: int):
        self.per_minute = max(per_minute, 1)
        self._attempts: dict[str, deque[float]] = {}

    def attempt(self, keys: list[str], now: float) -> int:
        """0 when the attempt may go ahead (it is counted against every key), else the seconds
        to wait before the next one."""
        wait = 0.0
        for key in keys:
            times = self._attempts.get(key)
            while times and times[0] <= now - self.WINDOW:
                times.popleft()
            if times is not None and len(times) >= self.per_minute:
                wait = max(wait, times[0] + self.WINDOW - now)
        if wait > 0:
            return max(int(wait + 0.999), 1)
        if len(self._attempts) >= self.MAX_KEYS:
            self._forget_old(now)
        for key in keys:
            self._attempts.setdefault(key, deque()).append(now)
        return 0

    def _forget_old(self, now: float) -> None:
        for key in [k for k, times in self._attempts.items() if not times or times[-1] <= now - self.WINDOW]:
            del self._attempts[key]
        while len(self._attempts) >= self.MAX_KEYS:
            del self._attempts[next(iter(self._attempts))]
