"""Log lines on their way to the server, numbered per attempt and step, the latest kept to send again.

A line sent just before the connection drops may never arrive, and lines flushed while it is down are not sent
at all. So each batch carries the number of its first line (`seq`), and the latest lines stay here: when the
worker registers again, the server says where each attempt's log goes on, and what it lacks is sent again. The
server stores a line it already has only once."""

from __future__ import annotations

from collections import deque
from typing import Any

Key = tuple[str, int, str]  # job, attempt, step
Batch = tuple[Key, int, list[list[Any]]]  # key, number of its first line, lines

# Lines kept per attempt's step to send again: far more than a connection has in flight when it drops.
KEEP_LINES = 20_000


class LogOutbox:
    def __init__(self, keep_lines: int = KEEP_LINES) -> None:
        self._keep = keep_lines
        self._pending: dict[Key, list[list[Any]]] = {}
        self._next: dict[Key, int] = {}
        self._recent: dict[Key, deque[tuple[int, list[list[Any]]]]] = {}
        self._kept: dict[Key, int] = {}

    def __bool__(self) -> bool:
        return bool(self._pending)

    def add(self, key: Key, line: list[Any]) -> int:
        """Queue a line; return how many lines of its attempt's step wait."""
        lines = self._pending.setdefault(key, [])
        lines.append(line)
        return len(lines)

    def take(self) -> list[Batch]:
        """The waiting lines as numbered batches, kept to send again."""
        pending, self._pending = self._pending, {}
        batches: list[Batch] = []
        for key, lines in pending.items():
            first = self._next.get(key, 0)
            self._next[key] = first + len(lines)
            recent = self._recent.setdefault(key, deque())
            recent.append((first, lines))
            self._kept[key] = self._kept.get(key, 0) + len(lines)
            while len(recent) > 1 and self._kept[key] - len(recent[0][1]) >= self._keep:
                self._kept[key] -= len(recent.popleft()[1])
            batches.append((key, first, lines))
        return batches

    def resend(self, job: str, attempt: int, positions: dict[str, int]) -> list[Batch]:
        """The kept lines of an attempt from where the server's log of each step goes on."""
        batches: list[Batch] = []
        for key, recent in self._recent.items():
            if key[:2] != (job, attempt):
                continue
            position = positions.get(key[2], 0)
            for first, lines in recent:
                if first + len(lines) > position:
                    skip = max(0, position - first)
                    batches.append((key, first + skip, lines[skip:]))
        return batches

    def drop(self, job: str, attempt: int) -> None:
        """The attempt is over: nothing of it is sent again."""
        for store in (self._pending, self._next, self._recent, self._kept):
            for key in [key for key in store if key[:2] == (job, attempt)]:
                del store[key]
