"""`asman db status` and `asman db upgrade`, on a fresh SQLite file and a fresh PostgreSQL database: what they
report before, between and after migrations, through the store's own upgrade path."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from typer.testing import CliRunner

from asman.cli.main import app
from asman.settings import known_variables
from asman.store import migrate, open_store, schema_plan, upgrade_schema


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in known_variables():
        monkeypatch.delenv(variable, raising=False)


def dialect(store_url: str) -> str:
    return "sqlite" if store_url.startswith("sqlite") else "postgres"


def versions(migrations: tuple[migrate.Migration, ...]) -> list[int]:
    return [m.version for m in migrations]


def db(store_url: str, *args: str) -> Any:
    # Called from a thread: the command runs its own event loop.
    return CliRunner().invoke(app, ["db", *args, "--database-url", store_url, "--json"])


async def test_status_reads_an_empty_database_without_changing_it(store_url: str) -> None:
    every = [m.version for m in migrate.migrations(dialect(store_url))]
    for _ in range(2):  # the first read created nothing that the second would see
        plan = await schema_plan(store_url)
        assert (versions(plan.applied), versions(plan.pending), plan.unknown) == ([], every, ())


async def test_upgrade_applies_what_an_older_release_left_pending(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    every = migrate.migrations(dialect(store_url))
    monkeypatch.setattr(migrate, "migrations", lambda _dialect: every[:2])
    old = open_store(store_url)
    await old.open()  # a server of a release that knew two migrations
    await old.close()
    monkeypatch.undo()

    plan = await schema_plan(store_url)
    assert versions(plan.applied) == [1, 2]
    assert versions(plan.pending) == [m.version for m in every[2:]]
    before, after = await upgrade_schema(store_url)
    assert before == plan
    assert (versions(after.applied), after.pending) == ([m.version for m in every], ())
    again, _ = await upgrade_schema(store_url)
    assert again.pending == ()


async def test_status_names_migrations_a_newer_release_applied(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await upgrade_schema(store_url)
    every = migrate.migrations(dialect(store_url))
    monkeypatch.setattr(migrate, "migrations", lambda _dialect: every[:-1])
    plan = await schema_plan(store_url)
    assert (plan.pending, plan.unknown) == ((), (every[-1].version,))


async def test_the_commands_report_then_apply(store_url: str) -> None:
    names = [{"version": m.version, "name": m.name} for m in migrate.migrations(dialect(store_url))]
    status = await asyncio.to_thread(db, store_url, "status")
    assert status.exit_code == 0, status.output
    shown = json.loads(status.stdout)
    assert (shown["applied"], shown["pending"], shown["unknown"]) == ([], names, [])

    upgrade = await asyncio.to_thread(db, store_url, "upgrade")
    assert upgrade.exit_code == 0, upgrade.output
    assert json.loads(upgrade.stdout)["applied"] == names
    upgrade = await asyncio.to_thread(db, store_url, "upgrade")
    assert json.loads(upgrade.stdout) == {"database": shown["database"], "applied": [], "pending": []}
    status = await asyncio.to_thread(db, store_url, "status")
    assert json.loads(status.stdout)["applied"] == names


def test_an_unreachable_database_is_one_line_that_says_what_to_check() -> None:
    url = "postgresql://asman:secret@127.0.0.1:9/asman"
    done = db(url, "status")
    assert done.exit_code == 1
    assert "PostgreSQL at postgresql://asman@127.0.0.1:9/asman is unavailable" in done.output
    assert "ASMAN_DATABASE_URL" in done.output and "secret" not in done.output
