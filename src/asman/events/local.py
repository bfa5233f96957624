"""In-process notifier for a single server (the embedded SQLite setup)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from asman.core.events import Event
from asman.events.base import Listener

log = logging.getLogger(__name__)


class LocalNotifier:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        self._listeners.clear()

    async def publish(self, event: Event) -> None:
        self.deliver(event)

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
