"""The notifier: publish an event once, every subscriber on every replica gets it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from asman.core.events import Event

Listener = Callable[[Event], None]

log = logging.getLogger(__name__)


class Fanout:
    """The subscriber lists every notifier keeps: events reach each listener on this replica once.

    Listeners of one queue are kept apart from those of every queue, so an event costs a call per listener
    that wants it: thousands of browsers watching other queues cost nothing.
    """

    def __init__(self) -> None:
        self._everywhere: dict[int, Listener] = {}
        self._by_queue: dict[str, dict[int, Listener]] = {}
        self._next_token = 0

    def deliver(self, event: Event) -> None:
        for listeners in (self._everywhere, self._by_queue.get(event.queue)):
            if not listeners:
                continue
            for listener in tuple(listeners.values()):
                try:
                    listener(event)
                except Exception:  # one broken subscriber must not starve the others
                    log.exception("event listener failed")

    def deliver_everywhere(self, event: Event) -> None:
        """`event` to every listener of every queue, e.g. a notice that events may have been missed."""
        for listeners in (self._everywhere, *self._by_queue.values()):
            for listener in tuple(listeners.values()):
                try:
                    listener(event)
                except Exception:
                    log.exception("event listener failed")

    def subscribe(self, listener: Listener, queue: str | None = None) -> Callable[[], None]:
        token = self._next_token
        self._next_token += 1
        listeners = self._everywhere if queue is None else self._by_queue.setdefault(queue, {})
        listeners[token] = listener

        def unsubscribe() -> None:
            listeners.pop(token, None)
            if queue is not None and not listeners and self._by_queue.get(queue) is listeners:
                del self._by_queue[queue]

        return unsubscribe

    def unsubscribe_all(self) -> None:
        self._everywhere.clear()
        self._by_queue.clear()


class Notifier(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, event: Event) -> None: ...

    async def publish_many(self, events: Sequence[Event]) -> None:
        """`publish` for each event, in order: what a batch submit publishes, sent together where the
        notifier sends in batches."""
        ...

    def subscribe(self, listener: Listener, queue: str | None = None) -> Callable[[], None]:
        """Call listener for every event (on the event loop), or only for those of `queue`; returns the
        unsubscribe function."""
        ...
