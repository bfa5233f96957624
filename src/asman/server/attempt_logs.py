"""Which of a worker's log lines the server stores: each line once, in order, within the attempt's byte budget.

A worker numbers the lines of each attempt's step (`seq` on a `log` message is the number of its first line).
Lines the store already counted (a batch resent after a reconnect) are skipped; a worker that sends no numbers
appends. The budget counts what is stored, each line as serialized with every field it carries; past it one
marker line says the log was truncated, and nothing more is kept for the attempt, whichever connection or
replica the worker reports through (the counts live in the store)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson

from asman.store.base import LogCount


@dataclass(frozen=True, slots=True)
class Admitted:
    lines: list[list[Any]]
    text: str  # the lines as stored (JSON)
    after: LogCount


def truncation_marker(limit: int) -> list[Any]:
    return [
        f"[asman] log truncated: over {limit} bytes for this run (ASMAN_MAX_LOG_BYTES)\n",
        time.time_ns() // 1_000_000,
        True,
    ]


def admit(
    counts: dict[str, LogCount], step: str, seq: int | None, lines: list[list[Any]], limit: int
) -> Admitted | None:
    """What to store of `lines` (numbered from `seq`) for `step`, given the attempt's counts per step; None
    when nothing is new or the budget is spent."""
    before = counts.get(step, LogCount())
    start = before.next_seq if seq is None else seq
    fresh = lines[max(0, before.next_seq - start) :]
    used = sum(count.bytes for count in counts.values())
    if not fresh or used >= limit:
        return None
    next_seq = max(before.next_seq, start + len(lines))
    text = orjson.dumps(fresh)
    if used + len(text) <= limit:
        return Admitted(
            fresh, text.decode(), LogCount(next_seq, before.lines + len(fresh), before.bytes + len(text))
        )
    # Over the budget: keep the lines that fit beside the marker, then count the budget as spent.
    marker = truncation_marker(limit)
    room = limit - used - len(orjson.dumps(marker)) - 2
    kept: list[list[Any]] = []
    for line in fresh:
        room -= len(orjson.dumps(line)) + 1
        if room < 0:
            break
        kept.append(line)
    kept.append(marker)
    return Admitted(
        kept,
        orjson.dumps(kept).decode(),
        LogCount(next_seq, before.lines + len(kept), before.bytes + limit - used),
    )
