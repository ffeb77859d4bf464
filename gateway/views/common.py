"""Helpers shared by the views: tokens, forms, plain-text errors."""

from __future__ import annotations

import hmac
import logging

from aiohttp import web
from sqlalchemy.exc import DBAPIError, OperationalError

log = logging.getLogger(__name__)

# Errors that mean "the database is not reachable right now": the provider should retry.
DATABASE_DOWN = (OperationalError, DBAPIError, ConnectionError, OSError, TimeoutError)


def plain(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text, content_type="text/plain")


def tokens_match(given: str | None, expected: str) -> bool:
    """Constant-time comparison, so a token cannot be guessed byte by byte from timings."""
    return hmac.compare_digest((given or "").encode(), expected.encode())


async def read_form(request: web.Request) -> dict[str, str]:
    """The callback form as a dict of str; raises an HTTP 400/413 with a plain reason."""
    try:
        form = await request.post()
    except web.HTTPRequestEntityTooLarge:
        raise web.HTTPRequestEntityTooLarge(
            max_size=request.app._client_max_size, actual_size=request.content_length or 0,
            text=f"body larger than {request.app._client_max_size} bytes", content_type="text/plain",
        ) from None
    except (UnicodeDecodeError, ValueError, LookupError) as exc:  # LookupError: an unknown charset
        raise web.HTTPBadRequest(text=f"body is not a valid form: {type(exc).__name__}",
                                 content_type="text/plain") from None
    return {key: value for key, value in form.items() if isinstance(value, str)}


def bearer_token(request: web.Request) -> str | None:
    """The token of an `Authorization: Bearer` header only: a token in a URL ends up in access logs."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return None

