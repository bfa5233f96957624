"""The browser client: static files shipped inside the package, no build step, nothing from a CDN."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"

_FALLBACK = """<!doctype html><meta charset="utf-8"><title>Asman</title>
<p>The Asman API is running. The web client files are missing from this installation.</p>"""


def index_page() -> Response:
    index = STATIC_DIR / "index.html"
    if index.is_file():
        return FileResponse(index, media_type="text/html", headers={"Cache-Control": "no-cache"})
    return HTMLResponse(_FALLBACK)


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
        # Public files, whatever ASMAN_CORS_ORIGINS says: metapages of any origin import the vendored library.
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response
