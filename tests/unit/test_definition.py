"""Job definitions: ids in the upstream-compatible canonical form (the properties that make a job a stable URL),
and inline DataRefs decoded to bytes."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asman.core.definition import DataRef, JobDefinition, canonical_json, hash_blob, job_id, plainly_valid
from asman.core.errors import InvalidInput

VECTOR = {"image": "alpine:3.19.1", "command": "echo hello"}
VECTOR_ID = "0b6397b71c6c72e7845bf1113894f6d9567b8e66800d0803940c5b58ed63a001"


def test_the_spec_test_vector() -> None:
    assert job_id(VECTOR) == VECTOR_ID


def test_the_model_and_the_raw_dict_agree() -> None:
    assert job_id(JobDefinition.model_validate(VECTOR)) == VECTOR_ID


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (1.5, "1.5"),
        (-0.0, "0"),
        (1e21, "1e+21"),
        (1e-7, "1e-7"),
        (123456789.0, "123456789"),
        (2, "2"),
    ],
)
def test_numbers_print_as_javascript_prints_them(value: float, text: str) -> None:
    assert canonical_json(value) == text


def test_unicode_is_kept_and_keys_sorted() -> None:
    assert canonical_json({"b": "é", "a": [True, None]}) == '{"a":[true,null],"b":"é"}'


def test_integers_and_integral_floats_give_one_id() -> None:
    base = {"image": "x", "requirements": {"cpus": 2}}
    assert job_id(base) == job_id({"image": "x", "requirements": {"cpus": 2.0}})


def test_excluded_fields_do_not_count() -> None:
    noisy = {
        **VECTOR,
        "id": "whatever",
        "control": {"namespace": "n"},
        "debug": True,
        "unknownField": 1,
        "env": {
            "channel": "x",
            "CHANNEL": "y",
            "mp-thing": "1",
            "mp_other": "2",
            "readonly": "1",
            "edit": "1",
            "parent-metapage-id": "p",
            "fs-path": "/x",
        },
        "build": {},
        "requirements": {"unknown": 3},
        "inputs": {},
    }
    assert job_id(noisy) == VECTOR_ID


def test_dataref_hash_is_dropped_but_value_and_type_count() -> None:
    with_hash = {**VECTOR, "inputs": {"a.txt": {"value": "hi", "type": "utf8", "hash": "abc"}}}
    without = {**VECTOR, "inputs": {"a.txt": {"value": "hi", "type": "utf8"}}}
    assert job_id(with_hash) == job_id(without)
    assert job_id(without) != job_id({**VECTOR, "inputs": {"a.txt": {"value": "hi", "type": "base64"}}})
    assert hash_blob(with_hash)["inputs"] == {"a.txt": {"value": "hi", "type": "utf8"}}


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**53), 2**53), st.text(max_size=20))
env_maps = st.dictionaries(
    st.from_regex(r"[A-Z][A-Z0-9_]{0,10}", fullmatch=True), st.text(max_size=10), max_size=4
)
definitions = st.fixed_dictionaries(
    {"image": st.text(min_size=1, max_size=30)},
    optional={
        "command": st.text(max_size=40),
        "entrypoint": st.text(max_size=20),
        "workdir": st.text(max_size=20),
        "tags": st.lists(st.text(max_size=8), max_size=3),
        "env": env_maps,
        "v": st.integers(0, 5),
        "requirements": st.fixed_dictionaries(
            {},
            optional={
                "cpus": st.integers(1, 16),
                "gpus": st.integers(0, 4),
                "memory": st.sampled_from(["1g", "512m"]),
            },
        ),
    },
)


def _reordered(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _reordered(value[key]) for key in reversed(list(value))}
    return value


@settings(max_examples=200, deadline=None)
@given(definitions)
def test_key_order_never_changes_the_id(definition: dict[str, Any]) -> None:
    assert job_id(_reordered(definition)) == job_id(definition)


@settings(max_examples=200, deadline=None)
@given(
    definitions,
    st.dictionaries(st.sampled_from(["id", "control", "debug", "x-note"]), json_scalars, min_size=1),
)
def test_excluded_fields_never_change_the_id(definition: dict[str, Any], extra: dict[str, Any]) -> None:
    assert job_id({**definition, **extra}) == job_id(definition)


@settings(max_examples=200, deadline=None)
@given(
    definitions,
    st.sampled_from(["image", "command", "entrypoint", "workdir"]),
    st.text(min_size=1, max_size=10),
)
def test_changing_an_included_field_changes_the_id(
    definition: dict[str, Any], field: str, suffix: str
) -> None:
    changed = copy.deepcopy(definition)
    changed[field] = str(changed.get(field, "")) + suffix
    assert job_id(changed) != job_id(definition)


@settings(max_examples=100, deadline=None)
@given(definitions, st.from_regex(r"[A-Z][A-Z0-9_]{0,10}", fullmatch=True), st.text(max_size=10))
def test_adding_a_user_env_var_changes_the_id(definition: dict[str, Any], key: str, value: str) -> None:
    env = dict(definition.get("env") or {})
    if key in env:
        value = env[key] + "!"
    changed = {**definition, "env": {**env, key: value}}
    assert job_id(changed) != job_id(definition)


# -- inline DataRefs -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        (DataRef(type="utf8", value="héllo"), "héllo".encode()),
        (DataRef(value="plain text, no type"), b"plain text, no type"),
        (DataRef(type="base64", value=base64.b64encode(b"\x00\x01bin").decode()), b"\x00\x01bin"),
        (DataRef(type="json", value={"b": [1, 2.5], "a": "é"}), '{"b":[1,2.5],"a":"é"}'.encode()),
        (DataRef(type="json", value="a string"), b'"a string"'),
        (DataRef(value={"untyped": True}), b'{"untyped":true}'),
        (DataRef(type="utf8", value=None), b""),
    ],
)
def test_inline_bytes(ref: DataRef, expected: bytes) -> None:
    assert ref.inline_bytes() == expected


@pytest.mark.parametrize("kind", ["url", "key"])
def test_remote_refs_are_fetched(kind: str) -> None:
    assert DataRef(type=kind, value="https://example.org/x").inline_bytes() is None


def test_bad_base64_is_refused() -> None:
    with pytest.raises(InvalidInput, match="not valid base64"):
        DataRef(type="base64", value="not base64!").inline_bytes()


# Values of every JSON kind, and for each field mostly values of its own kind (some a validator refuses), so
# that many definitions are plain and many are nearly so.
_ANY_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(["", " ", "x", "/ctx"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["a", "value"]), inner, max_size=2)
    ),
    max_leaves=6,
)
_TEXT = st.none() | st.sampled_from(["", " ", "\t", "x", "alpine"])


def _mostly(own: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(own, own, own, _ANY_JSON)


def _fields(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={name: _mostly(own) for name, own in fields.items()})


_REF = _fields(
    {
        "type": st.sampled_from([None, "utf8", "base64", "json", "url", "key", "file", 1]),
        "value": _ANY_JSON,
        "hash": _TEXT,
        "extra": _ANY_JSON,
    }
)
_REFS = st.dictionaries(st.sampled_from(["a.txt", "b"]), _mostly(_REF), max_size=2)
_NUMBER = st.none() | st.booleans() | st.floats() | st.integers(-(2**70), 2**70) | st.integers(-2, 4)
_DEFINITIONS = _fields(
    {
        **dict.fromkeys(("image", "command", "entrypoint", "workdir", "shmSize", "maxDuration"), _TEXT),
        "v": st.none() | st.booleans() | st.integers(-2, 2),
        "tags": st.lists(_TEXT, max_size=2),
        "unknown": _ANY_JSON,
        "env": st.dictionaries(st.sampled_from(["A", "B"]), _mostly(_TEXT), max_size=2),
        "build": _fields(
            {
                "context": _TEXT,
                "dockerfile": _TEXT,
                "target": _TEXT,
                "buildArgs": st.lists(_TEXT),
                "x": _ANY_JSON,
            }
        ),
        "requirements": _fields({"cpus": _NUMBER, "gpus": _NUMBER, "memory": _TEXT, "y": _ANY_JSON}),
        "inputs": _REFS,
        "configFiles": _REFS,
    }
)


def _models_accept(definition: Any) -> bool:
    try:
        JobDefinition.model_validate(definition).require_runnable()
    except ValueError:  # pydantic's ValidationError is one
        return False
    return True


@settings(max_examples=1000, deadline=None)
@given(_DEFINITIONS)
def test_what_is_plainly_valid_the_models_accept(definition: dict[str, Any]) -> None:
    if plainly_valid(definition):
        assert _models_accept(definition)


@pytest.mark.parametrize(
    "definition",
    [
        VECTOR,
        {"v": 1, "image": "a", "command": None, "env": {"A": "b"}, "tags": ["x"], "note": {"any": [1.5]}},
        {"build": {"context": "/c", "buildArgs": ["A=1"]}, "requirements": {"cpus": 2, "gpus": 0}},
        {"image": "a", "inputs": {"a.txt": {"type": "utf8", "value": "hi", "hash": "ab"}, "b": {}}},
        {"image": "a", "requirements": {"cpus": 0.5, "memory": "1g"}, "configFiles": None},
    ],
)
def test_a_sweep_s_definitions_are_plainly_valid(definition: dict[str, Any]) -> None:
    assert plainly_valid(definition) and _models_accept(definition)


@pytest.mark.parametrize(
    "change",
    [
        {"image": " "},
        {"image": 1},
        {"command": ["ls"]},
        {"v": "one"},
        {"tags": ["a", 1]},
        {"env": {"A": 1}},
        {"build": {"buildArgs": [1]}},
        {"build": "ctx"},
        {"requirements": {"cpus": -0.5}},
        {"requirements": {"cpus": -1}},
        {"requirements": {"cpus": 10**400}},
        {"requirements": {"gpus": -1}},
        {"requirements": {"gpus": 1.5}},
        {"requirements": {"memory": 1}},
        {"inputs": {"a": {"type": "file"}}},
        {"inputs": {"a": {"hash": 1}}},
        {"inputs": {"a": "text"}},
        {"configFiles": []},
    ],
)
def test_a_field_the_models_refuse_is_not_plainly_valid(change: dict[str, Any]) -> None:
    definition = {**VECTOR, **change}
    assert not _models_accept(definition)
    assert not plainly_valid(definition)


@pytest.mark.parametrize(
    "definition",
    [
        {"image": " "},
        {"command": "ls"},
        {"image": "a", "v": True},  # the model takes it; the check leaves it to the model
        {"image": "a", "requirements": {"cpus": 10**400}},
        {"image": "a", "requirements": {"gpus": -1}},
        {"image": "a", "inputs": {"a": {"type": "file"}}},
        {"image": "a", "env": {"A": 1}},
        {"build": {}},
    ],
)
def test_anything_else_is_left_to_the_models(definition: dict[str, Any]) -> None:
    assert not plainly_valid(definition)
