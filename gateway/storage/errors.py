"""Which database errors mean "unavailable, retry later" and which belong to one message.

A callback answered 503 is retried by the provider for hours: that is right when the database
is unreachable, locked, full or read-only, and wrong when the error comes from the message
itself (a constraint, a value the column refuses), which every retry meets again.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError

# PostgreSQL SQLSTATE classes (or codes) of a server that cannot take the write now: connection
# exceptions, insufficient resources (disk full, too many connections), operator intervention
# (shutdown, statement timeout), system errors, rollbacks a retry resolves (serialization,
# deadlock), a lock not available, a read-only transaction (a standby after a failover).
_OUTAGE_SQLSTATES = ("08", "53", "57", "58", "40", "55P03", "25006")


def database_unavailable(exc: BaseException) -> bool:
    """True for an operational database error (or a network error reaching the database)."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated or isinstance(exc, OperationalError) or isinstance(exc.orig, OSError):
            return True
        sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        if sqlstate:
            return str(sqlstate).startswith(_OUTAGE_SQLSTATES)
        # the PostgreSQL drivers' InterfaceError is a closed connection; sqlite3's is a value it cannot bind
        return isinstance(exc, InterfaceError) and not isinstance(exc.orig, sqlite3.Error)
    return isinstance(exc, OSError | DisconnectionError)  # OSError: ConnectionError and TimeoutError too
