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
    return Path(url.removeprefix("sqlite:///").removeprefix("sqlite://"))


def open_store(url: str) -> Store:
    if _is_postgres(url):
        from asman.store.postgres import PostgresStore  # type: ignore[import-not-found,unused-ignore]

        store: Store = PostgresStore(url)
        return store
    from asman.store.sqlite import SqliteStore

    return SqliteStore(_sqlite_path(url))


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
