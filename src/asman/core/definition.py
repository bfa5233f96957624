"""Job definitions and their content-addressed ids.

The id is the sha256 of a canonical JSON rendering of the definition's known fields, byte-compatible with the
upstream JavaScript implementation (safe-stable-stringify), so links and caches carry over.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import hashlib
import json
import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from asman.core.errors import InvalidInput
from asman.core.names import MAX_NAMESPACE, blob_key_in_url, is_content_key
from asman.core.urls import http_target
from asman.core.whatwg_url import https_href_without_query

DataRefType = Literal["utf8", "base64", "json", "url", "key"]

_SCALAR_FIELDS = ("v", "image", "command", "entrypoint", "workdir", "shmSize", "maxDuration", "tags")
_BUILD_FIELDS = ("context", "buildContext", "filename", "target", "dockerfile", "buildArgs", "platform")
_REQUIREMENT_FIELDS = ("cpus", "gpus", "memory", "maxDuration")
# Keys a parent page injects into a job's env; they change per page view and must not change the job id.
_PARENT_ENV_KEYS = frozenset({"channel", "CHANNEL", "readonly", "edit", "parent-metapage-id", "fs-path"})
_PARENT_ENV_PREFIX = re.compile(r"^mp[-_]")
_PRESIGNED_MARK = "/presignedurl/"
_UPSTREAM_BUCKET = "https://metaframe-asman-test.s3.us-west-1.amazonaws.com"

DEFAULT_NAMESPACE = "_"
ALL_NAMESPACES = "*"


class _Model(BaseModel):
    # Unknown fields are kept (and echoed back) but never hashed: clients may annotate definitions freely.
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class DataRef(_Model):
    value: Any = None
    type: DataRefType | None = None
    hash: str | None = None

    def inline_bytes(self) -> bytes | None:
        """The content of an inline ref as bytes, or None for a remote one; `InvalidInput` for bad base64.

        An untyped value that is not a string is JSON, as upstream's worker wrote it: JSON.stringify's compact
        form, non-ASCII kept.
        """
        if self.type in ("url", "key"):
            return None
        if self.type == "base64":
            try:
                return base64.b64decode(str(self.value or ""), validate=True)
            except (binascii.Error, ValueError):
                raise InvalidInput("not valid base64") from None
        if self.type == "json" or (self.type is None and not isinstance(self.value, str)):
            return json.dumps(self.value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        return str(self.value if self.value is not None else "").encode("utf-8")


class BuildSpec(_Model):
    context: str | None = None
    buildContext: str | None = None
    filename: str | None = None
    target: str | None = None
    dockerfile: str | None = None
    buildArgs: list[str] | None = None
    platform: str | None = None


class Requirements(_Model):
    cpus: float | None = Field(default=None, ge=0)
    gpus: int | None = Field(default=None, ge=0)
    memory: str | None = None
    maxDuration: str | None = None


class JobDefinition(_Model):
    v: int | None = None
    image: str | None = None
    build: BuildSpec | None = None
    command: str | None = None
    entrypoint: str | None = None
    env: dict[str, str] | None = None
    workdir: str | None = None
    shmSize: str | None = None
    inputs: dict[str, DataRef] | None = None
    configFiles: dict[str, DataRef] | None = None
    maxDuration: str | None = None
    tags: list[str] | None = None
    requirements: Requirements | None = None

    @field_validator("image")
    @classmethod
    def _image_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("image must not be blank")
        return value

    def require_runnable(self) -> None:
        """A definition must say what to run: an image, or a build that makes one."""
        if not self.image and not (self.build and (self.build.context or self.build.dockerfile)):
            raise ValueError(
                "a job needs an 'image', or a 'build' with a 'context' or an inline 'dockerfile'"
            )


class Callback(_Model):
    url: str
    payload: Any = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        # Refused at submit, so the sender never holds a delivery it could not make; whether the address is
        # public is only known when it is sent (names resolve differently over time).
        try:
            http_target(value)
        except InvalidInput as error:
            raise ValueError(error.message) from None
        return value


class Control(_Model):
    namespace: str | None = Field(default=None, max_length=MAX_NAMESPACE)
    maxDuration: str | None = None
    callbacks: dict[str, Callback] | None = None


# -- what the models accept, decided without them ---------------------------------------------------------------
# A batch of 10,000 plain definitions spends more in pydantic than in the store. These checks answer True only
# for definitions the models above accept unchanged (every known field of exactly its JSON type, nothing a
# validator could refuse); False means "ask the models", which then give their own errors. The models stay the
# one definition of what is valid: tests/unit/test_definition.py holds the two to agreeing.


def _text(value: Any) -> bool:
    return value is None or type(value) is str


def _texts(value: Any) -> bool:
    return value is None or (type(value) is list and all(type(item) is str for item in value))


def _count(value: Any) -> bool:
    return value is None or (type(value) is int and value >= 0)


def _plain_env(value: Any) -> bool:
    return value is None or (
        type(value) is dict and all(type(key) is str and type(item) is str for key, item in value.items())
    )


def _plain_fields(value: Any, checks: dict[str, Callable[[Any], bool]]) -> bool:
    if type(value) is not dict:
        return False
    for key, item in value.items():
        check = checks.get(key)
        if check is not None and not check(item):
            return False
    return True


_REF_TYPES = frozenset({"utf8", "base64", "json", "url", "key"})
_PLAIN_REF: dict[str, Callable[[Any], bool]] = {
    "type": lambda value: value is None or (type(value) is str and value in _REF_TYPES),
    "hash": _text,
}
_PLAIN_BUILD: dict[str, Callable[[Any], bool]] = {
    **dict.fromkeys(("context", "buildContext", "filename", "target", "dockerfile", "platform"), _text),
    "buildArgs": _texts,
}
_PLAIN_REQUIREMENTS: dict[str, Callable[[Any], bool]] = {
    # A float, or an integer a float holds exactly (pydantic refuses what overflows one).
    "cpus": lambda value: (
        value is None
        or (type(value) is float and value >= 0)
        or (type(value) is int and 0 <= value <= _JS_SAFE_INTEGER)
    ),
    "gpus": _count,
    "memory": _text,
    "maxDuration": _text,
}


def _plain_refs(value: Any) -> bool:
    return value is None or (
        type(value) is dict
        and all(type(name) is str and _plain_fields(ref, _PLAIN_REF) for name, ref in value.items())
    )


_PLAIN_DEFINITION: dict[str, Callable[[Any], bool]] = {
    **dict.fromkeys(("command", "entrypoint", "workdir", "shmSize", "maxDuration"), _text),
    "v": lambda value: value is None or type(value) is int,
    "image": lambda value: value is None or (type(value) is str and bool(value.strip())),
    "build": lambda value: value is None or _plain_fields(value, _PLAIN_BUILD),
    "env": _plain_env,
    "inputs": _plain_refs,
    "configFiles": _plain_refs,
    "tags": _texts,
    "requirements": lambda value: value is None or _plain_fields(value, _PLAIN_REQUIREMENTS),
}


def plainly_valid(definition: Any) -> bool:
    """True when `JobDefinition.model_validate(definition)` succeeds and the model is runnable
    (`require_runnable`); False when that is for the models to say."""
    if not _plain_fields(definition, _PLAIN_DEFINITION):
        return False
    build = definition.get("build")
    return bool(definition.get("image")) or (
        build is not None and bool(build.get("context") or build.get("dockerfile"))
    )


def _is_parent_env_key(key: str) -> bool:
    return key in _PARENT_ENV_KEYS or _PARENT_ENV_PREFIX.match(key) is not None


def _hashed_url(url: str) -> str:
    """A url DataRef as upstream hashes it: a presigned link's signature and upstream's test bucket's query
    string change on every upload, and must not change the job id."""
    if _PRESIGNED_MARK in url:
        return url.split(_PRESIGNED_MARK, 1)[0]
    if url.startswith(_UPSTREAM_BUCKET):
        return https_href_without_query(url) or url
    return url


def _reduce_refs(refs: Any) -> dict[str, Any] | None:
    if not isinstance(refs, dict):
        return None
    reduced: dict[str, Any] = {}
    for name, ref in refs.items():
        if not isinstance(ref, dict):
            continue
        entry: dict[str, Any] = {}
        # A missing value is left out, as JSON.stringify leaves out `undefined`; an explicit null is kept.
        if "value" in ref:
            value = ref["value"]
            entry["value"] = (
                _hashed_url(value) if ref.get("type") == "url" and isinstance(value, str) else value
            )
        if ref.get("type") is not None:
            entry["type"] = ref["type"]
        reduced[name] = entry
    return reduced or None


def _known_subfields(source: Any, fields: tuple[str, ...]) -> dict[str, Any] | None:
    if not isinstance(source, dict):
        return None
    picked = {name: source[name] for name in fields if source.get(name) is not None}
    return picked or None


def hash_blob(definition: dict[str, Any]) -> dict[str, Any]:
    """The part of a definition that identifies the job: known fields only, parent-injected env removed."""
    blob: dict[str, Any] = {
        name: definition[name] for name in _SCALAR_FIELDS if definition.get(name) is not None
    }
    for name, fields in (("build", _BUILD_FIELDS), ("requirements", _REQUIREMENT_FIELDS)):
        picked = _known_subfields(definition.get(name), fields)
        if picked:
            blob[name] = picked
    env = definition.get("env")
    if isinstance(env, dict):
        kept = {key: value for key, value in env.items() if not _is_parent_env_key(key)}
        if kept:
            blob["env"] = kept
    for name in ("inputs", "configFiles"):
        reduced = _reduce_refs(definition.get(name))
        if reduced:
            blob[name] = reduced
    return blob


def _checked_hash(ref: dict[str, Any]) -> str | None:
    """A DataRef's `hash` when it can be checked here and holds: the sha256 of inline content, or the key of a
    content-addressed blob URL (`/f/<sha256>`). None for any other: it is not part of the job id, so it must not
    decide how the job runs."""
    claimed = ref.get("hash")
    if not isinstance(claimed, str):
        return None
    if ref.get("type") in ("url", "key"):
        value = ref.get("value")
        key = (
            value if ref.get("type") == "key" else blob_key_in_url(value) if isinstance(value, str) else None
        )
        return claimed if key is not None and is_content_key(key) and claimed.lower() == key else None
    try:
        content = DataRef.model_validate(ref).inline_bytes()
    except (InvalidInput, ValueError):
        return None
    return claimed if content is not None and hashlib.sha256(content).hexdigest() == claimed.lower() else None


def _settled_refs(refs: Any) -> Any:
    if not isinstance(refs, dict):
        return refs
    settled: dict[str, Any] = {}
    for name, ref in refs.items():
        if isinstance(ref, dict) and "hash" in ref and _checked_hash(ref) is None:
            ref = {key: item for key, item in ref.items() if key != "hash"}
        settled[name] = ref
    return settled


def settled(definition: dict[str, Any]) -> dict[str, Any]:
    """The definition that is kept and run for a job id: what the id covers decides how the job runs, never
    what the first submitter of that id added beside it. Parent-injected env keys (not in the id) are dropped,
    and a DataRef `hash` is kept only where it checks out (`_checked_hash`): a wrong one would make every run
    of the job fail. The id is the same before and after."""
    out = dict(definition)
    env = definition.get("env")
    if isinstance(env, dict) and any(_is_parent_env_key(key) for key in env):
        out["env"] = {key: value for key, value in env.items() if not _is_parent_env_key(key)}
    for name in ("inputs", "configFiles"):
        if name in definition:
            out[name] = _settled_refs(definition[name])
    return out


def _js_number(number: float) -> str:
    """Number.prototype.toString: the shortest round-trip digits, in plain notation for 1e-7 < |x| < 1e21
    (Python's repr switches to exponents at 1e16 and 1e-4), else `d.ddde+N`."""
    if math.isnan(number) or math.isinf(number):
        return "null"
    if number == 0:
        return "0"
    sign = "-" if number < 0 else ""
    _, digit_tuple, exponent = Decimal(repr(abs(number))).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    assert isinstance(exponent, int)
    point = len(digits) + exponent  # the decimal point sits after this many digits
    if len(digits) <= point <= 21:
        text = digits + "0" * (point - len(digits))
    elif 0 < point <= 21:
        text = f"{digits[:point]}.{digits[point:]}"
    elif -6 < point <= 0:
        text = "0." + "0" * -point + digits
    else:
        mantissa = digits[0] + (f".{digits[1:]}" if len(digits) > 1 else "")
        text = f"{mantissa}e{'+' if point > 0 else '-'}{abs(point - 1)}"
    return sign + text


def _utf16_order(key: str) -> bytes:
    # JavaScript sorts object keys by UTF-16 code units, which differs from code points above U+FFFF.
    return key.encode("utf-16-be", "surrogatepass")


# json.dumps(value, ensure_ascii=False) for a str, without building a new JSONEncoder on every call.
_basestring: Callable[[str], str] = json.encoder.encode_basestring
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# Beyond 2**53 JavaScript holds an integer as the nearest double, and prints that.
_JS_SAFE_INTEGER = 2**53


def _json_string(text: str) -> str:
    """JSON.stringify of a string: like Python's escaping, plus lone surrogates as lowercase \\uXXXX."""
    quoted = _basestring(text)
    if _LONE_SURROGATE.search(quoted):
        return _LONE_SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", quoted)
    return quoted


_JSON_CONSTANTS = {True: "true", False: "false", None: "null"}


def _sorted_items(value: dict[str, Any]) -> list[tuple[str, Any]]:
    if all(key.isascii() for key in value):  # ASCII: code point order is UTF-16 order
        return sorted(value.items())
    return sorted(value.items(), key=lambda item: _utf16_order(item[0]))


def _orjson_renders(value: Any) -> bool:
    """Whether orjson's sorted compact output is the canonical rendering: only strings, safe integers, booleans,
    nulls, lists and objects with ASCII keys (where code point order is UTF-16 order), of exact types. orjson
    escapes strings exactly as JSON.stringify does; it refuses lone surrogates, and canonical_json then takes
    the slow path."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(-_JS_SAFE_INTEGER <= value <= _JS_SAFE_INTEGER)
    if kind is dict:
        return all(
            type(key) is str and key.isascii() and _orjson_renders(item) for key, item in value.items()
        )
    if kind is list or kind is tuple:
        return all(_orjson_renders(item) for item in value)
    return False


@functools.cache
def _orjson() -> Any:
    """orjson where it is installed (the server has it; the SDK's base install does not), else None."""
    try:
        import orjson  # optional: not at module level
    except ImportError:
        return None
    return orjson


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, non-ASCII kept, numbers as JavaScript prints them."""
    fast = _orjson()
    if fast is not None and _orjson_renders(value):
        # Ten times faster than the walk below, which gives the same text (tests/unit/test_job_ids.py).
        with contextlib.suppress(TypeError):  # orjson.JSONEncodeError, a lone surrogate
            text: str = fast.dumps(value, option=fast.OPT_SORT_KEYS).decode()
            return text
    return _canonical(value)


def _canonical(value: Any) -> str:
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{_json_string(k)}:{_canonical(v)}" for k, v in _sorted_items(value)) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_canonical(item) for item in value) + "]"
    if isinstance(value, bool) or value is None:
        return _JSON_CONSTANTS[value]
    if isinstance(value, float):
        return _js_number(value)
    if isinstance(value, int):
        return str(value) if abs(value) <= _JS_SAFE_INTEGER else _js_number(float(value))
    return json.dumps(value, ensure_ascii=False)


def job_id(definition: dict[str, Any] | JobDefinition) -> str:
    # exclude_unset: a model hashes like the dict it was validated from (a DataRef without a value stays so).
    raw = (
        definition.model_dump(mode="json", exclude_unset=True)
        if isinstance(definition, JobDefinition)
        else definition
    )
    return hashlib.sha256(canonical_json(hash_blob(raw)).encode("utf-8")).hexdigest()
