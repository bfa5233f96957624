"""/openapi.json as the server really answers: the routes declare their answers with `answers()` and `file()`,
and `document()` adds what holds for every route (the error envelope for rate limits, backends down and unknown
paths) and removes what FastAPI assumes but Asman never sends (its 422 `HTTPValidationError`: a bad parameter
is a 400 in the error envelope)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from asman.core.definition import Control, JobDefinition
from asman.server.schemas import ErrorBody

Responses = dict[int | str, dict[str, Any]]

REF = "#/components/schemas/{model}"
ANY_BYTES = ("application/octet-stream", "*/*")

TAGS: list[dict[str, str]] = [
    {
        "name": "jobs",
        "description": "Submit jobs, read their state, results, logs and files; cancel, delete.",
    },
    {"name": "queues", "description": "Fresh private queues, a queue's status and its Prometheus metrics."},
    {"name": "blobs", "description": "Content-addressed files at /f/{key}, for inputs and outputs."},
    {"name": "streams", "description": "Server-Sent Events: one job live, or a whole queue for a dashboard."},
    {
        "name": "workers",
        "description": "Workers connect out to the WebSocket /q/{queue}/worker (docs/api.md).",
    },
    {
        "name": "agents",
        "description": "MCP for AI agents (POST /mcp) and Asman explained to language models.",
    },
    {"name": "tes", "description": "GA4GH TES 1.1 on every queue, for workflow engines (docs/tes.md)."},
    {"name": "web", "description": "The web client, and its description as a metaframe for metapages."},
    {"name": "server", "description": "Liveness and readiness."},
]

_WHY = {
    400: "Bad input: a malformed name, id, parameter or body",
    404: "No such job, file or blob, or no such endpoint",
    413: "The body is over the server's limit",
    422: "The job definition is not valid",
    429: "Too many requests from this address: slow down (see Retry-After)",
    503: "A backend (store, blobs, notifier) is down: retry later",
}


class SubmitBody(BaseModel):
    definition: JobDefinition
    control: Control | None = None
    id: str | None = None


def _error(status: int) -> dict[str, Any]:
    schema = {"$ref": REF.format(model=ErrorBody.__name__)}
    return {"description": _WHY[status], "content": {"application/json": {"schema": schema}}}


def answers(
    model: type[BaseModel] | None, *errors: int, status: int = 200, description: str = "OK"
) -> Responses:
    """A route's JSON answer and the errors it may give. Documentation only: the route is never made to
    validate or serialize through the model."""
    ok: dict[str, Any] = {"description": description}
    if model is not None:
        ok["model"] = model
    return {status: ok, **{code: _error(code) for code in errors}}


def file(*errors: int, redirect: str = "a redirect to where the bytes are") -> Responses:
    """A route that answers with a file's bytes (any content type) or a 302 redirect to them."""
    return {
        200: {
            "description": "The bytes, with a Content-Type from the name and Content-Disposition: attachment",
            # Generators read the first; the second says any type may come.
            "content": {media: {"schema": {"type": "string", "format": "binary"}} for media in ANY_BYTES},
        },
        302: redirect_to(redirect),
        **{code: _error(code) for code in errors},
    }


def redirect_to(what: str) -> dict[str, Any]:
    return {"description": what, "headers": {"Location": {"schema": {"type": "string"}}}}


# Routes that answer without touching a backend: no 503 for them.
_NO_BACKEND = frozenset({"getHealth", "getLlmsTxt", "getLlmsFullTxt", "getMcpHealth", "getMcpInfo"})


def document(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=TAGS,
        separate_input_output_schemas=False,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (SubmitBody, ErrorBody):
        model_schema = model.model_json_schema(ref_template=REF)
        components.update(model_schema.pop("$defs", {}))
        components[model.__name__] = model_schema
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            _add_common_errors(path, operation)
            operation["responses"] = dict(sorted(operation["responses"].items()))
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    # Routes shared with a global path take `queue: str | None`; in a path it is always there.
                    parameter["schema"] = {"type": "string", "title": parameter["schema"].get("title", "")}
    return schema


def _add_common_errors(path: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation["responses"]
    phantom = responses.get("422", {}).get("content", {}).get("application/json", {}).get("schema", {})
    if phantom.get("$ref", "").endswith("/HTTPValidationError"):
        del responses["422"]
    if "{" in path:
        # A parameter holding an encoded "/" routes elsewhere, or nowhere: 404 in the envelope.
        responses.setdefault("404", _error(404))
    if operation.get("parameters"):
        responses.setdefault("400", _error(400))
    if operation["operationId"] != "getHealth":
        responses.setdefault("429", _error(429))
    if operation["operationId"] not in _NO_BACKEND:
        responses.setdefault("503", _error(503))
