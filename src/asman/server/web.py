"""The browser client: static files shipped inside the package, no build step, nothing from a CDN."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from asman.server.origins import Origins

STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"

_FALLBACK = """<!doctype html><meta charset="utf-8"><title>Asman</title>
<p>The Asman API is running. The web client files are missing from this installation.</p>"""


def page_headers(origins: Origins) -> dict[str, str]:
    """The headers of the web client's pages and /docs.

    Scripts and styles come from this server only (the client has no inline script; ansi_up colours logs
    with style attributes). The client talks to any queue server a link names, this one or another, so
    connections may go anywhere. The page is a metaframe: pages that may use the API (ASMAN_CORS_ORIGINS)
    may embed it, and with `*` any page may, as metapages of every origin do."""
    ancestors = "*" if origins.any else " ".join(["'self'", *sorted(origins.allowed)])
    policy = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline';"
        " img-src 'self' data: blob: http: https:; connect-src 'self' http: https: ws: wss:;"
        f" object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors {ancestors}"
    )
    return {
        "Content-Security-Policy": policy,
        **ASSET_HEADERS,
        "Cache-Control": "no-cache",
    }


# Every file of the client: no guessing of types, no leaking of the page's address (job ids are capabilities).
ASSET_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def index_page(headers: dict[str, str]) -> Response:
    return _page("index.html", headers)


def docs_page(headers: dict[str, str]) -> Response:
    return _page("docs.html", headers)


def _page(name: str, headers: dict[str, str]) -> Response:
    page = STATIC_DIR / name
    if page.is_file():
        return FileResponse(page, media_type="text/html", headers=headers)
    return HTMLResponse(_FALLBACK, headers=headers)


# Upstream's system hash params (UPSTREAM-WIRE.md §9): the metapage editor offers these for the metaframe.
HASH_PARAMS = (
    "allowsetjob", "autostart", "config", "control", "debug", "definition", "ignoreQueueOverride", "inputs",
    "job", "maxJobDuration", "queue", "queueOverride", "resolverefs", "terminal",
)  # fmt: skip

METAFRAME = {
    "version": "2",
    "metadata": {"title": "Asman: run a container job", "author": "Asman"},
    "allow": "clipboard-write",
    "inputs": {},
    "outputs": {},
    "hashParams": list(HASH_PARAMS),
}


class WebAssets(StaticFiles):
    """The client's files, revalidated on every load so an upgraded server never runs with stale JS."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        response.headers.update(ASSET_HEADERS)
        # Public files, whatever ASMAN_CORS_ORIGINS says: metapages of any origin import the vendored library.
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response
