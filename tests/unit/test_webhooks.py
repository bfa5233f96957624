"""Webhooks without a server: what a control asks for, the bodies, the backoff and give-up decisions, and one
attempt through a mock transport (the address guard, the pinned address, no redirects)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import httpx
import orjson
import pytest

from asman.blobs import BlobStore
from asman.cli.work import local_server_settings
from asman.core.definition import Control
from asman.core.errors import ValidationFailed
from asman.core.urls import first_internal, is_internal
from asman.core.webhooks import FINISHED, QUEUED, Delivery, hooks_of, retry_delay_ms
from asman.events.local import LocalNotifier
from asman.server.service import JobService
from asman.server.webhooks import DeliveryFailed, WebhookSender
from asman.settings import Settings
from asman.store import Store

JOB = "0b6397b71c6c72e7845bf1113894f6d9567b8e66800d0803940c5b58ed63a001"


def delivery(url: str = "https://hooks.example:8443/in?x=1", event: str = QUEUED, **changes: Any) -> Delivery:
    fields: dict[str, Any] = {
        "id": "d-1",
        "event": event,
        "queue": "q",
        "job_id": JOB,
        "namespace": "_",
        "url": url,
        "config": '{"k":"v"}',
        "origin": "https://asman.example",
        "reason": None,
        "exit_code": None,
        "attempt": 1,
        "expires_ms": 10**15,
    }
    fields.update(changes)
    return Delivery(**fields)


# -- what a control asks for, what is sent ------------------------------------------------------------------


def test_hooks_of_a_control() -> None:
    ids = iter(["id-1", "id-2"])
    control = Control.model_validate(
        {
            "callbacks": {
                "queued": {"url": "https://a.example/q", "payload": {"n": 1}},
                "finished": {"url": "https://a.example/f"},
                "started": {"url": "https://a.example/s"},  # not an event: ignored, as upstream
            }
        }
    )
    hooks = hooks_of(control, "https://asman.example/", 5_000, lambda: next(ids))
    assert hooks is not None
    assert hooks.queued is not None and hooks.finished is not None
    assert (hooks.queued.id, hooks.queued.url, hooks.queued.config) == (
        "id-1",
        "https://a.example/q",
        '{"n":1}',
    )
    assert (hooks.finished.id, hooks.finished.config) == ("id-2", "{}")
    assert (hooks.origin, hooks.lifetime_ms) == ("https://asman.example", 5_000)
    assert hooks_of(Control(), "", 1) is None
    assert hooks_of(Control.model_validate({"callbacks": {"other": {"url": "http://a/"}}}), "", 1) is None


def test_a_callback_url_must_be_http() -> None:
    service = JobService(Settings(), cast(Store, None), cast(BlobStore, None), LocalNotifier())
    body = {"definition": {"image": "x"}, "control": {"callbacks": {"queued": {"url": "ftp://a.example/"}}}}
    with pytest.raises(ValidationFailed, match="only http and https"):
        service.parse_submission(body)


def test_the_bodies() -> None:
    assert delivery().body() == {"jobId": JOB, "queue": "q", "namespace": "_", "config": {"k": "v"}}
    finished = delivery(event=FINISHED, reason="Error", exit_code=None)
    assert finished.body() == {
        "jobId": JOB,
        "queue": "q",
        "namespace": "_",
        "config": {"k": "v"},
        "state": "Finished",
        "finishedReason": "Error",
        "exitCode": None,
        "resultUrl": f"https://asman.example/q/q/j/{JOB}/result.json",
    }
    assert finished.headers() == {"X-Asman-Delivery": "d-1", "X-Asman-Event": "finished"}


def test_retries_back_off_exponentially_up_to_an_hour() -> None:
    assert [retry_delay_ms(n) for n in range(1, 6)] == [1_000, 2_000, 4_000, 8_000, 16_000]
    assert retry_delay_ms(13) == retry_delay_ms(10_000) == 3_600_000


class _Outbox:
    """The two store verbs a failed delivery uses, recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    async def drop_delivery(self, delivery_id: str) -> None:
        self.calls.append(("drop", delivery_id))

    async def postpone_delivery(self, delivery_id: str, attempt: int, due_ms: int, error: str) -> bool:
        self.calls.append(("postpone", delivery_id, attempt, due_ms, error))
        return True


@pytest.mark.parametrize(
    ("failed", "expected"),
    [
        (delivery(attempt=3), ("postpone", "d-1", 3, 104_000, "500")),
        (delivery(attempt=5), ("drop", "d-1")),  # the attempts are spent
        (delivery(attempt=1, expires_ms=100_500), ("drop", "d-1")),  # no attempt left before it expires
    ],
)
async def test_a_failure_is_retried_or_given_up(failed: Delivery, expected: tuple[Any, ...]) -> None:
    outbox = _Outbox()
    settings = Settings(webhook_max_attempts=5)
    service = JobService(
        settings, cast(Store, outbox), cast(BlobStore, None), LocalNotifier(), lambda: 100_000
    )
    given_up = await service.delivery_failed(failed, "500")
    assert outbox.calls == [expected]
    assert given_up is (expected[0] == "drop")


def test_local_mode_allows_private_targets_unless_told_otherwise() -> None:
    assert local_server_settings(Settings()).webhook_allow_private_urls
    told = Settings.from_env({"ASMAN_WEBHOOK_ALLOW_PRIVATE_URLS": "false"})
    assert not local_server_settings(told).webhook_allow_private_urls


# -- the address guard ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",  # CGNAT
        "100.127.255.254",
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fd00::1",
        "fe80::1%eth0",
        "::ffff:10.0.0.1",
        "192.0.2.1",  # documentation
    ],
)
def test_internal_addresses(address: str) -> None:
    assert is_internal(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "100.128.0.1", "2606:4700:4700::1111"])
def test_public_addresses(address: str) -> None:
    assert not is_internal(address)


def test_one_internal_address_is_enough_to_refuse_a_name() -> None:
    assert first_internal(["93.184.216.34", "10.1.1.1"]) == "10.1.1.1"
    assert first_internal(["93.184.216.34"]) is None


# -- one attempt ----------------------------------------------------------------------------------------------


class _Answers:
    def __init__(self, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.headers = headers or {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, headers=self.headers)


@asynccontextmanager
async def _sender(
    answers: _Answers, addresses: dict[str, list[str]], allow_private: bool = False
) -> AsyncIterator[WebhookSender]:
    settings = Settings(webhook_allow_private_urls=allow_private)
    service = JobService(settings, cast(Store, None), cast(BlobStore, None), LocalNotifier())
    sender = WebhookSender(service, transport=httpx.MockTransport(answers))
    lookups: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        lookups.append(host)
        return addresses[host]

    sender._resolve = resolve  # type: ignore[method-assign]
    try:
        yield sender
    finally:
        assert len(lookups) <= 1  # resolved once per attempt, never again for the connection
        await sender._client.aclose()


@pytest.fixture
def answers() -> _Answers:
    return _Answers()


async def test_an_attempt_connects_to_the_address_it_checked(answers: _Answers) -> None:
    async with _sender(answers, {"hooks.example": ["93.184.216.34"]}) as sender:
        assert await sender.post(delivery()) == 200
    [request] = answers.requests
    assert (request.url.scheme, request.url.host, request.url.port) == ("https", "93.184.216.34", 8443)
    assert request.url.raw_path == b"/in?x=1"
    assert request.headers["host"] == "hooks.example:8443"
    assert request.extensions["sni_hostname"] == "hooks.example"
    assert request.headers["x-asman-delivery"] == "d-1" and request.headers["x-asman-event"] == "queued"
    assert request.headers["content-type"] == "application/json"
    assert orjson.loads(request.content) == delivery().body()


@pytest.mark.parametrize(
    "target",
    ["http://100.64.1.2/x", "http://10.0.0.5/x", "http://[::1]:9/x", "http://rebind.example/x"],
)
async def test_an_internal_target_is_refused(answers: _Answers, target: str) -> None:
    resolved = {"100.64.1.2": ["100.64.1.2"], "10.0.0.5": ["10.0.0.5"], "::1": ["::1"]}
    resolved["rebind.example"] = ["93.184.216.34", "127.0.0.1"]
    async with _sender(answers, resolved) as sender:
        with pytest.raises(DeliveryFailed, match="internal address") as refused:
            await sender.post(delivery(target))
    assert refused.value.permanent
    assert answers.requests == []


async def test_the_setting_allows_internal_targets(answers: _Answers) -> None:
    async with _sender(answers, {"127.0.0.1": ["127.0.0.1"]}, allow_private=True) as sender:
        assert await sender.post(delivery("http://127.0.0.1:9000/x")) == 200
    assert answers.requests[0].url.host == "127.0.0.1"


async def test_redirects_are_not_followed() -> None:
    answers = _Answers(302, {"Location": "http://127.0.0.1/admin"})
    async with _sender(answers, {"hooks.example": ["93.184.216.34"]}) as sender:
        assert await sender.post(delivery()) == 302
    assert len(answers.requests) == 1
