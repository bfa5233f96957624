"""The web client as a metaframe: a metapage built from the vendored @metapages/metapage embeds it, sends it
inputs, and gets the job's outputs back (UPSTREAM-WIRE.md §9); and upstream-encoded links give upstream's job id.
The host page is served by a loopback server of its own, another origin than Asman's, as a real metapage is."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Page, expect

from asman.core.definition import job_id
from tests.support.browser import local_page
from tests.support.server import ServerProcess
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

Shot = Callable[[Page, str], Path]
RUN_TIMEOUT = 60_000
SHORT = "hello metapage"
BIG = "0123456789abcdef" * 640  # 10 KiB: over upstream's 200-character threshold, so uploaded as a blob


def upstream_param(value: Any) -> str:
    """What upstream's hash-query writes for a JSON param: btoa(encodeURIComponent(JSON.stringify(value)))."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return base64.b64encode(quote(text, safe="-_.!~*'()").encode()).decode()


def host_page(asman: str, src: str) -> str:
    return f"""<!doctype html><meta charset="utf-8"><title>Metapage host</title>
<style>body{{font:15px system-ui;margin:24px}} iframe{{width:1100px;height:820px;border:1px solid #bbb;
border-radius:8px}} pre{{background:#f4f4f4;padding:8px;max-height:200px;overflow:auto}}</style>
<h1>A metapage with one Asman metaframe</h1><div id="frame"></div><h2>Outputs received</h2><pre id="out">none</pre>
<script type="module">
import {{ Metapage }} from "{asman}/static/vendor/metapage-1.10.10.js";
window.received = [];
const metapage = await Metapage.from({{ version: "2", metaframes: {{ asman: {{ url: {json.dumps(src)} }} }} }});
const iframe = await metapage.getMetaframe("asman").iframe;
document.getElementById("frame").append(iframe);
metapage.onOutputs((outputs) => {{
  window.received.push(outputs);
  document.getElementById("out").textContent = JSON.stringify(outputs, null, 1).slice(0, 1500);
}});
window.metapage = metapage;
</script>"""


def outputs_of(page: Page) -> dict[str, Any]:
    page.wait_for_function(
        "window.received && window.received.some((o) => o.asman && Object.keys(o.asman).length)",
        timeout=RUN_TIMEOUT,
    )
    merged: dict[str, Any] = {}
    for outputs in page.evaluate("window.received"):
        merged.update(outputs.get("asman", {}))
    return merged


def text_of(ref: dict[str, Any]) -> str:
    """An output DataRef as sent, unresolved: small files travel inline (utf8 or base64)."""
    value = str(ref["value"])
    return base64.b64decode(value).decode() if ref["type"] == "base64" else value


COMMAND = (
    "sh -c 'cat /inputs/short.txt > /outputs/short.txt; wc -c < /inputs/big.txt > /outputs/size.txt;"
    ' printf "\\033[32mgreen ${WHO}\\033[0m\\n"\''
)


def expected_definition(stack: Stack, image: str, env: dict[str, str]) -> dict[str, Any]:
    digest = hashlib.sha256(BIG.encode()).hexdigest()
    return {
        "image": image,
        "command": COMMAND,
        "env": env,
        "inputs": {
            "short.txt": {"type": "utf8", "value": SHORT},
            "big.txt": {"type": "url", "value": f"{stack.url}/f/{digest}", "hash": digest},
        },
    }


@pytest.mark.docker
def test_a_metapage_sends_inputs_and_gets_outputs(stack: Stack, page: Page, screenshot: Shot) -> None:
    job = {"image": stack.image, "command": COMMAND}
    src = f"{stack.url}/#?autostart=true&job={upstream_param(job)}&queue={stack.queue}&WHO=metapage"
    with local_page(host_page(stack.url, src)) as url:
        page.goto(url)
        page.wait_for_function("window.metapage !== undefined")
        page.evaluate(
            "([a, b]) => window.metapage.setInputs({asman: {'short.txt': a, '/big.txt': b}})", [SHORT, BIG]
        )
        outputs = outputs_of(page)
        assert text_of(outputs["short.txt"]) == SHORT
        assert text_of(outputs["size.txt"]).strip() == str(len(BIG))
        definition = expected_definition(stack, stack.image, {"WHO": "metapage"})
        definition["command"] = definition["command"].replace("${WHO}", "metapage")
        expected = job_id(definition)
        frame = page.frame_locator("iframe")
        expect(frame.locator("h1")).to_contain_text(expected[:12])
        assert stack.job(expected)["state"] == "Finished"
        digest = hashlib.sha256(BIG.encode()).hexdigest()
        assert httpx.get(f"{stack.url}/f/{digest}").text == BIG
        expect(frame.locator(".log-line .log-text").first).to_contain_text("green metapage")
        screenshot(page, "metapage-embedded")


@pytest.mark.docker
def test_allowsetjob_and_resolverefs(stack: Stack, page: Page) -> None:
    src = f"{stack.url}/#?allowsetjob=true&autostart=true&queue={stack.queue}&resolverefs=true"
    job = {
        "image": stack.image,
        "command": "sh -c 'echo from-input-job; cp /inputs/big.txt /outputs/copy.txt'",
    }
    with local_page(host_page(stack.url, src)) as url:
        page.goto(url)
        page.wait_for_function("window.metapage !== undefined")
        page.evaluate("([job, b]) => window.metapage.setInputs({asman: {job, 'big.txt': b}})", [job, BIG])
        outputs = outputs_of(page)
    copy = outputs["copy.txt"]  # over the threshold: a url ref on the wire, resolved to its bytes
    assert copy["_s"] is True and copy["_c"] == "Blob" and copy["size"] == len(BIG)
    assert base64.b64decode(copy["value"]).decode() == BIG
    result = outputs["job/result.json"]
    assert result["statusCode"] == 0 and result["isTimedOut"] is False
    assert [line[0] for line in result["stdout"]] == ["from-input-job"]
    assert result["url"].startswith(f"{stack.url}/q/{stack.queue}/j/")


def test_metaframe_json_and_an_upstream_link(live_server: ServerProcess, page: Page) -> None:
    described = httpx.get(f"{live_server.url}/metaframe.json").json()
    assert described["version"] == "2" and len(described["hashParams"]) == 14
    # Made as upstream's browser makes it: the definition with `${key}` params, the params beside it, raw.
    job = {"image": "alpine:3.19.1", "command": "echo ${GREETING} ${NAME}"}
    hash_ = f"#?GREETING=hi&NAME=world&job={upstream_param(job)}&queue=web-upstream-link"
    expected = job_id(
        {"image": "alpine:3.19.1", "command": "echo hi world", "env": {"GREETING": "hi", "NAME": "world"}}
    )
    page.goto(f"{live_server.url}/{hash_}")
    expect(page.locator("h1")).to_contain_text(expected[:12])
    # No autostart: shown with a Run button, not submitted.
    expect(page.locator(".job-state")).to_contain_text("Not run yet")
    assert httpx.get(f"{live_server.url}/q/web-upstream-link/j/{expected}").status_code == 404
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator(".job-state .badge")).to_have_text("Queued")
    view = httpx.get(f"{live_server.url}/q/web-upstream-link/j/{expected}").json()["data"]
    assert view["definition"]["command"] == "echo hi world"
    assert view["definition"]["env"] == {"GREETING": "hi", "NAME": "world"}
    expect(page.locator(".worker-banner")).to_contain_text("No worker is connected to this queue")
    # Upstream's short link to a live job.
    page.goto(f"{live_server.url}/j/{expected}#?queue=web-upstream-link")
    expect(page.locator(".job-state .badge")).to_have_text("Queued")


@pytest.mark.docker
def test_colour_logs_search_line_links_and_served_queues(stack: Stack, page: Page, screenshot: Shot) -> None:
    page.goto(f"{stack.url}/")
    # The composer offers the queue that has a worker.
    expect(page.locator(".served-queues")).to_contain_text(stack.queue)
    expect(page.get_by_label("Queue", exact=True)).to_have_value(stack.queue)
    screenshot(page, "composer-served-queue")
    script = "; ".join(
        [f'printf "\\033[3{n}mcolour {n}\\033[0m line\\n"' for n in range(1, 7)]
        + [
            'echo "plain needle here"',
            'echo "on stderr" >&2',
            'printf "\\033[1;31mbold red needle\\033[0m\\n"',
        ]
    )
    job = stack.submit({"image": stack.image, "command": f"sh -c '{script}'"})
    stack.wait_finished(job)
    page.goto(f"{stack.url}/q/{stack.queue}/j/{job}")
    logs = page.locator(".logs-card").last
    expect(logs.locator(".log-line")).to_have_count(9)
    # stdout and stderr reach the engine through separate pipes, so only the order within a stream is fixed.
    expect(logs.locator(".log-line", has_text="colour 1").locator(".ansi-red-fg")).to_have_text("colour 1")
    assert "\x1b" not in logs.locator(".log-panel").inner_text()
    logs.get_by_label("Search logs").fill("needle")
    expect(logs.locator(".log-matches")).to_have_text("2 matches")
    expect(logs.locator(".log-line--hit")).to_have_count(2)
    screenshot(page, "job-colour-logs-search")
    logs.locator(".log-num").nth(6).click()
    assert page.url.endswith("#L7")
    expect(logs.locator("#L7")).to_have_class(re.compile("log-line--linked"))
    page.reload()
    expect(page.locator("#L7")).to_have_class(re.compile("log-line--linked"))
    with page.expect_download() as download:
        logs.get_by_role("button", name="Download").click()
    assert "colour 1 line" in Path(download.value.path()).read_text()
