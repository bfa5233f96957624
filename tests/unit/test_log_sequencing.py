"""Log lines exactly once: the worker's outbox numbers and keeps what it sends, the server's admission skips what
it has and holds the byte budget whatever the lines carry."""

from __future__ import annotations

from typing import Any

import orjson

from asman.server.attempt_logs import admit
from asman.store.base import LogCount
from asman.worker.log_outbox import LogOutbox

KEY = ("a" * 64, 1, "run")


def lines(first: int, count: int) -> list[list[Any]]:
    return [[f"{n}\n", n, False] for n in range(first, first + count)]


def test_the_outbox_numbers_batches_and_resends_from_where_the_server_is() -> None:
    outbox = LogOutbox(keep_lines=100)
    for line in lines(0, 30):
        outbox.add(KEY, line)
    [(key, first, sent)] = outbox.take()
    assert (key, first, sent) == (KEY, 0, lines(0, 30))
    for line in lines(30, 10):
        outbox.add(KEY, line)
    assert [(first, len(sent)) for _, first, sent in outbox.take()] == [(30, 10)]
    assert not outbox and outbox.take() == []
    # The server had 25 lines when the connection dropped: the rest is sent again, numbered as before.
    resent = outbox.resend(KEY[0], KEY[1], {"run": 25})
    assert [(first, sent) for _, first, sent in resent] == [(25, lines(25, 5)), (30, lines(30, 10))]
    assert outbox.resend(KEY[0], KEY[1], {"run": 40}) == []
    outbox.drop(KEY[0], KEY[1])
    assert outbox.resend(KEY[0], KEY[1], {}) == []


def test_the_outbox_keeps_a_bounded_window() -> None:
    outbox = LogOutbox(keep_lines=50)
    for batch in range(10):
        for line in lines(batch * 20, 20):
            outbox.add(KEY, line)
        outbox.take()
    kept = outbox.resend(KEY[0], KEY[1], {})
    assert sum(len(sent) for _, _, sent in kept) <= 70 and kept[-1][1] == 180


def test_admission_skips_what_is_stored_and_appends_unnumbered_lines() -> None:
    counts = {"run": LogCount(next_seq=10, lines=10, bytes=100)}
    admitted = admit(counts, "run", 5, lines(5, 10), 10_000)
    assert admitted is not None and admitted.lines == lines(10, 5)
    assert admitted.after == LogCount(15, 15, 100 + len(orjson.dumps(lines(10, 5))))
    assert admit(counts, "run", 0, lines(0, 10), 10_000) is None  # all of it stored before
    unnumbered = admit(counts, "run", None, lines(99, 2), 10_000)
    assert unnumbered is not None and unnumbered.lines == lines(99, 2) and unnumbered.after.next_seq == 12


def test_the_budget_counts_every_field_and_every_step() -> None:
    limit = 1000
    padded = [["", 0, "x" * 90]] * 20  # empty text, a fat extra field: once uncounted
    admitted = admit({}, "run", 0, padded, limit)
    assert admitted is not None and "log truncated" in admitted.lines[-1][0]
    assert len(orjson.dumps(admitted.lines)) <= limit and admitted.after.bytes == limit
    assert admit({"run": admitted.after}, "build", 0, lines(0, 1), limit) is None  # spent for the attempt
    assert admit({"run": admitted.after}, "run", 20, lines(20, 1), limit) is None
