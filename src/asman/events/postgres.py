"""PostgreSQL notifier: events reach the subscribers of every API replica through LISTEN/NOTIFY.

- Each replica holds one dedicated connection that LISTENs on the channel (default `asman_events`) and a
  small pool it publishes from. PostgreSQL delivers a NOTIFY to every listening session, the publisher's own
  included, so local subscribers are served from that echo only: every subscriber on every replica gets each
  event exactly once, in commit order (events published one after another arrive in that order). `publish`
  returns once the echo has reached this replica's subscribers, as with the in-process notifier.
- The payload is `event_to_json(event)` as JSON. NOTIFY payloads are limited to 8000 bytes, so an event whose
  JSON is over `MAX_PAYLOAD` bytes (a big batch of log lines, typically) is sent as several *fragment*
  notifications in one transaction, `{"fragment": {"id", "index", "count"}, "data": base64 of a slice}`, and
  reassembled into the one original event before delivery. Fragments of a message that never completes are
  dropped after `FRAGMENT_TTL` seconds.
- A supervisor reconnects (with backoff) as soon as the listening connection is gone: at once when the
  server ends it, within `PING_SECONDS` when it dies silently (a ping finds out). Publishing replaces pooled
  connections the server cut and retries when nothing was sent yet. Events published while a replica was
  disconnected do not reach it, so once it listens again the notifier hands its own subscribers a `resync`
  event: the hub looks for work on every queue, SSE streams send the current state and the log lines missed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from asman.core.errors import BackendUnavailable
from asman.core.events import Event, Resync, event_from_json, event_to_json
from asman.events.base import Fanout
from asman.pg import CONNECTION_ERRORS, keep_session, split_url

log = logging.getLogger(__name__)

CHANNEL = "asman_events"
MAX_PAYLOAD = 7000  # bytes of JSON per notification (PostgreSQL's hard limit is 8000)
_FRAGMENT_BYTES = 5000  # raw bytes per fragment: base64 makes 6668 characters, plus the envelope
FRAGMENT_TTL = 60.0
PING_SECONDS = 5.0
ECHO_TIMEOUT = 2.0  # how long publish waits for its own notification to come back

_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (*CONNECTION_ERRORS, asyncpg.InterfaceError)


def encode(event: Event) -> list[str]:
    """The notification payloads for one event: itself, or its fragments."""
    raw = orjson.dumps(event_to_json(event))
    if len(raw) <= MAX_PAYLOAD:
        return [raw.decode()]
    message_id = uuid.uuid4().hex
    slices = [raw[start : start + _FRAGMENT_BYTES] for start in range(0, len(raw), _FRAGMENT_BYTES)]
    return [
        orjson.dumps(
            {
                "fragment": {"id": message_id, "index": index, "count": len(slices)},
                "data": base64.b64encode(piece).decode(),
            }
        ).decode()
        for index, piece in enumerate(slices)
    ]


class _Reassembly:
    """Collects fragments until a message is whole."""

    def __init__(self) -> None:
        self._parts: dict[str, tuple[float, dict[int, bytes], int]] = {}

    def add(self, fragment: dict[str, Any], data: str) -> bytes | None:
        now = time.monotonic()
        for stale in [key for key, (born, _, _) in self._parts.items() if now - born > FRAGMENT_TTL]:
            log.warning("dropped an incomplete event %s", stale)
            del self._parts[stale]
        message_id, index, count = str(fragment["id"]), int(fragment["index"]), int(fragment["count"])
        _, parts, _ = self._parts.setdefault(message_id, (now, {}, count))
        parts[index] = base64.b64decode(data)
        if len(parts) < count:
            return None
        del self._parts[message_id]
        return b"".join(parts[position] for position in range(count))


@dataclass
class _Outgoing:
    """One published event on its way: its payloads, whether they were sent, and the echo to wait for."""

    payloads: list[str]
    sent: asyncio.Future[None]  # shared by the events of one publish_many: they are sent together
    wants_echo: bool = True  # only the last event of a publish_many is waited for
    echo: asyncio.Future[None] | None = None
    echo_key: tuple[int, str] = (0, "")


def _fail(batch: list[_Outgoing], error: BaseException) -> None:
    for outgoing in batch:
        if not outgoing.sent.done():
            outgoing.sent.set_exception(error)
            outgoing.sent.exception()  # retrieved here: a publisher may have stopped waiting


class PostgresNotifier(Fanout):
    def __init__(self, url: str, channel: str = CHANNEL) -> None:
        super().__init__()
        self._dsn, _, self._where = split_url(url)
        self.channel = channel
        self._conn: Any = None  # the LISTEN connection
        self._pool: Any = None  # publishers
        self._supervisor: asyncio.Task[None] | None = None
        self._reassembly = _Reassembly()
        self.connected = asyncio.Event()
        self._lost = asyncio.Event()
        self._echoes: dict[tuple[int, str], list[asyncio.Future[None]]] = {}
        self._outgoing: list[_Outgoing] = []
        self._sender: asyncio.Task[None] | None = None
        self.reconnects = 0

    def _unavailable(self, exc: BaseException) -> BackendUnavailable:
        return BackendUnavailable(
            f"PostgreSQL at {self._where} is unavailable for events ({type(exc).__name__}: {exc}). Check that the"
            " server is running and reachable, and ASMAN_DATABASE_URL."
        )

    # -- lifecycle --------------------------------------------------------------------------------------------

    async def open(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                self._dsn, min_size=1, max_size=4, timeout=10, reset=keep_session
            )
            await self._listen()
        except _CONNECTION_ERRORS as exc:
            await self.close()
            raise self._unavailable(exc) from exc
        self._supervisor = asyncio.create_task(self._supervise(), name="asman-notifier-supervisor")

    async def _listen(self) -> None:
        conn = await asyncpg.connect(self._dsn, timeout=10)
        try:
            await conn.add_listener(self.channel, self._on_notify)
        except BaseException:
            await conn.close()
            raise
        # A connection the server ends (restart, pg_terminate_backend) wakes the supervisor at once.
        self._lost.clear()
        conn.add_termination_listener(lambda _conn: self._lost.set())
        self._conn = conn
        self.connected.set()

    async def _supervise(self) -> None:
        """Watch the LISTEN connection (termination callback, and a ping every PING_SECONDS for silent
        drops); when it is gone, open a new one, backing off while the server is down."""
        delay = 0.5
        while True:
            conn = self._conn
            if conn is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._lost.wait(), PING_SECONDS)
                try:
                    if self._lost.is_set() or conn.is_closed():
                        raise ConnectionError("the LISTEN connection closed")
                    await asyncio.wait_for(conn.fetchval("SELECT 1"), PING_SECONDS)
                    continue
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("lost the event connection to PostgreSQL (%s); reconnecting", exc)
                    self.connected.clear()
                    self._conn = None
                    conn.terminate()
            try:
                await self._listen()
                self.reconnects += 1
                delay = 0.5
                log.info("event connection to PostgreSQL restored")
                self.deliver_everywhere(Resync())
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("cannot reach PostgreSQL for events (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def close(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
        _fail(self._outgoing, BackendUnavailable("the PostgreSQL notifier was closed"))
        self._outgoing = []
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await supervisor
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(*_CONNECTION_ERRORS):
                await asyncio.wait_for(conn.close(), 5)
            if not conn.is_closed():
                conn.terminate()
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), 5)
            except _CONNECTION_ERRORS:
                pool.terminate()
        self.connected.clear()
        self.unsubscribe_all()

    # -- publish and deliver ----------------------------------------------------------------------------------

    async def publish(self, event: Event) -> None:
        """Send the event to every replica; return once this replica's own subscribers have had it.

        Events published while a send is under way go out together in the next one: one statement, one
        transaction, in publish order. Waiting for our own echo (up to `ECHO_TIMEOUT`, and only while
        listening) gives publishers the same read-your-writes order as the in-process notifier: a client that
        opens a stream right after its request returned is not handed that request's event again as news.
        """
        await self.publish_many([event])

    async def publish_many(self, events: Sequence[Event]) -> None:
        """`publish` for many events at once, in order: they go out in one send, and the wait is for the last
        one's echo (notifications arrive in the order they were sent)."""
        if self._pool is None:
            raise BackendUnavailable("the PostgreSQL notifier is not open")
        if not events:
            return
        # One future and one echo for the whole call: the sender takes everything waiting at once, so these
        # events go out in one statement and are sent, or fail, together (10,000 futures and echoes cost more
        # than the send).
        sent: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        batch = [_Outgoing(encode(event), sent, wants_echo=False) for event in events]
        batch[-1].wants_echo = True
        self._outgoing.extend(batch)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_outgoing(), name="asman-notifier-sender")
        try:
            await asyncio.shield(sent)
            last = batch[-1]
            if last is not None and self.connected.is_set() and last.echo is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(last.echo), ECHO_TIMEOUT)
        finally:
            for outgoing in batch:
                self._forget_echo(outgoing)

    async def _send_outgoing(self) -> None:
        while self._outgoing:
            batch, self._outgoing = self._outgoing, []
            try:
                await self._send(batch)
            except asyncio.CancelledError:
                _fail(batch, BackendUnavailable("the PostgreSQL notifier was closed"))
                raise
            except Exception as exc:  # every publisher of the batch gets the error, none waits forever
                _fail(batch, exc)
            else:
                for outgoing in batch:
                    if not outgoing.sent.done():
                        outgoing.sent.set_result(None)

    async def _send(self, batch: list[_Outgoing]) -> None:
        payloads = [payload for outgoing in batch for payload in outgoing.payloads]
        pool = self._pool
        if pool is None:
            raise BackendUnavailable("the PostgreSQL notifier is not open")
        for attempt in range(3):
            sent = False
            try:
                async with pool.acquire() as conn:
                    pid = conn.get_server_pid()
                    for outgoing in batch:
                        if outgoing.wants_echo:
                            self._forget_echo(outgoing)
                            outgoing.echo_key = (pid, outgoing.payloads[-1])
                            outgoing.echo = self._expect_echo(outgoing.echo_key)
                    sent = True
                    # One statement is one transaction: fragments and events are delivered together, in order.
                    await conn.execute(
                        "SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload",
                        self.channel,
                        payloads,
                    )
                return
            except (*_CONNECTION_ERRORS, asyncpg.exceptions.InternalClientError) as exc:
                # A pooled connection the server cut shows up here, often before anything was sent (the
                # client refuses to even start the query): then retrying on a fresh connection is safe.
                await pool.expire_connections()
                unsent = not sent or isinstance(exc, asyncpg.exceptions.InternalClientError)
                if unsent and attempt < 2:
                    continue
                raise self._unavailable(exc) from exc

    def _expect_echo(self, key: tuple[int, str]) -> asyncio.Future[None]:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._echoes.setdefault(key, []).append(waiter)
        return waiter

    def _forget_echo(self, outgoing: _Outgoing) -> None:
        waiter, outgoing.echo = outgoing.echo, None
        waiters = self._echoes.get(outgoing.echo_key) if waiter is not None else None
        if waiters and waiter in waiters:
            waiters.remove(waiter)
            if not waiters:
                del self._echoes[outgoing.echo_key]

    def _on_notify(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        try:
            raw = orjson.loads(payload)
            if "fragment" in raw:
                whole = self._reassembly.add(raw["fragment"], raw["data"])
                raw = orjson.loads(whole) if whole is not None else None
            event = event_from_json(raw) if raw is not None else None
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed event on channel %s: %.200s", channel, payload)
            event = None
        if event is not None:
            self.deliver(event)
        # Delivered (or dropped): publishers of this replica waiting for this echo may go on. PostgreSQL folds
        # identical notifications of one transaction into one, so every waiter for it is woken.
        for waiter in self._echoes.pop((pid, payload), ()):
            if not waiter.done():
                waiter.set_result(None)
