"""A Server-Sent Events decoder with no I/O: feed it the lines of a `text/event-stream`, get events back.

Follows the WHATWG parsing rules that matter here: `event:` and `data:` fields (several `data:` lines join with
newlines), `id:`, comment lines starting with `:` (keep-alives), and a blank line that dispatches the event."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServerSentEvent:
    event: str = "message"
    data: str = ""
    id: str = ""


class SSEDecoder:
    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._id = ""

    def feed(self, line: str) -> ServerSentEvent | None:
        """Take one line (without its line break); return an event when the line completes one."""
        line = line.rstrip("\r\n")
        if not line:
            if not self._data and not self._event:
                return None
            event = ServerSentEvent(self._event or "message", "\n".join(self._data), self._id)
            self._event, self._data = "", []
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\x00" not in value:
            self._id = value
        return None
