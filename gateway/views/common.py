"""Helpers shared by the views: tokens, forms, plain-text errors."""

from __future__ import annotations

import codecs
import hmac
import logging

from aiohttp import BodyPartReader, hdrs, web
from sqlalchemy.exc import DBAPIError, OperationalError

log = logging.getLogger(__name__)

# Errors that mean "the database is not reachable right now": the provider should retry.
DATABASE_DOWN = (OperationalError, DBAPIError, ConnectionError, OSError, TimeoutError)


def plain(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text, content_type="text/plain")


def tokens_match(given: str | None, expected: str) -> bool:
    """Constant-time comparison, so a token cannot be guessed byte by byte from timings."""
    return hmac.compare_digest((given or "").encode(), expected.encode())


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

