"""The web client in a real browser (Chromium through Playwright) against a real server subprocess.

Tests on `live_server` have no worker (jobs stay Queued: composer, dashboard, cancel, links); tests on `stack`
have one real worker and Docker, and watch jobs run. Screenshots land in test-artifacts/screenshots/.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import FilePayload, Frame, Locator, Page, expect

from asman.core.definition import job_id
from tests.support.browser import local_page
from tests.support.server import ServerProcess
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

Shot = Callable[[Page, str], Path]
JOB_URL = re.compile(r".*/q/(?P<queue>[^/]+)/j/(?P<job>[0-9a-f]{64})$")
RUN_TIMEOUT = 60_000


def share_hash(definition: dict[str, Any], queue: str | None, *, question_mark: bool = True) -> str:
    """The upstream hash params: job = base64(encodeURIComponent(JSON.stringify(definition)))."""
    encoded = quote(json.dumps(definition, separators=(",", ":"), ensure_ascii=False), safe="-_.!~*'()")
    params = f"job={base64.b64encode(encoded.encode()).decode()}" + (f"&queue={queue}" if queue else "")
    return ("#?" if question_mark else "#") + params


@contextlib.contextmanager
def embedding_page(src: str) -> Iterator[str]:
    """A page of another origin (a second local HTTP server) that embeds `src` in an iframe."""
    with local_page(
        '<!doctype html><meta charset="utf-8"><title>Embedding page</title><h1>Some notebook</h1>'
        f'<iframe title="Asman job" width="1000" height="760" src="{html.escape(src)}"></iframe>'
    ) as url:
        yield url


def submit(url: str, queue: str, definition: dict[str, Any]) -> str:
    response = httpx.post(f"{url}/q/{queue}", json={"definition": definition}, timeout=10)
    response.raise_for_status()
    return str(response.json()["jobId"])


def job_view(url: str, queue: str, job: str) -> dict[str, Any]:
    data: dict[str, Any] = httpx.get(f"{url}/q/{queue}/j/{job}", timeout=10).json()["data"]
    return data


def state_badge(page: Page | Frame) -> Locator:
    return page.locator(".job-state .badge")


def no_horizontal_overflow(page: Page) -> bool:
    return bool(page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth + 1"))


def unlabelled_controls(page: Page) -> list[str]:
    """Visible form controls without an accessible name."""
    found: list[str] = page.evaluate(
        """() => [...document.querySelectorAll('input, textarea, select, button')]
            .filter((el) => el.offsetParent !== null && el.type !== 'hidden')
            .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !el.getAttribute('aria-labelledby') && !(el.tagName === 'BUTTON' && el.textContent.trim()))
            .map((el) => el.outerHTML.slice(0, 120))"""
    )
    return found


# -- without a worker ---------------------------------------------------------------------------------------------


def test_compose_a_job_with_env_files_and_requirements(
    live_server: ServerProcess, page: Page, screenshot: Shot
) -> None:
    large = bytes(range(256)) * 8  # 2 KiB, binary: uploaded to /f/<sha256>
    page.goto(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Run a container on a queue")).to_be_visible()
    assert unlabelled_controls(page) == []

    # Validation: no image yet.
    page.get_by_label("Queue", exact=True).fill("web-compose")
    page.get_by_role("button", name="Run job").click()
    expect(page.get_by_role("alert")).to_contain_text("Say which image to run")
    expect(page.get_by_label("Image", exact=True)).to_be_focused()

    page.get_by_label("Image", exact=True).fill("asman/busybox:latest")
    page.get_by_label("Command", exact=True).fill('sh -c "ls /inputs"')
    page.get_by_role("button", name="+ Add variable").click()
    page.get_by_label("Variable name").fill("GREETING")
    page.get_by_label("Value").fill("hello world")
    files: list[FilePayload] = [
        {"name": "small.txt", "mimeType": "text/plain", "buffer": b"tiny text"},
        {"name": "bytes.bin", "mimeType": "application/octet-stream", "buffer": b"\x00\xff\x10"},
        {"name": "large.bin", "mimeType": "application/octet-stream", "buffer": large},
    ]
    page.locator("input[type=file]").set_input_files(files)
    expect(page.locator(".file-item")).to_have_count(3)
    page.get_by_label("CPUs").fill("1.5")
    page.get_by_label("Memory").fill("256m")
    page.get_by_label("GPUs").fill("0")
    page.get_by_label("Max duration").fill("5m")
    page.get_by_text("JSON definition and API call").click()
    expect(page.locator(".composer pre").first).to_contain_text('"GREETING": "hello world"')
    screenshot(page, "composer-filled-desktop")

    page.get_by_role("button", name="Run job").click()
    page.wait_for_url(JOB_URL)
    match = JOB_URL.match(page.url)
    assert match and match["queue"] == "web-compose"
    job = match["job"]
    expect(state_badge(page)).to_have_text("Queued")
    expect(page.locator(".worker-banner")).to_contain_text("No worker is connected to this queue")
    expect(page.locator(".worker-banner")).to_contain_text("asman worker web-compose")

    definition = job_view(live_server.url, "web-compose", job)["definition"]
    assert job_id(definition) == job
    assert definition["image"] == "asman/busybox:latest"
    assert definition["command"] == 'sh -c "ls /inputs"'
    assert definition["env"] == {"GREETING": "hello world"}
    assert definition["requirements"] == {"cpus": 1.5, "memory": "256m"}
    assert definition["maxDuration"] == "5m"
    inputs = definition["inputs"]
    assert inputs["small.txt"] == {"type": "utf8", "value": "tiny text"}
    assert inputs["bytes.bin"] == {"type": "base64", "value": base64.b64encode(b"\x00\xff\x10").decode()}
    digest = hashlib.sha256(large).hexdigest()
    assert inputs["large.bin"] == {"type": "url", "value": f"{live_server.url}/f/{digest}", "hash": digest}
    assert httpx.get(f"{live_server.url}/f/{digest}").content == large
    screenshot(page, "job-queued-desktop")


def test_new_private_queue_and_queue_picker(live_server: ServerProcess, page: Page) -> None:
    page.goto(f"{live_server.url}/")
    queue_input = page.get_by_label("Queue", exact=True)
    page.locator(".composer").get_by_role("button", name="New private queue").click()
    expect(queue_input).to_have_value(re.compile(r"^[A-Za-z0-9_-]{20,}$"))
    expect(page.locator(".composer")).to_contain_text("Private queue created")
    # The header's queue jump opens a dashboard.
    page.get_by_label("Open a queue").fill("picked-queue")
    page.get_by_label("Open a queue").press("Enter")
    page.wait_for_url(f"{live_server.url}/q/picked-queue")
    expect(page.get_by_role("heading", level=1)).to_contain_text("picked-queue")


def test_dashboard_lists_jobs_live_and_paginates(
    live_server: ServerProcess, page: Page, narrow_page: Page, screenshot: Shot
) -> None:
    queue = "web-dashboard"
    for index in range(27):
        submit(live_server.url, queue, {"image": "asman/busybox:latest", "command": f"echo job {index}"})
    page.goto(f"{live_server.url}/q/{queue}")
    expect(page.locator(".worker-banner")).to_contain_text(
        f"No worker is connected to this queue: start one with asman worker {queue}"
    )
    rows = page.locator(".table--jobs tbody tr")
    expect(rows).to_have_count(25)
    expect(page.locator(".stat--queued .stat__value")).to_have_text("27")
    expect(rows.first).to_contain_text("echo job 26")
    page.get_by_role("button", name="Load more").click()
    expect(rows).to_have_count(27)
    expect(page.get_by_role("button", name="Load more")).to_be_hidden()
    expect(page.locator(".live")).to_have_text("Live")

    # A job submitted elsewhere appears on top without a reload, and its state follows live.
    fresh = submit(live_server.url, queue, {"image": "asman/busybox:latest", "command": "echo live"})
    expect(rows).to_have_count(28)
    expect(rows.first).to_have_attribute("data-job", fresh)
    expect(rows.first).to_contain_text("echo live")
    httpx.post(f"{live_server.url}/q/{queue}/j/{fresh}/cancel").raise_for_status()
    expect(rows.first.locator(".badge")).to_have_text("Cancelled")
    expect(page.locator(".stat--queued .stat__value")).to_have_text("27")

    # Filter by state.
    page.get_by_role("radio", name="Finished").check()
    expect(rows).to_have_count(1)
    page.get_by_role("radio", name="All").check()
    expect(rows).to_have_count(25)
    screenshot(page, "dashboard-no-worker-desktop")

    # The composer opens on the dashboard with this queue selected.
    page.get_by_role("button", name="New job").click()
    expect(page.get_by_label("Queue", exact=True)).to_have_value(queue)
    expect(page.get_by_label("Image", exact=True)).to_be_focused()

    narrow_page.goto(f"{live_server.url}/q/{queue}")
    expect(narrow_page.locator(".table--jobs tbody tr")).to_have_count(25)
    assert no_horizontal_overflow(narrow_page)
    screenshot(narrow_page, "dashboard-no-worker-narrow")


def test_cancel_a_queued_job(live_server: ServerProcess, page: Page) -> None:
    queue = "web-cancel"
    job = submit(live_server.url, queue, {"image": "asman/busybox:latest", "command": "sleep 100"})
    page.goto(f"{live_server.url}/q/{queue}/j/{job}")
    expect(state_badge(page)).to_have_text("Queued")
    page.get_by_role("button", name="Cancel job").click()
    expect(state_badge(page)).to_have_text("Cancelled")
    assert job_view(live_server.url, queue, job)["finishedReason"] == "Cancelled"
    expect(page.get_by_role("button", name="Rerun")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel job")).to_have_count(0)


def test_job_ids_match_the_server(live_server: ServerProcess, page: Page) -> None:
    definitions: list[dict[str, Any]] = [
        {"image": "alpine:3.19.1", "command": "echo hello"},
        {
            "image": "python:3.12",
            "command": "python -c 'print(\"é ✓ 😀\")'",
            "env": {"B": "2", "A": "1", "mp_x": "y"},
            "requirements": {"cpus": 1.0, "gpus": 1, "memory": "1g"},
            "tags": ["a", "b"],
            "unknown": {"x": 1},
            "inputs": {"a.txt": {"type": "utf8", "value": "x", "hash": "ignored"}},
        },
        {"build": {"dockerfile": "FROM scratch\n", "buildArgs": ["A=1"]}, "maxDuration": "2m", "v": 1},
    ]
    page.goto(f"{live_server.url}/")
    computed = page.evaluate(
        "async (defs) => { const m = await import('/static/js/jobid.js'); return Promise.all(defs.map(m.jobId)); }",
        definitions,
    )
    assert computed[0] == "0b6397b71c6c72e7845bf1113894f6d9567b8e66800d0803940c5b58ed63a001"
    assert computed == [job_id(definition) for definition in definitions]
    fallback = page.evaluate(
        "async () => { const m = await import('/static/js/sha256.js');"
        " return [m.sha256Fallback(''), m.sha256Fallback('a'.repeat(1000))]; }"
    )
    assert fallback == [hashlib.sha256(b"").hexdigest(), hashlib.sha256(b"a" * 1000).hexdigest()]
    # Links in the wild: padding escaped as %3D, or dropped; both decode.
    link_value = share_hash(definitions[1], None).removeprefix("#?job=")
    decoded = page.evaluate(
        "async (values) => { const m = await import('/static/js/share.js');"
        " return values.map((v) => m.decodeJob(m.parseHash('#?job=' + v).params.job)); }",
        [link_value, link_value.rstrip("=") + "%3D" * link_value.count("="), link_value.rstrip("=")],
    )
    assert decoded == [definitions[1]] * 3


def test_shared_link_opens_the_job(live_server: ServerProcess, page: Page, screenshot: Shot) -> None:
    queue = "web-share"
    definition = {"image": "asman/busybox:latest", "command": "echo shared ✓"}
    expected = job_id(definition)

    # A link to a job that never ran here shows it with a Run button; with `autostart` it submits it.
    page.goto(f"{live_server.url}/{share_hash(definition, queue)}")
    expect(page.locator("h1")).to_contain_text(expected[:12])
    expect(page.get_by_role("button", name="Run", exact=True)).to_be_visible()
    assert httpx.get(f"{live_server.url}/q/{queue}/j/{expected}").status_code == 404
    page.goto(f"{live_server.url}/{share_hash(definition, queue)}&autostart=true")
    expect(state_badge(page)).to_have_text("Queued")
    assert job_view(live_server.url, queue, expected)["state"] == "Queued"

    # The same link without `?` after `#`, and the page's own share link, open the same job.
    page.goto(f"{live_server.url}/{share_hash(definition, queue, question_mark=False)}")
    expect(page.locator("h1")).to_contain_text(expected[:12])
    share = page.get_by_role("textbox", name="Shareable link").input_value()
    assert share.startswith(f"{live_server.url}/#?job=") and share.endswith(f"&queue={queue}")
    page.goto("about:blank")
    page.goto(share)
    expect(page.locator("h1")).to_contain_text(expected[:12])
    screenshot(page, "shared-link-desktop")

    # Old links: plain base64 of the JSON.
    old = base64.b64encode(json.dumps(definition).encode()).decode()
    page.goto(f"{live_server.url}/#?job={old}&queue={queue}")
    expect(page.locator("h1")).to_contain_text(expected[:12])

    # No queue in the link: the composer opens with the job, asking for a queue.
    page.goto(f"{live_server.url}/{share_hash(definition, None)}")
    expect(page.get_by_text("This link carries a job but no queue")).to_be_visible()
    expect(page.get_by_label("Image", exact=True)).to_have_value("asman/busybox:latest")
    expect(page.get_by_label("Command", exact=True)).to_have_value("echo shared ✓")

    # "Edit as new job" carries the definition to the composer.
    page.goto(f"{live_server.url}/q/{queue}/j/{expected}")
    page.get_by_role("link", name="Edit as new job").click()
    expect(page.get_by_label("Command", exact=True)).to_have_value("echo shared ✓")
    expect(page.get_by_label("Queue", exact=True)).to_have_value(queue)

    # Embedded in an iframe on a page of another origin.
    with embedding_page(f"{live_server.url}/{share_hash(definition, queue)}") as host:
        page.goto(host)
        frame = page.frame_locator("iframe")
        expect(frame.locator("h1")).to_contain_text(expected[:12])
        expect(frame.locator(".job-state .badge")).to_have_text("Queued")
        screenshot(page, "shared-link-in-iframe-desktop")


def test_server_unreachable_banner(live_server: ServerProcess, page: Page, screenshot: Shot) -> None:
    page.goto(f"{live_server.url}/q/web-down")
    expect(page.locator(".live")).to_have_text("Live")
    expect(page.locator("#net-banner")).to_be_hidden()
    live_server.stop()
    expect(page.locator("#net-banner")).to_be_visible(timeout=20_000)
    expect(page.locator("#net-banner")).to_contain_text("Cannot reach the Asman server")
    expect(page.locator(".live")).to_have_text("Reconnecting…")
    screenshot(page, "server-unreachable-desktop")


def test_unknown_pages(live_server: ServerProcess, page: Page) -> None:
    page.goto(f"{live_server.url}/q/web-missing/j/{'0' * 64}")
    expect(page.locator(".notice--warn")).to_contain_text("No job 000000000000 in queue web-missing")
    page.goto(f"{live_server.url}/q/web-missing", wait_until="commit")
    expect(page.locator(".worker-banner")).to_be_visible()


# -- with a worker -----------------------------------------------------------------------------------------------


@pytest.mark.docker
def test_run_a_job_watch_logs_and_download_outputs(
    stack: Stack, page: Page, narrow_page: Page, screenshot: Shot, tmp_path: Path
) -> None:
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
    )
    page.goto(f"{stack.url}/q/{stack.queue}")
    page.get_by_role("button", name="New job").click()
    page.get_by_label("Image", exact=True).fill(stack.image)
    page.get_by_label("Command", exact=True).fill(
        "sh -c 'echo hello from asman; echo problem >&2; echo result-data > /outputs/result.txt;"
        " cp /inputs/dot.png /outputs/dot.png; head -c 3000 /inputs/big.txt > /outputs/big.txt; echo $GREETING'"
    )
    page.get_by_role("button", name="+ Add variable").click()
    page.get_by_label("Variable name").fill("GREETING")
    page.get_by_label("Value").fill("hi there")
    files: list[FilePayload] = [
        {"name": "dot.png", "mimeType": "image/png", "buffer": png},
        {"name": "big.txt", "mimeType": "text/plain", "buffer": b"abcdefghij" * 400},
    ]
    page.locator("input[type=file]").set_input_files(files)
    page.get_by_role("button", name="Run job").click()
    page.wait_for_url(JOB_URL)
    match = JOB_URL.match(page.url)
    assert match
    job = match["job"]

    expect(state_badge(page)).to_have_attribute("data-reason", "Success", timeout=RUN_TIMEOUT)
    expect(state_badge(page)).to_have_text("Success")
    out = page.locator(".log-line:not(.log-line--err)")
    err = page.locator(".log-line.log-line--err")
    expect(out.filter(has_text="hello from asman")).to_have_count(1)
    expect(out.filter(has_text="hi there")).to_have_count(1)
    expect(err.filter(has_text="problem")).to_have_count(1)

    outputs = page.locator(".output-item")
    expect(outputs).to_have_count(3)
    result_item = outputs.filter(has_text="result.txt")
    expect(result_item.locator(".output-text")).to_have_text("result-data\n")
    expect(outputs.filter(has_text="dot.png").locator("img")).to_be_visible()
    assert page.evaluate("document.querySelector('.output-image').naturalWidth") == 1
    expect(outputs.filter(has_text="big.txt").locator(".output-text")).to_contain_text("abcdefghij")
    with page.expect_download() as download_info:
        result_item.get_by_role("link", name="Download result.txt").click()
    saved = tmp_path / "result.txt"
    download_info.value.save_as(saved)
    assert saved.read_text() == "result-data\n"
    with page.expect_download() as download_info:
        outputs.filter(has_text="big.txt").get_by_role("link").click()
    download_info.value.save_as(tmp_path / "big.txt")
    assert (tmp_path / "big.txt").read_bytes() == (b"abcdefghij" * 400)[:3000]
    screenshot(page, "job-finished-desktop")

    narrow_page.goto(page.url)
    expect(state_badge(narrow_page)).to_have_text("Success")
    expect(narrow_page.locator(".log-line")).to_have_count(3)
    assert no_horizontal_overflow(narrow_page)
    screenshot(narrow_page, "job-finished-narrow")

    # Rerun: the result is dropped and the job runs again.
    first_time = job_view(stack.url, stack.queue, job)["results"]["time"]
    page.get_by_role("button", name="Rerun").click()
    expect(state_badge(page)).not_to_have_text("Success", timeout=10_000)
    expect(state_badge(page)).to_have_attribute("data-reason", "Success", timeout=RUN_TIMEOUT)
    assert job_view(stack.url, stack.queue, job)["results"]["time"] != first_time
    expect(page.locator(".log-line").filter(has_text="hello from asman")).to_have_count(1)

    # Copy to another queue: another trust domain (docs/security.md), so it waits there for that queue's workers.
    page.get_by_label("Target queue").fill(f"{stack.queue}-copy")
    page.get_by_role("button", name="Copy to queue").click()
    page.wait_for_url(f"{stack.url}/q/{stack.queue}-copy/j/{job}")
    expect(state_badge(page)).to_have_text("Queued")


@pytest.mark.docker
def test_cancel_a_running_job(stack: Stack, page: Page, screenshot: Shot) -> None:
    job = stack.submit({"image": stack.image, "command": "sh -c 'echo started; sleep 120'"})
    page.goto(f"{stack.url}/q/{stack.queue}/j/{job}")
    expect(state_badge(page)).to_have_text("Running", timeout=RUN_TIMEOUT)
    expect(page.locator(".log-line").filter(has_text="started")).to_have_count(1, timeout=RUN_TIMEOUT)
    expect(page.locator(".summary-card")).to_contain_text(stack.workers[0].worker_id)
    screenshot(page, "job-running-desktop")
    started = time.monotonic()
    page.get_by_role("button", name="Cancel job").click()
    expect(state_badge(page)).to_have_text("Cancelled", timeout=30_000)
    assert time.monotonic() - started < 30
    assert stack.wait_finished(job)["finishedReason"] == "Cancelled"


@pytest.mark.docker
def test_shared_link_of_a_finished_job_shows_its_result_at_once(
    stack: Stack, page: Page, screenshot: Shot
) -> None:
    definition: dict[str, object] = {
        "image": stack.image,
        "command": "sh -c 'echo shared result; echo 42 > /outputs/answer.txt'",
    }
    job = stack.submit(definition)
    finished = stack.wait_finished(job)
    page.goto(f"{stack.url}/{share_hash(definition, stack.queue)}")
    expect(state_badge(page)).to_have_text("Success")
    expect(page.locator(".log-line").filter(has_text="shared result")).to_have_count(1)
    expect(page.locator(".output-item").filter(has_text="answer.txt").locator(".output-text")).to_have_text(
        "42\n"
    )
    assert job_view(stack.url, stack.queue, job)["attempt"] == finished["attempt"]  # not run again
    screenshot(page, "shared-link-finished-desktop")


@pytest.mark.docker
def test_dashboard_shows_the_worker_and_jobs_live(
    stack: Stack, page: Page, narrow_page: Page, screenshot: Shot
) -> None:
    worker = stack.workers[0].worker_id
    page.goto(f"{stack.url}/q/{stack.queue}")
    expect(page.locator(".table--workers")).to_contain_text(worker)
    expect(page.locator(".worker-banner")).to_have_count(0)
    expect(page.locator(".stat--workers .stat__value")).to_have_text("1")
    expect(page.locator(".live")).to_have_text("Live")  # subscribed: the job's events cannot be missed

    # Long enough to be seen Running on a loaded machine, on both pages.
    job = stack.submit({"image": stack.image, "command": "sh -c 'echo working; sleep 8'"})
    row = page.locator(f'.table--jobs tr[data-job="{job}"]')
    expect(row.locator(".badge")).to_have_text("Running", timeout=RUN_TIMEOUT)
    expect(row).to_contain_text(worker)
    expect(page.locator(".table--workers")).to_contain_text(job[:12])
    # The counters follow the events too, and this page is a watcher.
    expect(page.locator(".stat--running .stat__value")).to_have_text("1")
    expect(page.locator(".stat").filter(has_text="Watcher")).to_contain_text("1")
    screenshot(page, "dashboard-running-desktop")
    narrow_page.goto(f"{stack.url}/q/{stack.queue}")
    expect(narrow_page.locator(".table--workers")).to_contain_text(worker)
    assert no_horizontal_overflow(narrow_page)
    screenshot(narrow_page, "dashboard-running-narrow")
    expect(row.locator(".badge")).to_have_text("Success", timeout=RUN_TIMEOUT)
    expect(page.locator(".stat--finished .stat__value")).to_have_text("1")

    row.get_by_role("link").click()
    page.wait_for_url(f"{stack.url}/q/{stack.queue}/j/{job}")
    expect(state_badge(page)).to_have_text("Success")
    expect(page.locator(".log-line").filter(has_text="working")).to_have_count(1)


@pytest.mark.docker
def test_dashboard_shows_exit_codes_live_and_after_a_reload(stack: Stack, page: Page) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{stack.url}/q/{stack.queue}")
    expect(page.locator(".live")).to_have_text("Live")
    job = stack.submit({"image": stack.image, "command": "sh -c 'exit 3'"})
    row = page.locator(f'.table--jobs tr[data-job="{job}"]')
    expect(row.locator(".badge")).to_have_text("Exit 3", timeout=RUN_TIMEOUT)  # from the Finished event
    page.reload()
    expect(row.locator(".badge")).to_have_text("Exit 3")  # from the listing
    # Exit codes come with the summaries: the dashboard fetches no results for them.
    assert not [url for url in requested if url.endswith("/result.json")]


@pytest.mark.docker
def test_build_from_an_inline_dockerfile(stack: Stack, page: Page) -> None:
    page.goto(f"{stack.url}/q/{stack.queue}")
    page.get_by_role("button", name="New job").click()
    page.get_by_role("radio", name="Build one").check()
    expect(page.get_by_label("Image", exact=True)).to_be_hidden()
    page.get_by_label("Dockerfile").fill(f"FROM {stack.image}\nRUN echo built-in-browser > /built.txt\n")
    page.get_by_label("Command", exact=True).fill("cat /built.txt")
    page.get_by_role("button", name="Run job").click()
    page.wait_for_url(JOB_URL)
    expect(state_badge(page)).to_have_attribute("data-reason", "Success", timeout=RUN_TIMEOUT)
    expect(page.locator(".logs-card").last.locator(".log-line")).to_have_text(re.compile("built-in-browser"))
    expect(page.get_by_role("heading", name="Build logs")).to_be_visible()
