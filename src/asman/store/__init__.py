"""Queue stores by URL: sqlite:///path (the embedded default) or postgresql://... (scale-out)."""

from __future__ import annotations

from pathlib import Path

from asman.store.base import Store

__all__ = ["Store", "open_store"]


def open_store(url: str) -> Store:
    if url.startswith(("postgresql://", "postgres://")):
        from asman.store.postgres import PostgresStore  # type: ignore[import-not-found,unused-ignore]

        store: Store = PostgresStore(url)
        return store
    from asman.store.sqlite import SqliteStore

    return SqliteStore(Path(url.removeprefix("sqlite:///").removeprefix("sqlite://")))
