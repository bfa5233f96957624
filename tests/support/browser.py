"""Browser fixtures: Debian's Chromium driven by Python Playwright (its own browser download does not work here).

`browser` is one headless Chromium per session; `page` is a fresh desktop-sized context per test and
`narrow_page` a phone-sized one. Both fail the test on an uncaught JavaScript error in the page. `screenshot(page,
name)` saves a full-page PNG under test-artifacts/screenshots/ (gitignored). `local_page(html)` serves a page
from a loopback server of its own, an origin other than Asman's.
"""

from __future__ import annotations

import contextlib
import http.server
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Error, Page, ViewportSize, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
NARROW: ViewportSize = {"width": 390, "height": 844}


def _ensure_chromium() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    if shutil.which("apt-get"):
        subprocess.run(
            ["apt-get", "install", "-y", "chromium"], capture_output=True, timeout=600, check=False
        )
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed (apt-get install -y chromium) and could not be installed")
    return CHROMIUM


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = _ensure_chromium()
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


class PageErrors:
    """Uncaught errors of a page, checked when the test ends."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def __call__(self, error: Error) -> None:
        self.errors.append(str(error))


def _new_page(browser: Browser, viewport: ViewportSize, *, mobile: bool = False) -> Iterator[Page]:
    if mobile:
        context = browser.new_context(
            viewport=viewport, is_mobile=True, has_touch=True, device_scale_factor=2
        )
    else:
        context = browser.new_context(viewport=viewport, accept_downloads=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors = PageErrors()
    page.on("pageerror", errors)
    try:
        yield page
    finally:
        context.close()
    assert not errors.errors, f"JavaScript errors in the page: {errors.errors}"


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    yield from _new_page(browser, DESKTOP)


@pytest.fixture
def narrow_page(browser: Browser) -> Iterator[Page]:
    yield from _new_page(browser, NARROW, mobile=True)


@pytest.fixture
def screenshot() -> Callable[[Page, str], Path]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.evaluate("window.scrollTo(0, 0)")  # a sticky header would otherwise sit mid-page in the capture
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@contextlib.contextmanager
def local_page(html: str) -> Iterator[str]:
    """The URL of `html` served from 127.0.0.1 on a port of its own. (A page Playwright fulfils itself counts
    as public, and Chromium's local-network checks then refuse its requests to a loopback server.)"""
    body = html.encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
