"""What `Client` and `AsyncClient` share: the server address, retry policy, the error envelope translated into
typed exceptions, and the JSON bodies of submissions. No network."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from asman._version import __version__
from asman.client._datarefs import PathArg, Upload, prepare_inputs
from asman.client.errors import ApiError, InvalidJob, JobNotFound, ServerUnreachable
from asman.core.env import API_URL_ENV, API_URL_ENV_ALIASES

DEFAULT_URL = "http://127.0.0.1:8000"
API_ENV = API_URL_ENV

# Transport failures worth another try: the request did not get an answer. Submits are idempotent (a job is
# its definition's hash), so even a request that may have reached the server is safe to send again.
RETRYABLE_ERRORS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
    httpx.PoolTimeout,
)
RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
MAX_RETRY_AFTER = 10.0

RequestKind = Literal["submit", "job", "other"]


def default_url() -> str:
    """The server address from ASMAN_API_URL, else from one of its old names, else the local default."""
    return next(
        (os.environ[name] for name in (API_ENV, *API_URL_ENV_ALIASES) if os.environ.get(name)), DEFAULT_URL
    )


def normalize_url(url: str | None) -> str:
    """`127.0.0.1:8000` -> `http://127.0.0.1:8000`; no trailing slash."""
    url = (url or default_url()).strip()
    if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", url):
        url = "http://" + url
    return url.rstrip("/")


@dataclass(frozen=True)
class Retry:
    """Exponential backoff on connection errors: `attempts` retries after the first try."""

    attempts: int = 4
    first_delay: float = 0.25
    max_delay: float = 5.0

    def delays(self) -> Iterator[float | None]:
        """The pause before each retry; the last item is None: give up after that try."""
        delay = self.first_delay
        for _ in range(self.attempts):
            yield delay
            delay = min(delay * 2, self.max_delay)
        yield None


def retry_pause(response: httpx.Response, delay: float) -> float | None:
    """How long to wait before sending again, or None when the answer is final. Honours `Retry-After`."""
    if response.status_code not in RETRYABLE_STATUS:
        return None
    try:
        after = float(response.headers.get("retry-after", ""))
    except ValueError:
        return delay
    return max(delay, min(after, MAX_RETRY_AFTER))


def default_timeout(timeout: float | httpx.Timeout) -> httpx.Timeout:
    if isinstance(timeout, httpx.Timeout):
        return timeout
    return httpx.Timeout(timeout, connect=min(timeout, 5.0))


def describe_transport_error(error: Exception) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def error_from_response(response: httpx.Response, kind: RequestKind) -> ApiError:
    """The exception for an error answer, using the server's `{error, message}` envelope when there is one."""
    code, message = "error", ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        code = str(body.get("error") or code)
        message = str(body.get("message") or body.get("detail") or "")
    if not message:
        message = response.text.strip()[:300] or response.reason_phrase
    where = f"{response.request.method} {response.request.url}"
    status = response.status_code
    if kind == "submit" and status in (400, 413, 422):
        return InvalidJob(f"the server refused the job: {message}", status, code)
    if kind == "job" and status == 404:
        return JobNotFound(message, status, code)
    if status >= 500:
        message = f"the server failed on {where} ({status}): {message}; try again, or check the server's log"
    return ApiError(f"{message} ({status} on {where})" if status < 500 else message, status, code)


def unreachable(url: str, error: Exception) -> ServerUnreachable:
    return ServerUnreachable(url, describe_transport_error(error))


def _size_text(value: str | int | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return str(int(value))


def _duration_text(value: str | float | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return f"{value:g}s"


def build_definition(
    definition: Mapping[str, Any] | None,
    *,
    image: str | None = None,
    command: str | None = None,
    entrypoint: str | None = None,
    workdir: str | None = None,
    env: Mapping[str, str] | None = None,
    cpus: float | None = None,
    memory: str | int | None = None,
    gpus: int | None = None,
    max_duration: str | float | None = None,
) -> dict[str, Any]:
    """A job definition: `definition` (a dict, as the REST API takes it) with the keyword fields laid over it."""
    result: dict[str, Any] = dict(definition or {})
    texts = {
        "image": image,
        "command": command,
        "entrypoint": entrypoint,
        "workdir": workdir,
        "maxDuration": _duration_text(max_duration),
    }
    result.update({key: value for key, value in texts.items() if value is not None})
    if env:
        result["env"] = {**(result.get("env") or {}), **{str(k): str(v) for k, v in env.items()}}
    requirements = dict(result.get("requirements") or {})
    wanted: dict[str, Any] = {"cpus": cpus, "memory": _size_text(memory), "gpus": gpus}
    requirements.update({key: value for key, value in wanted.items() if value is not None})
    if requirements:
        result["requirements"] = requirements
    if not result.get("image") and not result.get("build"):
        raise InvalidJob(
            "a job needs an image to run (image='alpine:3.19', or --image on the command line),"
            " or a 'build' in its definition"
        )
    return result


def split_submission(body: Mapping[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Accept a bare definition or `{definition, control}` (as `POST /q/<queue>` does)."""
    if body is None:
        return {}, {}
    if isinstance(body.get("definition"), dict):
        return dict(body["definition"]), dict(body.get("control") or {})
    return dict(body), {}


def submission_body(
    definition: dict[str, Any], control: dict[str, Any], namespace: str | None
) -> dict[str, Any]:
    if namespace is not None:
        control = {**control, "namespace": namespace}
    return {"definition": definition, **({"control": control} if control else {})}


def _file_args(files: Iterable[PathArg] | PathArg | None) -> list[PathArg]:
    """`submit(files=...)` takes one path or many."""
    if files is None:
        return []
    if isinstance(files, (str, os.PathLike)):
        return [files]
    return list(files)


@dataclass(frozen=True)
class Submission:
    """The body of `POST /q/<queue>` and the blobs to upload before sending it."""

    body: dict[str, Any]
    uploads: list[Upload]


def plan_submission(
    api_url: str,
    definition: Mapping[str, Any] | None,
    namespace: str | None,
    files: Iterable[PathArg] | PathArg | None,
    inputs: Mapping[str, bytes | str] | None,
    fields: dict[str, Any],
) -> Submission:
    """Everything a submit needs but the network: the definition, inline inputs, and what to upload (reads files)."""
    raw, control = split_submission(definition)
    built = build_definition(raw, **fields)  # checked before any file is read
    prepared = prepare_inputs(api_url, _file_args(files), inputs)
    if prepared.refs:
        built["inputs"] = {**(built.get("inputs") or {}), **prepared.refs}
    return Submission(submission_body(built, control, namespace), prepared.uploads)


def user_agent() -> str:
    return f"asman-python/{__version__}"
