"""/openapi.json tells the truth: docs/api.md's real examples fit its schemas, field for field; errors are the
envelope; operations have stable names and tags. (test_fuzz.py checks live answers against it, and
test_generated_client.py drives a client generated from it.)"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from asman.server.app import create_app
from asman.server.openapi import TAGS
from asman.settings import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
EXAMPLE = re.compile(r"<!-- example: (?P<name>[\w-]+) -->\n```json\n(?P<body>.*?)\n```", re.S)

# Each REST example of docs/api.md and the operation that answered it.
EXAMPLE_OPERATIONS = {
    "submit": ("post", "/q/{queue}"),
    "listing": ("get", "/q/{queue}"),
    "status": ("get", "/q/{queue}/status"),
    "job": ("get", "/q/{queue}/j/{job_id}"),
    "result": ("get", "/q/{queue}/j/{job_id}/result.json"),
    "run-logs": ("get", "/j/{job_id}/{step}-logs.json"),
    "namespaces": ("get", "/q/{queue}/j/{job_id}/namespaces.json"),
}
DEPRECATED = {
    ("get", "/{queue}/status"),
    ("get", "/{queue}/metrics"),
    ("get", "/upload/{key}"),
    ("put", "/upload/{key}"),
    ("get", "/download/{key}"),
}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    document: dict[str, Any] = create_app(Settings()).openapi()
    return document


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, ops in schema["paths"].items() for method, op in ops.items()]


def _closed(components: dict[str, Any]) -> dict[str, Any]:
    """The components with no room for undeclared fields, so an example passes only if every field it has
    is described."""
    closed = copy.deepcopy(components)

    def close(node: Any) -> None:
        if isinstance(node, dict):
            if "properties" in node:
                node["additionalProperties"] = False
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)

    close(closed)
    return closed


@pytest.mark.parametrize("name", sorted(EXAMPLE_OPERATIONS))
def test_every_example_of_api_md_fits_its_schema_field_for_field(schema: dict[str, Any], name: str) -> None:
    examples = {match["name"]: json.loads(match["body"]) for match in EXAMPLE.finditer(DOC.read_text())}
    method, path = EXAMPLE_OPERATIONS[name]
    answer = schema["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
    validator = Draft202012Validator({**answer, "components": _closed(schema["components"])})
    errors = [
        f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(examples[name])
    ]
    assert not errors, errors


def test_operations_have_stable_names_tags_and_no_phantom_validation_error(schema: dict[str, Any]) -> None:
    names = [op["operationId"] for _, _, op in _operations(schema)]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z][A-Za-z]+", name) for name in names), names
    tags = {tag["name"] for tag in TAGS}
    assert {"jobs", "queues", "blobs", "streams", "agents", "workers"} <= tags
    text = json.dumps(schema)
    assert "HTTPValidationError" not in text and "ValidationError" not in text
    for method, path, op in _operations(schema):
        assert len(op["tags"]) == 1 and op["tags"][0] in tags, (method, path)
        assert bool(op.get("deprecated")) == ((method, path) in DEPRECATED), (method, path)
        for status, response in op["responses"].items():
            if status.startswith(("4", "5")) and not path.endswith("/exists"):
                content = response["content"]["application/json"]["schema"]
                assert content == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, status)


def test_the_real_status_codes_are_documented(schema: dict[str, Any]) -> None:
    paths = schema["paths"]
    assert {"200", "400", "413", "422"} <= set(paths["/q/{queue}"]["post"]["responses"])
    assert "200" not in paths["/q"]["post"]["responses"] and "201" in paths["/q"]["post"]["responses"]
    assert {"200", "201", "307", "413"} <= set(paths["/f/{key}"]["put"]["responses"])
    assert {"200", "302", "404"} <= set(paths["/f/{key}"]["get"]["responses"])
    assert {"200", "302", "404"} <= set(paths["/q/{queue}/j/{job_id}/outputs/{file}"]["get"]["responses"])
    assert "429" in paths["/q/{queue}/j/{job_id}"]["get"]["responses"]
    assert "503" in paths["/readyz"]["get"]["responses"]
    assert paths["/q/{queue}/metrics"]["get"]["responses"]["200"]["content"].keys() == {"text/plain"}
