"""Fetch the web client's vendored browser libraries with npm and check them against their pinned sha256.

The pins live in src/asman/web/static/vendor/vendor.json (package, version, file inside the package, sha256, and
the same for its licence). The web client has no build step, so each library is one ES module file served as it
is; a changed upstream tarball fails here instead of reaching users.

    python scripts/vendor-web.py          # fetch with `npm pack`, check, write into vendor/
    python scripts/vendor-web.py --check  # only check the files already in vendor/ (no network)

To move to a new version: change `version`, run once, review the diff, then put the printed sums in vendor.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[1] / "src" / "asman" / "web" / "static" / "vendor"


def pins() -> list[dict[str, str]]:
    files: list[dict[str, str]] = json.loads((VENDOR / "vendor.json").read_text())["files"]
    return files


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check() -> list[str]:
    problems = []
    for pin in pins():
        for name, want in ((pin["to"], pin["sha256"]), (pin["licenceTo"], pin["licenceSha256"])):
            path = VENDOR / name
            got = sha256(path.read_bytes()) if path.is_file() else "missing"
            if got != want:
                problems.append(f"{name}: sha256 {got}, pinned {want}")
    return problems


def fetch() -> list[str]:
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        for pin in pins():
            spec = f"{pin['package']}@{pin['version']}"
            out = subprocess.run(
                ["npm", "pack", "--silent", "--pack-destination", tmp, spec],
                check=True,
                capture_output=True,
                text=True,
            )
            with tarfile.open(Path(tmp) / out.stdout.strip().splitlines()[-1]) as tar:
                for member, target, want in (
                    (pin["from"], pin["to"], pin["sha256"]),
                    (pin["licence"], pin["licenceTo"], pin["licenceSha256"]),
                ):
                    extracted = tar.extractfile(f"package/{member}")
                    data = extracted.read() if extracted else b""
                    if sha256(data) != want:
                        problems.append(f"{spec} {member}: sha256 {sha256(data)}, pinned {want}")
                        continue
                    (VENDOR / target).write_bytes(data)
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="check the vendored files only")
    problems = check() if parser.parse_args().check else fetch()
    for problem in problems:
        print(problem, file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
