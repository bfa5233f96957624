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


def test_every_job_definition_field_is_in_jobs_md() -> None:
    from asman.core.definition import BuildSpec, DataRef, JobDefinition, Requirements

    text = (ROOT / "docs" / "jobs.md").read_text()
    names = [name for name in JobDefinition.model_fields if name not in ("build", "requirements")]
    names += [f"build.{name}" for name in BuildSpec.model_fields]
    names += [f"requirements.{name}" for name in Requirements.model_fields]
    for name in names:
        assert f"| `{name}` |" in text, f"docs/jobs.md has no row for {name}"
    for kind in ("utf8", "base64", "json", "url"):
        assert f"| `{kind}`" in text, kind
    assert set(DataRef.model_fields) == {"value", "type", "hash"}
    for seen in ("/inputs", "/outputs", "/job-cache", "JOB_ID", "JOB_INPUTS", "JOB_OUTPUTS", "JOB_CACHE"):
        assert f"`{seen}" in text, seen


# A distinctive piece of each message docs/troubleshooting.md quotes, as the code writes it: if a message
# changes, this fails until the page shows the new one.
TROUBLESHOOTING_MESSAGES = (
    ", waiting for a worker",
    "yet:[/] the job waits until one is. Start one",
    "this queue needs a worker token: asman worker --token ...",
    "is not on this worker and could not be pulled: ",
    "Check the image name and tag, and that the worker can reach its registry.",
    "the image build failed: ",
    " a worker started with --allow-private-urls may fetch it",
    "the job ran longer than its limit of ",
    "the container could not start: ",
    "the container was killed: it used more than its memory limit of ",
    "no container engine answers at ",
    "the {missing[0]} extra",
    "cannot reach the Asman server at ",
    "This exact job already ran: showing its stored result",
    "skipped: only regular files are kept (not links, devices or pipes)",
    " bytes, over the worker's cap of ",
)


def test_troubleshooting_quotes_the_real_messages() -> None:
    code = "\n".join(path.read_text() for path in (ROOT / "src" / "asman").rglob("*.py"))
    page = (ROOT / "docs" / "troubleshooting.md").read_text()
    assert len(re.findall(r"^## \d+\. ", page, flags=re.M)) == 10
    for fragment in TROUBLESHOOTING_MESSAGES:
        assert fragment in code, f"no longer in the code: {fragment!r}"
        shown = fragment.replace("yet:[/]", "yet:").replace("{missing[0]}", "worker")
        assert shown.strip(" :;") in page, f"docs/troubleshooting.md does not show {shown!r}"


def test_the_readme_links_every_doc_and_draws_the_architecture() -> None:
    readme = (ROOT / "README.md").read_text()
    for path in sorted((ROOT / "docs").glob("*.md")):
        assert f"](docs/{path.name})" in readme, f"README does not link docs/{path.name}"
    for linked in ("docs/examples/", "CHANGELOG.md", "LICENSE"):
        assert f"]({linked})" in readme and (ROOT / linked).exists(), linked
    assert re.search(r"^```mermaid\nflowchart ", readme, flags=re.M)
    licence = (ROOT / "LICENSE").read_text()
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence
    assert "END OF TERMS AND CONDITIONS" in licence
    assert 'license = { text = "Apache-2.0" }' in (ROOT / "pyproject.toml").read_text()
