"""`/llms.txt` and `/llms-full.txt`: Asman explained to a language model, assembled from what cannot drift.

The endpoints come from the app's own route table, the definition fields from the `JobDefinition` model, the
MCP tools from the tool functions, and every sentence from the docs (`docs/*.md`, README.md), so a new
endpoint or field shows up here by itself, with the meaning its docs give it."""

from __future__ import annotations

import inspect
import re
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from starlette.routing import WebSocketRoute

from asman._version import __version__
from asman.core.definition import JobDefinition
from asman.mcp.tools import TOOLS

PACKAGE = Path(__file__).resolve().parents[1]
SOURCE_ROOT = PACKAGE.parents[1]
FULL_REFERENCE = ("api.md", "jobs.md", "mcp.md", "python.md", "cli.md", "configuration.md", "security.md")
LOCAL_API = "http://127.0.0.1:8000"
# Routes outside the OpenAPI document: not JSON endpoints, but an agent may meet them.
EXTRA_ROUTES = (
    ("GET", "/", "the web client: dashboards, job composer, job pages"),
    ("POST, GET, DELETE", "/mcp", "MCP Streamable HTTP (stateless): the tools below"),
)


@cache
def doc(name: str) -> str:
    """A doc's text (README.md or a file of docs/), or "" where the docs are not installed."""
    # A wheel carries README.md and the docs inside the package; a source checkout has them at its root.
    for path in (PACKAGE / "docs" / name, SOURCE_ROOT / ("" if name == "README.md" else "docs") / name):
        if path.is_file():
            return path.read_text(encoding="utf-8")
    return ""


def section(text: str, title: str) -> str:
    """The body of the `## title` section of a Markdown text."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, flags=re.S | re.M)
    return match.group(1).strip() if match else ""


def first_block(text: str, language: str) -> str:
    match = re.search(rf"^```{language}\n(.*?)^```", text, flags=re.S | re.M)
    return match.group(1).rstrip() if match else ""


def field_meanings() -> dict[str, str]:
    """`field -> meaning` from the field tables of docs/jobs.md (a row's last column)."""
    rows = re.findall(r"^\| `([^`]+)` \|(.*)\|$", section(doc("jobs.md"), "Every field"), flags=re.M)
    return {name: cells.rsplit("|", 1)[-1].strip() for name, cells in rows}


def _nested_model(annotation: Any) -> tuple[type[BaseModel], bool] | None:
    """The model a field holds, and whether it holds a map of them (`inputs: {name: DataRef}`)."""
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return annotation, False
    mapping = getattr(annotation, "__origin__", None) is dict
    for argument in getattr(annotation, "__args__", ()):
        found = _nested_model(argument)
        if found is not None:
            return found[0], found[1] or mapping
    return None


def definition_fields(model: type[BaseModel] = JobDefinition, prefix: str = "") -> list[str]:
    """Every field of the definition model: nested models as `parent.child`, maps of them as `parent.<name>.child`."""
    names: list[str] = []
    for name, info in model.model_fields.items():
        names.append(prefix + name)
        nested = _nested_model(info.annotation)
        if nested is not None:
            names += definition_fields(nested[0], f"{prefix}{name}.{'<name>.' if nested[1] else ''}")
    return names


def endpoints(app: FastAPI) -> list[tuple[str, str, str]]:
    """(methods, path, what it does) for every route of the app."""
    rows = list(EXTRA_ROUTES)
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            rows.append((method.upper(), path, str(operation.get("summary") or "")))
    for route in app.routes:
        if isinstance(route, WebSocketRoute) or type(route).__name__ == "APIWebSocketRoute":
            rows.append(("WebSocket", str(getattr(route, "path", "")), "the worker protocol (docs/api.md)"))
    return rows


def _tools() -> str:
    lines = []
    for tool in TOOLS:
        parameters = [name for name in inspect.signature(tool).parameters if name != "ctx"]
        summary = (inspect.getdoc(tool) or "").split("\n\n")[0].replace("\n", " ")
        lines.append(f"- `{tool.__name__}({', '.join(parameters)})`: {summary}")
    return "\n".join(lines)


def _summary() -> str:
    """The README's first prose paragraph: what Asman is."""
    for paragraph in re.split(r"\n\s*\n", doc("README.md")):
        if paragraph and not paragraph.startswith(("#", "```", "make ")):
            return " ".join(paragraph.split())
    return (
        "Asman: public compute queues. Push containerized jobs to a queue URL; workers anyone runs take them."
    )


def render(app: FastAPI, origin: str, *, full: bool = False) -> str:
    meanings = field_meanings()
    fields = "\n".join(
        f"- `{name}`: {meanings.get(name, 'see docs/jobs.md')}" for name in definition_fields()
    )
    routes = "\n".join(f"- `{methods} {path}`: {what}" for methods, path, what in endpoints(app))
    jobs = doc("jobs.md")
    parts = [
        f"# Asman {__version__}",
        f"> {_summary()}",
        f"- Web client: {origin}/\n- OpenAPI: {origin}/openapi.json\n- MCP: {origin}/mcp\n"
        f"- Full reference: {origin}/llms-full.txt",
        "## Examples",
        f"CLI:\n\n```sh\n{first_block(doc('cli.md'), 'sh')}\n```",
        f"Python:\n\n```python\n{first_block(doc('python.md'), 'python')}\n```",
        f"MCP client configuration:\n\n```json\n{first_block(doc('mcp.md'), 'json')}\n```",
        f"## REST endpoints\n\n{routes}",
        f"## The job definition\n\n{fields}",
        f"## What a job sees\n\n{section(jobs, 'What a job sees')}",
        f"## URL forms\n\n{section(jobs, 'URL forms')}",
        f"## MCP tools\n\n{_tools()}",
    ]
    if full:
        parts += [
            f"---\n\n<!-- docs/{name} -->\n\n{doc(name).strip()}" for name in FULL_REFERENCE if doc(name)
        ]
    return "\n\n".join(part.strip() for part in parts).replace(LOCAL_API, origin) + "\n"
