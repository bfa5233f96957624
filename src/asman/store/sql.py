"""What both SQL stores share below the verbs: the named queries of `queries.sql` in each dialect, the way a
verb talks to a database, and the one mapping from rows to domain objects.

A verb is written once, as a generator (a *program*) that yields `Query` objects and receives each one's
answer; it does no I/O itself. The SQLite store runs a program on its writer thread, the PostgreSQL store on a
pooled connection with `await`: the same decisions, one copy. Rows are read by position, which sqlite3 tuples
and asyncpg records both allow.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Generator
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal, TypeVar

from asman.core.events import StateChanged
from asman.core.states import FinishedReason, JobState
from asman.core.webhooks import Delivery
from asman.store.base import JobRow, WorkerRow

T = TypeVar("T")

Dialect = Literal["sqlite", "postgres"]
Mode = Literal["one", "all", "value", "count"]

JOB_COLUMNS = "queue, job_id, state, reason, attempt, worker, queued_ms, updated_ms, seq, exit_code"
# The one rule of which kept results a queue believes (core/trust.py): those of its trust domain, and those kept
# before domains existed that were made on the queue itself. Its parameters: the domain, then the queue.
TRUSTED = "(domain = ? OR (domain = '' AND queue = ?))"
# Positions in a job row.
QUEUE, JOB_ID, STATE, REASON, ATTEMPT, WORKER, UPDATED, SEQ, EXIT_CODE = 0, 1, 2, 3, 4, 5, 7, 8, 9


@dataclass(frozen=True, slots=True)
class Query:
    sql: str
    params: tuple[Any, ...]
    mode: Mode  # one: a row or None; all: the rows; value: the first column of the first row; count: rows changed
    # Set on a program's leading statements when nothing after them needs to share their transaction: each
    # finishes the program or wrote nothing. PostgreSQL then runs them without BEGIN and COMMIT (two round trips
    # of three for a one-statement verb) and opens a transaction only for the statements after them.
    standalone: bool = False


Program = Generator[Query, Any, T]
ProgramFactory = Callable[[], Program[T]]


def one(sql: str, *params: Any) -> Query:
    return Query(sql, params, "one")


def rows(sql: str, *params: Any) -> Query:
    return Query(sql, params, "all")


def value(sql: str, *params: Any) -> Query:
    return Query(sql, params, "value")


def count(sql: str, *params: Any) -> Query:
    return Query(sql, params, "count")


def alone(query: Query, standalone: bool = True) -> Query:
    """The query marked as needing no transaction with what follows it (see `Query.standalone`)."""
    return Query(query.sql, query.params, query.mode, standalone)


_SECTION = re.compile(r"^-- name: (\w+)(?: :(\w+))?\s*$", re.MULTILINE)
_FOR_UPDATE = re.compile(r"\s+FOR UPDATE(?: OF \w+)?(?: SKIP LOCKED)?")


class Queries:
    """The statements of queries.sql for one dialect, as attributes: `queries.get_job`."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        text = resources.files("asman.store").joinpath("queries.sql").read_text(encoding="utf-8")
        parts = _SECTION.split(text)
        statements: dict[str, str] = {}
        overrides: dict[str, str] = {}
        for index in range(1, len(parts), 3):
            name, only, body = parts[index], parts[index + 1], parts[index + 2]
            sql = "\n".join(
                line for line in body.strip().splitlines() if not line.lstrip().startswith("--")
            ).strip()
            if only is None:
                statements[name] = sql
            elif only == dialect:
                overrides[name] = sql
        statements.update(overrides)
        self._statements = {name: self._translate(sql) for name, sql in statements.items()}

    def _translate(self, sql: str) -> str:
        sql = sql.replace("{job_columns}", JOB_COLUMNS).replace("{trusted}", TRUSTED)
        if self.dialect == "sqlite":
            return _FOR_UPDATE.sub("", sql).replace("GREATEST(", "MAX(")
        numbers = iter(range(1, 10_000))
        return re.sub(r"\?", lambda _: f"${next(numbers)}", sql)

    def __getattr__(self, name: str) -> str:
        try:
            return self._statements[name]
        except KeyError:
            raise AttributeError(f"no query {name!r} in queries.sql for {self.dialect}") from None

    def in_list(self, name: str, items: list[str]) -> tuple[str, tuple[Any, ...]]:
        """A statement with an `IN ({ids})` list (SQLite) or `= ANY(?::text[])` (PostgreSQL), and the
        parameters that stand for `items`."""
        sql = self._statements[name]
        if self.dialect == "sqlite":
            return sql.replace("{ids}", ",".join("?" * len(items))), tuple(items)
        return sql, (items,)

    def values(self, name: str, items: list[tuple[Any, ...]]) -> tuple[str, tuple[Any, ...]]:
        """A statement with a `VALUES {rows}` list, one row per item, and its parameters (the items'
        values, which must be the statement's only ones)."""
        width = len(items[0])
        if self.dialect == "sqlite":
            marks = ",".join(["(" + ",".join("?" * width) + ")"] * len(items))
        else:
            numbers = iter(range(1, width * len(items) + 1))
            marks = ",".join("(" + ",".join(f"${next(numbers)}" for _ in range(width)) + ")" for _ in items)
        return self._statements[name].replace("{rows}", marks), tuple(itertools.chain.from_iterable(items))


# Row values to enum members by dict: calling the enum costs more than the rest of a row's mapping.
_STATES = {state.value: state for state in JobState}
_REASONS: dict[str | None, FinishedReason | None] = {reason.value: reason for reason in FinishedReason}
_REASONS[None] = None


def job_row(values: Any, namespaces: tuple[str, ...] = ()) -> JobRow:
    queue, job_id, state, reason, attempt, worker, queued_ms, updated_ms, seq, exit_code = tuple(values)
    # Positional: a batch submit maps thousands of rows, and keywords cost a fifth of each.
    return JobRow(
        queue,
        job_id,
        _STATES[state],
        _REASONS[reason or None],
        attempt,
        worker,
        queued_ms,
        updated_ms,
        seq,
        namespaces,
        None,  # definition
        None,  # result
        exit_code,
    )


def state_changed(values: Any) -> StateChanged:
    """The change a write made, from the job row it returned."""
    queue, job_id, state, reason, attempt, worker, _, updated_ms, _, exit_code = tuple(values)
    return StateChanged(
        queue,
        job_id,
        _STATES[state],
        _REASONS[reason or None],
        attempt,
        worker,
        updated_ms,
        exit_code,
    )


def worker_row(values: Any, info: dict[str, Any]) -> WorkerRow:
    queue, worker_id, replica, _, seen_ms = tuple(values)
    return WorkerRow(queue, worker_id, replica, info, seen_ms)


def delivery(values: Any) -> Delivery:
    """A claimed webhook delivery, from a row of `claim_deliveries`."""
    return Delivery(*tuple(values))
