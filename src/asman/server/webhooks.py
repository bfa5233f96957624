"""The webhook sender: a background loop that sends what the store's outbox holds (core/webhooks.py says what
fires when), never the request that caused it.

Each delivery is claimed with a lease, so replicas never send one delivery at the same time and a send cut short
by a crash is retried once the lease runs out; it is then POSTed, and a 2xx ends it. Anything else is retried
with exponential backoff until delivered, the attempts are spent, or it expires. The same delivery id travels
with every attempt, so a receiver drops the duplicates a crash between send and record can cause.

SSRF: the target's name is resolved once, here; unless ASMAN_WEBHOOK_ALLOW_PRIVATE_URLS is set, a name with any
internal address is refused, and the POST connects to an address that was checked (the name rides along as the
Host header and TLS server name), so a second lookup cannot answer differently. Redirects are not followed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable

import httpx
import orjson

from asman._version import __version__
from asman.core.errors import BackendUnavailable, InvalidInput
from asman.core.events import Event, StateChanged
from asman.core.states import JobState
from asman.core.urls import first_internal, http_target
from asman.core.webhooks import Delivery
from asman.server.service import JobService

log = logging.getLogger(__name__)

# Longer than any attempt takes (connect and answer within TIMEOUT_S), so a lease outlives its send.
LEASE_S = 60.0
TIMEOUT_S = 10.0
# Due retries, and deliveries another replica's changes made, are looked for this often.
POLL_S = 1.0
# Claims follow each other at least this far apart, so a burst of job events costs one claim, not one each.
CLAIM_GAP_S = 0.1
MAX_IN_FLIGHT = 32
USER_AGENT = f"asman/{__version__} (webhooks)"


class DeliveryFailed(Exception):
    """An attempt failed; `permanent` when no later attempt could do better (a refused or malformed target)."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


class WebhookSender:
    def __init__(self, service: JobService, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.service = service
        self.settings = service.settings
        # trust_env=False: a proxy from the environment would connect to the name, not the address checked.
        self._client = httpx.AsyncClient(
            timeout=TIMEOUT_S, follow_redirects=False, trust_env=False, transport=transport
        )
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._unsubscribe: Callable[[], None] | None = None

    # -- lifecycle --------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._unsubscribe = self.service.notifier.subscribe(self._on_event)
        self._task = asyncio.create_task(self._supervise(), name="asman-webhooks")

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        # An attempt cut short here is sent again once its lease runs out, by this replica or another.
        tasks = [*([self._task] if self._task else []), *self._in_flight]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._client.aclose()

    def _on_event(self, event: Event) -> None:
        # A job queued or finished, on any replica, may have left a delivery in the outbox.
        if isinstance(event, StateChanged) and event.state in (JobState.QUEUED, JobState.FINISHED):
            self._wake.set()

    async def _supervise(self) -> None:
        """Keep the loop alive: a store that fails for a while must not stop webhooks for good."""
        while True:
            try:
                await self._loop()
            except asyncio.CancelledError:
                raise
            except BackendUnavailable as exc:  # expected while the store is down: no traceback
                log.warning("webhook loop paused for 1 s: %s", exc.message)
                await asyncio.sleep(1)
            except Exception:
                log.exception("webhook loop failed; restarting in 1 s")
                await asyncio.sleep(1)

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_S)
            self._wake.clear()
            free = MAX_IN_FLIGHT - len(self._in_flight)
            if free > 0:
                claimed = await self.service.claim_deliveries(free, LEASE_S)
                for delivery in claimed:
                    task = asyncio.create_task(self._deliver(delivery), name=f"asman-webhook-{delivery.id}")
                    self._in_flight.add(task)
                    task.add_done_callback(self._done)
                if len(claimed) == free:  # more may be due
                    self._wake.set()
            await asyncio.sleep(CLAIM_GAP_S)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._wake.set()  # a free slot
        if not task.cancelled() and task.exception() is not None:
            # The store failed to record the outcome: the lease runs out and the delivery is tried again.
            log.error("webhook %s failed", task.get_name(), exc_info=task.exception())

    # -- one attempt ------------------------------------------------------------------------------------------

    async def _deliver(self, delivery: Delivery) -> None:
        try:
            status = await self.post(delivery)
        except DeliveryFailed as failure:
            error, permanent = failure.message, failure.permanent
        else:
            if 200 <= status < 300:
                await self.service.delivered(delivery)
                log.info("webhook %s (%s, job %s) delivered", delivery.id, delivery.event, delivery.job_id)
                return
            error, permanent = f"the receiver answered {status}", False
        if await self.service.delivery_failed(delivery, error, permanent):
            log.warning(
                "webhook %s (%s, job %s) to %s dropped after %d attempt(s): %s",
                delivery.id,
                delivery.event,
                delivery.job_id,
                delivery.url[:200],
                delivery.attempt,
                error,
            )
        else:
            log.info("webhook %s attempt %d failed (%s); retrying", delivery.id, delivery.attempt, error)

    async def post(self, delivery: Delivery) -> int:
        """POST one attempt of `delivery` to a checked address of its target; the answer's status."""
        try:
            scheme, host, port = http_target(delivery.url)
        except InvalidInput as error:
            raise DeliveryFailed(error.message, permanent=True) from None
        addresses = await self._resolve(host, port)
        if not self.settings.webhook_allow_private_urls:
            internal = first_internal(addresses)
            if internal is not None:
                raise DeliveryFailed(
                    f"refused: {host} resolves to an internal address ({internal});"
                    " ASMAN_WEBHOOK_ALLOW_PRIVATE_URLS=true allows it",
                    permanent=True,
                )
        url = httpx.URL(delivery.url)
        headers = {
            "Host": url.netloc.decode("ascii"),
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            **delivery.headers(),
        }
        extensions = {"sni_hostname": host} if scheme == "https" else {}
        body = orjson.dumps(delivery.body())
        unreachable: Exception | None = None
        for address in addresses:  # each one checked; the next when one does not answer
            try:
                async with self._client.stream(
                    "POST", url.copy_with(host=address), content=body, headers=headers, extensions=extensions
                ) as response:
                    return response.status_code  # the body is not read: a receiver cannot make us hold it
            except httpx.ConnectError as error:
                unreachable = error
            except httpx.HTTPError as error:
                raise DeliveryFailed(f"{type(error).__name__}: {error}") from None
        raise DeliveryFailed(f"cannot connect to {host}:{port}: {unreachable}")

    @staticmethod
    async def _resolve(host: str, port: int) -> list[str]:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as error:
            raise DeliveryFailed(f"cannot resolve {host}: {error}") from None
        return list(dict.fromkeys(str(info[4][0]) for info in infos))
