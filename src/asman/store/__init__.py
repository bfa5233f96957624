"""Queue stores by URL: sqlite:///path (the embedded default) or postgresql://... (scale-out)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from asman.store.base import Store
from asman.store.migrate import SchemaPlan, plan

__all__ = ["SchemaPlan", "Store", "open_store", "schema_plan", "upgrade_schema"]


def _is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def _sqlite_path(url: str) -> Path:
    return Path(_sqlite_parts(url)[0])


def _sqlite_parts(url: str) -> tuple[str, str]:
    """The file and the `synchronous` mode of `sqlite:///path[?synchronous=normal|full]`."""
    path, _, query = url.removeprefix("sqlite:///").removeprefix("sqlite://").partition("?")
    options = dict(part.partition("=")[::2] for part in query.split("&") if part)
    mode = options.pop("synchronous", "normal").lower()
    if options or mode not in ("normal", "full"):
        raise ValueError(
            f"unknown SQLite option in {url!r}: the only one is ?synchronous=normal (the default) or ?synchronous=full"
        )
    return path, mode


def open_store(url: str) -> Store:
    if _is_postgres(url):
        from asman.store.postgres import PostgresStore  # type: ignore[import-not-found,unused-ignore]

        store: Store = PostgresStore(url)
        return store
    from asman.store.sqlite import SqliteStore

    path, synchronous = _sqlite_parts(url)
    return SqliteStore(Path(path), synchronous)


async def schema_plan(url: str) -> SchemaPlan:
    """The store's migrations, applied and pending, read without changing the database."""
    if _is_postgres(url):
        from asman.store import postgres

        return plan("postgres", await postgres.applied_migrations(url))
    from asman.store import sqlite

    return plan("sqlite", await asyncio.to_thread(sqlite.applied_migrations, _sqlite_path(url)))


async def upgrade_schema(url: str) -> tuple[SchemaPlan, SchemaPlan]:
    """Apply the pending migrations as a server does when it starts (the store's own open); the plans before
    and after."""
    before = await schema_plan(url)
    store = open_store(url)
    await store.open()
    await store.close()
    return before, await schema_plan(url)
