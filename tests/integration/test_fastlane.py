"""The fast lane (server/fastlane.py) answers exactly what the full stack answers: status, headers and body, for
every kind of submit it takes, and it counts them in the same metrics series."""

from __future__ import annotations

from pathlib import Path

from asman.settings import Settings
from tests.support.server import in_process

JSON = {"content-type": "application/json"}
CASES: list[tuple[str, bytes, dict[str, str]]] = [
    ("/q/lane", b'{"definition": {"image": "alpine", "command": "echo a"}}', JSON),
    ("/q/lane", b'{"definition": {"image": "alpine", "command": "echo a"}}', JSON),  # joins the queued job
    ("/q/lane/j", b'{"image": "alpine", "command": "echo b"}', JSON),  # the alias, a bare definition
    ("/q/lane", b'{"definition": {"image": "alpine"}, "control": {"namespace": "n1"}}', JSON),
    ("/q/lane", b"{not json", JSON),
    ("/q/lane", b"[1, 2]", JSON),
    ("/q/lane", b'{"definition": {"command": "echo no image"}}', JSON),
    ("/q/lane", b'{"definition": {"image": "alpine"}, "id": "0" }', JSON),
    ("/q/lane", b'{"definition": {"image": "alpine", "inputs": 5}}', JSON),
    ("/q/bad%20name", b'{"image": "alpine"}', JSON),
    ("/q/lane", b"x" * 70_000, JSON),  # over ASMAN_MAX_BODY_BYTES below
    ("/q/lane", b"", {}),
]


async def _answers(
    settings: Settings, lane: bool
) -> tuple[list[tuple[int, list[tuple[str, str]], bytes]], str]:
    answers = []
    async with in_process(settings) as client:
        app = client.app  # type: ignore[attr-defined]
        assert app.lane.enabled
        app.lane.enabled = lane
        for path, body, headers in CASES:
            response = await client.post(path, content=body, headers=headers)
            answers.append((response.status_code, list(response.headers.multi_items()), response.content))
        metrics = (await client.get("/metrics")).text
    counted = "\n".join(
        line
        for line in metrics.splitlines()
        if line.startswith("asman_http_requests_total") and 'method="POST"' in line
    )
    return answers, counted


async def test_the_lane_answers_what_the_full_stack_answers(tmp_path: Path) -> None:
    def settings(name: str) -> Settings:
        return Settings(data_dir=tmp_path / name, sweep_interval_seconds=3600, max_body_bytes=65_536)

    fast, fast_counted = await _answers(settings("fast"), lane=True)
    full, full_counted = await _answers(settings("full"), lane=False)
    assert [status for status, _, _ in fast] == [200, 200, 200, 200, 400, 400, 422, 400, 422, 400, 413, 400]
    assert fast == full
    assert fast_counted == full_counted
    assert 'route="/q/{queue}",status="200"' in fast_counted
    assert 'route="/q/{queue}/j",status="200"' in fast_counted


async def test_browsers_and_rate_limited_servers_take_the_full_stack(tmp_path: Path) -> None:
    body = b'{"image": "alpine", "command": "echo c"}'
    async with in_process(Settings(data_dir=tmp_path / "a", sweep_interval_seconds=3600)) as client:
        response = await client.post("/q/lane", content=body, headers={**JSON, "origin": "https://x.test"})
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "*"
    limited = Settings(data_dir=tmp_path / "b", sweep_interval_seconds=3600, rate_limit=1, rate_burst=1)
    async with in_process(limited) as client:
        assert not client.app.lane.enabled  # type: ignore[attr-defined]
        assert (await client.post("/q/lane", content=body, headers=JSON)).status_code == 200
        assert (await client.post("/q/lane", content=body, headers=JSON)).status_code == 429


def test_worker_sockets_with_or_without_origin_register_alike(tmp_path: Path) -> None:
    """The lane takes the socket without Origin, the full stack the one with it: both speak the protocol, and
    both refuse a bad queue name the same way."""
    from starlette.testclient import TestClient
    from starlette.websockets import WebSocketDisconnect

    from asman.server.app import create_app

    register = {"type": "register", "worker": {"id": "w1", "slots": 1}, "running": []}
    app = create_app(Settings(data_dir=tmp_path / "ws", sweep_interval_seconds=3600))
    with TestClient(app) as client:
        answers = []
        for headers in ({}, {"origin": "https://x.test"}):
            with client.websocket_connect("/q/lane/worker", headers=headers) as socket:
                socket.send_json(register)
                answers.append(socket.receive_json(mode="binary"))
            try:
                with client.websocket_connect("/q/bad%20name/worker", headers=headers) as socket:
                    socket.receive_json(mode="binary")
            except WebSocketDisconnect as closed:
                answers.append({"code": closed.code, "reason": closed.reason})
        assert answers[0] == answers[2] and answers[0]["type"] == "registered"
        assert answers[1] == answers[3] and answers[1]["code"] == 1008
