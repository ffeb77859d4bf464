"""Helpers shared by the views: tokens, forms, plain-text errors."""

from __future__ import annotations

import codecs
import hmac
import logging
from datetime import UTC, datetime

from aiohttp import BodyPartReader, hdrs, web
from sqlalchemy.exc import DBAPIError, OperationalError

log = logging.getLogger(__name__)

# Errors that mean "the database is not reachable right now": the provider should retry.
DATABASE_DOWN = (OperationalError, DBAPIError, ConnectionError, OSError, TimeoutError)


def plain(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text, content_type="text/plain")


def tokens_match(given: str | None, expected: str, previous: str = "") -> bool:
    """Constant-time comparison, so a token cannot be guessed byte by byte from timings. A previous
    token, when set, is accepted too: a rotation must not refuse what providers retry for hours."""
    # surrogatepass: a header holding bytes that are not UTF-8 reaches us as lone surrogates
    given_bytes = (given or "").encode(errors="surrogatepass")
    current = hmac.compare_digest(given_bytes, expected.encode())
    return current | (bool(previous) and hmac.compare_digest(given_bytes, previous.encode()))


# A form is read as UTF-8 or Latin-1 (ASCII is both). Another charset turns the body into text
# nobody sent, or, like unicode_escape, into lone surrogates that no database can store.
FORM_CHARSETS = frozenset({"utf-8", "iso8859-1", "ascii"})  # codecs' canonical names
MAX_FORM_FIELDS = 100  # a callback form has at most a dozen


def _bad_form(reason: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=reason, content_type="text/plain")


def _too_large(request: web.Request) -> web.HTTPRequestEntityTooLarge:
    return web.HTTPRequestEntityTooLarge(
        max_size=request.app._client_max_size, actual_size=request.content_length or 0,
        text=f"body larger than {request.app._client_max_size} bytes", content_type="text/plain")


def check_charset(charset: str | None, where: str = "body") -> None:
    """A 400 naming the charset unless it is UTF-8 or Latin-1 (or none, which means UTF-8)."""
    if charset is None:
        return
    try:
        name = codecs.lookup(charset).name
    except (LookupError, ValueError, TypeError):
        name = None
    if name not in FORM_CHARSETS:
        raise _bad_form(f"{where} charset {charset[:40]!r} is not accepted: send UTF-8 or Latin-1")


async def read_form(request: web.Request) -> dict[str, str]:
    """The callback form as a dict of str; raises an HTTP 400/413 with a plain reason: a charset
    other than UTF-8 or Latin-1, or a name or value that is not valid Unicode, is a 400."""
    check_charset(request.charset)
    try:
        if request.content_type == "multipart/form-data":
            form = await _multipart_form(request)
        else:
            form = {key: value for key, value in (await request.post()).items() if isinstance(value, str)}
    except web.HTTPRequestEntityTooLarge:
        raise _too_large(request) from None
    except (UnicodeDecodeError, ValueError, LookupError) as exc:  # LookupError: an unknown charset
        raise _bad_form(f"body is not a valid form: {type(exc).__name__}") from None
    for key, value in form.items():
        if not _encodes(key):
            raise _bad_form("a field name is not valid UTF-8 (it holds a lone surrogate)")
        if not _encodes(value):
            raise _bad_form(f"field '{key[:40]}' is not valid UTF-8 (it holds a lone surrogate)")
    return form


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


async def _multipart_form(request: web.Request) -> dict[str, str]:
    """A multipart form's text fields, each part's own charset checked like the body's (aiohttp's
    request.post() would decode a part in whatever charset it declares). Files and binary parts
    are read and dropped: no callback field is one."""
    reader = await request.multipart()
    form: dict[str, str] = {}
    size = 0
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or part.name is None:
            raise _bad_form("body is not a valid form: a part without a name, or nested parts")
        raw = bytearray()
        while chunk := await part.read_chunk():
            size += len(chunk)
            if size > request.app._client_max_size:
                raise _too_large(request)
            raw.extend(chunk)
        content_type = part.headers.get(hdrs.CONTENT_TYPE)
        if part.filename or (content_type is not None and not content_type.startswith("text/")):
            continue
        if len(form) >= MAX_FORM_FIELDS:
            raise _bad_form(f"body is not a valid form: more than {MAX_FORM_FIELDS} fields")
        charset = part.get_charset(default="utf-8")
        check_charset(charset, "a field's")
        value = bytearray()
        async for decoded in part.decode_iter(bytes(raw)):  # a part's transfer encoding, if any
            value.extend(decoded)
        form[part.name] = value.decode(charset)
    return form


def bearer_token(request: web.Request) -> str | None:
    """The token of an `Authorization: Bearer` header only: a token in a URL ends up in access logs."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return None


# --- query parameters, path ids and cookies: hostile input is a 400 or a 404, never a database error

MAX_ID = 2**63 - 1  # BIGINT: a larger id matches no row, and the database drivers refuse to bind it
EARLIEST_DATE, LATEST_DATE = datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)
MAX_TEXT_PARAMETER = 100  # codes and names (pcodes, incidents, statuses); no query needs more


def bad_parameter(name: str, reason: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=f"parameter '{name}' {reason}", content_type="text/plain")


def _ascii_digits(raw: str) -> bool:
    """Only 0-9: str.isdigit() and int() also accept other scripts' digits, which the database refuses."""
    return raw.isascii() and raw.isdigit()


def int_parameter(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not _ascii_digits(raw) or len(raw) > len(str(high)) or not low <= int(raw) <= high:
        raise bad_parameter(name, f"must be {low}..{high}")
    return int(raw)


def date_parameter(request: web.Request, name: str) -> datetime | None:
    """An ISO 8601 date or time (UTC when it names no zone), or None when absent or empty."""
    raw = request.query.get(name)
    if not raw:
        return None
    reason = f"is not a date (ISO 8601, between {EARLIEST_DATE:%Y} and {LATEST_DATE:%Y})"
    if not raw.isascii() or len(raw) > 40:
        raise bad_parameter(name, reason)
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except (ValueError, OverflowError):  # OverflowError: a zone offset that moves year 1 or 9999 out of range
        raise bad_parameter(name, reason) from None
    if not EARLIEST_DATE <= value < LATEST_DATE:
        raise bad_parameter(name, reason)
    return value


def text_parameter(request: web.Request, name: str) -> str | None:
    """A short printable value, or None when absent or empty (PostgreSQL refuses NUL in text)."""
    raw = request.query.get(name)
    if not raw:
        return None
    if len(raw) > MAX_TEXT_PARAMETER or not raw.isprintable():
        raise bad_parameter(name, f"must be at most {MAX_TEXT_PARAMETER} printable characters")
    return raw


def path_id(request: web.Request, name: str, what: str) -> int:
    """A row id from the path; one that no row can have is a 404, like an id that has no row."""
    raw = request.match_info[name]
    if not _ascii_digits(raw) or len(raw) > len(str(MAX_ID)) or not 0 < int(raw) <= MAX_ID:
        raise web.HTTPNotFound(text=f"no {what} {raw[:30]}", content_type="text/plain")
    return int(raw)


def cookie(request: web.Request, name: str) -> str | None:
    """A cookie's value when it is printable ASCII, which every cookie the gateway sets is; another
    value (bytes that are not UTF-8 arrive as lone surrogates) is treated as absent."""
    value = request.cookies.get(name)
    return value if value and value.isascii() and value.isprintable() else None
