"""Numbered SQL migrations, one folder per backend (`migrations/<dialect>/NNNN_name.sql`), and the decision of
which ones a database still needs. Each store applies them its own way when it opens (SQLite in one script per
migration, PostgreSQL under an advisory lock); `asman db status` and `asman db upgrade` read the same plan."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

# The ledger: one row per migration applied, in every backend.
CREATE_LEDGER = "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)"
READ_LEDGER = "SELECT version FROM schema_migrations"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str  # the file's name without its number and suffix: "workers_without_running"
    sql: str


@dataclass(frozen=True)
class SchemaPlan:
    """A database's migrations against this release's: what is applied, what is still to apply, and what the
    database has that this release does not know (a newer Asman migrated it)."""

    applied: tuple[Migration, ...]
    pending: tuple[Migration, ...]
    unknown: tuple[int, ...]


def migrations(dialect: str) -> list[Migration]:
    """This release's migrations for `dialect` (sqlite, postgres), in order."""
    folder = resources.files("asman.store").joinpath("migrations", dialect)
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number, _, name = entry.name.removesuffix(".sql").partition("_")
            found.append(Migration(int(number), name, entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda migration: migration.version)


def plan(dialect: str, applied: Iterable[int]) -> SchemaPlan:
    done = set(applied)
    known = migrations(dialect)
    return SchemaPlan(
        applied=tuple(m for m in known if m.version in done),
        pending=tuple(m for m in known if m.version not in done),
        unknown=tuple(sorted(done - {m.version for m in known})),
    )
