"""The notifier: publish an event once, every subscriber on every replica gets it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from asman.core.events import Event

Listener = Callable[[Event], None]


class Notifier(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, event: Event) -> None: ...

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call listener for every event (on the event loop); returns the unsubscribe function."""
        ...
