"""A real browser speaks upstream's client socket: Chromium loads a small page of another origin whose script
opens `/q/<queue>/client` as upstream's browser does (the stray "undefined" first, PING, then the submit frame),
and a real worker runs the job in a container."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page

from asman.core.definition import job_id
from tests.support.browser import local_page
from tests.support.server import run_of
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

PAGE = """<!doctype html><meta charset="utf-8"><title>Upstream-style client</title>
<script>
window.frames_ = []; window.pongs = 0; window.states = [];
function run(socketUrl, job, definition) {
  const ws = new WebSocket(socketUrl);
  ws.onopen = () => {
    ws.send("undefined");
    ws.send("PING");
    ws.send(JSON.stringify({type: "StateChange", payload: {state: "Queued", job, tag: "", value: {
      type: "Queued", time: Date.now(), enqueued: {id: job, definition, control: {namespace: "_"}}}}}));
  };
  ws.onmessage = (event) => {
    if (event.data === "PONG") { window.pongs += 1; return; }
    const message = JSON.parse(event.data);
    window.frames_.push(message.type);
    if (message.type === "JobStates" || message.type === "JobStateUpdates") {
      const seen = message.payload.state.jobs[job];
      if (seen && window.states[window.states.length - 1] !== seen.state) {
        window.states.push(seen.state);
        if (seen.state === "Finished") { window.finished = seen; ws.close(); }
      }
    }
  };
}
</script><h1>client socket</h1>"""


@pytest.fixture
def page_url() -> Iterator[str]:
    with local_page(PAGE) as url:
        yield url


def test_a_browser_submits_over_the_client_socket_and_sees_it_finish(
    stack: Stack, page: Page, page_url: str
) -> None:
    page.goto(page_url)
    definition: dict[str, Any] = {"image": stack.image, "command": "sh -c 'sleep 1 && echo from-chromium'"}
    job = job_id(definition)
    socket_url = stack.url.replace("http://", "ws://") + f"/q/{stack.queue}/client"
    page.evaluate(f"run({json.dumps(socket_url)}, {json.dumps(job)}, {json.dumps(definition)})")
    try:
        page.wait_for_function("window.finished !== undefined", timeout=30_000)
    except PlaywrightError:
        state = page.evaluate("({frames: window.frames_, states: window.states, pongs: window.pongs})")
        raise AssertionError(
            f"the page never saw the job finish: {state}\n{stack.server.log()[-3000:]}"
        ) from None

    finished: dict[str, Any] = page.evaluate("window.finished")
    assert finished["finishedReason"] == "Success"
    assert finished["worker"] == stack.workers[0].worker_id
    assert page.evaluate("window.states") == ["Queued", "Running", "Finished"]
    assert page.evaluate("window.pongs") == 1
    frames: list[str] = page.evaluate("window.frames_")
    assert frames[:2] == ["Workers", "JobStates"] and "Error" not in frames
    assert "JobStatusPayload" in frames
    logs = run_of(stack.job(job))["logs"]
    assert "from-chromium" in "".join(line[0] for line in logs)
