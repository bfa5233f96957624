"""Connecting to PostgreSQL, for the queue store and the notifier alike: the URL's parts, the errors that mean the
server is out of reach, and the pooled connections' reset."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

Conn = Any  # asyncpg.Connection (untyped library)

CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.InvalidCatalogNameError,
    asyncpg.exceptions.InvalidAuthorizationSpecificationError,
)
# Wrong database or credentials: trying again cannot help.
SETUP_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.InvalidCatalogNameError,
    asyncpg.exceptions.InvalidAuthorizationSpecificationError,
)


def split_url(url: str) -> tuple[str, int, str]:
    """(dsn for asyncpg, pool size, the URL without its password for messages)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    pool_size = 10
    kept = []
    for key, value in query:
        if key == "pool_size":
            pool_size = max(1, int(value))
        else:
            kept.append((key, value))
    dsn = urlunsplit(parts._replace(query=urlencode(kept)))
    host = parts.hostname or "localhost"
    safe = f"{parts.scheme}://{parts.username + '@' if parts.username else ''}{host}:{parts.port or 5432}{parts.path}"
    return dsn, pool_size, safe


async def keep_session(conn: Conn) -> None:
    """The pool's reset of a released connection, minus the default reset query (RESET ALL, UNLISTEN *, ...)
    that costs a round trip per release: pooled connections here change no session state, and the pool still
    ends any open transaction."""
