"""In-process notifier for a single server (the embedded SQLite setup)."""

from __future__ import annotations

from collections.abc import Sequence

from asman.core.events import Event
from asman.events.base import Fanout


class LocalNotifier(Fanout):
    async def open(self) -> None:
        return None

    async def close(self) -> None:
        self.unsubscribe_all()

    async def publish(self, event: Event) -> None:
        self.deliver(event)

    async def publish_many(self, events: Sequence[Event]) -> None:
        for event in events:
            self.deliver(event)
