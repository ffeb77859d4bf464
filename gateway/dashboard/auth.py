"""Dashboard login: password hashes (scrypt), signed session cookies and CSRF tokens (HMAC).

Hashes are `scrypt$N$r$p$<salt hex>$<hash hex>`; make one with `python -m gateway.dashboard.auth`.
A session cookie is `<user>|<expiry epoch>|<signature>`: no server-side state, so replicas agree."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.config import Settings

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
TOKEN_USER = "admin"  # who logged in with the API token
_PROCESS_SECRET = secrets.token_bytes(32)


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


def check_login(settings: Settings, user: str, password: str) -> str | None:
    """The logged-in user name, or None. An empty user name means "the API token"."""
    user = user.strip()
    if not user:
        token = settings.api.token
        return TOKEN_USER if token and hmac.compare_digest(password.encode(), token.encode()) else None
    stored = settings.dashboard.users.get(user)
    return user if stored and verify_password(password, stored) else None


def _secret(settings: Settings) -> bytes:
    if settings.dashboard.session_secret:
        return settings.dashboard.session_secret.encode()
    if settings.api.token:  # stable across restarts and replicas; a new token logs everybody out
        return hashlib.sha256(b"ewg-dashboard-session:" + settings.api.token.encode()).digest()
    return _PROCESS_SECRET


def _sign(settings: Settings, payload: str) -> str:
    return hmac.new(_secret(settings), payload.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Session:
    user: str
    expires: datetime
    cookie: str

    def csrf_token(self, settings: Settings) -> str:
        return _sign(settings, "csrf|" + self.cookie)


def new_session_cookie(settings: Settings, user: str, now: datetime) -> str:
    expires = int((now + timedelta(hours=settings.dashboard.session_hours)).timestamp())
    payload = f"{user}|{expires}"
    return f"{payload}|{_sign(settings, payload)}"


def read_session(settings: Settings, cookie: str | None, now: datetime) -> Session | None:
    if not cookie or cookie.count("|") != 2:
        return None
    user, expires, signature = cookie.split("|")
    if not hmac.compare_digest(signature, _sign(settings, f"{user}|{expires}")) or not expires.isdigit():
        return None
    expiry = datetime.fromtimestamp(int(expires), tz=now.tzinfo)
    if expiry <= now:
        return None
    if user != TOKEN_USER and user not in settings.dashboard.users:
        return None  # a removed user's cookie dies with the setting
    return Session(user, expiry, cookie)


def csrf_ok(settings: Settings, session: Session, given: str | None) -> bool:
    return hmac.compare_digest((given or "").encode(), session.csrf_token(settings).encode())


if __name__ == "__main__":
    import getpass

    print(hash_password(getpass.getpass("password: ")))
