"""The notifier: publish an event once, every subscriber on every replica gets it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from asman.core.events import Event

Listener = Callable[[Event], None]

log = logging.getLogger(__name__)


class Fanout:
    """The subscriber list every notifier keeps: events reach each listener on this replica once."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def deliver(self, event: Event) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # one broken subscriber must not starve the others
                log.exception("event listener failed")

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe


class Notifier(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, event: Event) -> None: ...

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call listener for every event (on the event loop); returns the unsubscribe function."""
        ...
