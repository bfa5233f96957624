"""Docs that cannot drift: every setting and every endpoint is documented."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from asman.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_server_setting_is_documented() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    for field in fields(Settings):
        assert f"ASMAN_{field.name.upper()}" in text or field.name == "ttl_seconds", field.name


def test_every_worker_flag_is_documented() -> None:
    source = (ROOT / "src" / "asman" / "cli" / "work.py").read_text()
    text = (ROOT / "docs" / "configuration.md").read_text()
    for flag in re.findall(r'typer\.Option\(\s*"(--[a-z-]+)"', source):
        assert f"`{flag}" in text, flag
    for variable in re.findall(r'envvar="(ASMAN_WORKER_[A-Z_]+)"', source):
        assert variable in text, variable


def test_every_endpoint_is_documented() -> None:
    from asman.server.app import create_app

    text = (ROOT / "docs" / "api.md").read_text()
    schema = create_app(Settings()).openapi()
    for path in schema["paths"]:
        assert re.search(r"[` ]" + re.escape(path) + r"[`, ]", text), path
