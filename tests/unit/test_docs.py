"""Docs that cannot drift: every setting and every endpoint is documented."""

from __future__ import annotations

import re
from pathlib import Path

from asman.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_endpoint_is_documented() -> None:
    from asman.server.app import create_app

    text = (ROOT / "docs" / "api.md").read_text()
    schema = create_app(Settings()).openapi()
    for path in schema["paths"]:
        assert re.search(r"[` ]" + re.escape(path) + r"[`, ]", text), path
