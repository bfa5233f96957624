"""The web client's vendored libraries are exactly the npm files their pins name (scripts/vendor-web.py)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "src" / "asman" / "web" / "static"
VENDOR = STATIC / "vendor"
PINS = json.loads((VENDOR / "vendor.json").read_text())["files"]


def test_vendored_files_match_their_pinned_checksums() -> None:
    assert {pin["package"] for pin in PINS} == {"@metapages/metapage", "ansi_up", "swagger-ui-dist"}
    for pin in PINS:
        assert pin["version"] in pin["to"], pin
        for name, want in ((pin["to"], pin["sha256"]), (pin["licenceTo"], pin["licenceSha256"])):
            assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == want, name


def test_the_client_imports_only_pinned_vendor_files_and_nothing_remote() -> None:
    pinned = {pin["to"] for pin in PINS}
    for path in (STATIC / "js").glob("*.js"):
        text = path.read_text()
        for used in re.findall(r"""["'](?:\.\./|/static/)vendor/([^"']+)["']""", text):
            assert used in pinned, f"{path.name} imports unpinned vendor/{used}"
        assert not re.search(r"""import[^;]*["']https?://""", text), f"{path.name} imports from the network"
