"""`asman db status|upgrade`: the queue store's schema, for operators.

A server applies pending migrations itself when it starts; these commands let an operator see them first and
apply them as a separate step (a release job, an init container) against the same `--database-url`."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import typer

from asman.cli._extras import require_extras
from asman.cli._output import JsonOption, friendly_errors, print_json, stderr, stdout
from asman.cli._settings import settings_command, start_logging
from asman.settings import Scope, Settings

app = typer.Typer(no_args_is_help=True, help="See and apply the queue store's migrations.")

# Where the store is, and how to log: the rest of the server's settings do not matter here.
DB_SETTINGS = ("data_dir", "database_url", "log_level", "log_format")

if TYPE_CHECKING:  # the store is imported when a command runs, once the server extra is known to be there
    from asman.store.migrate import Migration, SchemaPlan


def _where(url: str) -> str:
    if url.startswith(("postgresql://", "postgres://")):
        from asman.pg import split_url

        return split_url(url)[2]  # without the password
    return url


def _listed(migrations: tuple[Migration, ...]) -> list[dict[str, Any]]:
    return [{"version": m.version, "name": m.name} for m in migrations]


def _warn_if_newer(plan: SchemaPlan) -> None:
    if plan.unknown:
        versions = ", ".join(f"{version:04d}" for version in plan.unknown)
        stderr().print(
            f"[yellow]The database has migrations this Asman does not know ({versions}): a newer release"
            " migrated it. Run that release (or a newer one) against it.[/]"
        )


def _prepare(settings: Settings) -> str:
    require_extras("asman db", "server")
    start_logging(settings)
    return settings.store_url


@app.command("status")
@settings_command(Scope.SERVER, only=DB_SETTINGS)
@friendly_errors
def status(settings: Settings, as_json: JsonOption = False) -> None:
    """The store's migrations: those applied and those a server (or `asman db upgrade`) would apply."""
    from asman.store import schema_plan

    url = _prepare(settings)
    plan = asyncio.run(schema_plan(url))
    if as_json:
        print_json(
            {
                "database": _where(url),
                "applied": _listed(plan.applied),
                "pending": _listed(plan.pending),
                "unknown": list(plan.unknown),
            }
        )
    else:
        from rich.table import Table

        table = Table()
        for column in ("version", "name", "state"):
            table.add_column(column)
        for migration, state in [(m, "applied") for m in plan.applied] + [
            (m, "pending") for m in plan.pending
        ]:
            table.add_row(f"{migration.version:04d}", migration.name, state)
        for version in plan.unknown:
            table.add_row(f"{version:04d}", "?", "applied, unknown to this release")
        stdout().print(table)
        summary = f"{len(plan.pending)} pending: run asman db upgrade" if plan.pending else "up to date"
        stderr().print(f"{_where(url)}: {summary}")
    _warn_if_newer(plan)


@app.command("upgrade")
@settings_command(Scope.SERVER, only=DB_SETTINGS)
@friendly_errors
def upgrade(settings: Settings, as_json: JsonOption = False) -> None:
    """Apply the pending migrations, as a server does when it starts (safe while servers run)."""
    from asman.store import upgrade_schema

    url = _prepare(settings)
    before, after = asyncio.run(upgrade_schema(url))
    done = {m.version for m in after.applied}
    applied = tuple(m for m in before.pending if m.version in done)
    if as_json:
        print_json({"database": _where(url), "applied": _listed(applied), "pending": _listed(after.pending)})
    elif applied:
        for migration in applied:
            stdout().print(f"applied {migration.version:04d} {migration.name}")
    else:
        stderr().print(f"{_where(url)} is up to date ({len(after.applied)} migrations applied)")
    _warn_if_newer(after)
