"""One frozen settings model for the server and the worker, read from ASMAN_* variables and command-line flags.

Each field declares its variable, its flag, the old names kept as aliases and the form a value takes. The CLI
generates its options from these (cli/_settings.py) and docs/configuration.md holds `markdown_tables()`, so the
code, `--help` and the docs cannot disagree (tests/unit/test_settings.py checks all three). A bad value names
the variable or flag that gave it and the form expected; an unknown ASMAN_* variable earns a warning with the
closest real name.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import socket
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from asman.core.env import API_URL_ENV, API_URL_ENV_ALIASES, API_URL_FLAGS
from asman.core.errors import AsmanError
from asman.core.units import parse_duration, parse_size

# The network a worker makes for its jobs unless told otherwise (worker/network.py makes it).
DEFAULT_JOB_NETWORK = "asman-jobs"
DEFAULT_DATA_DIR = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "asman"
ENV_PREFIX = "ASMAN_"
# The hosts of metapages that embed Asman's web client, or upstream's, and send jobs from it to a server on
# the user's computer: the origins local mode allows.
METAPAGE_ORIGINS = ("https://metapage.io", "https://app.metapage.io", "https://container.mtfm.io")
# ASMAN_* names that are not settings: the worker Deployment's queue (passed as an argument), the private
# Docker engine folder of `make run`, and the test suite's own knobs.
OTHER_VARIABLES = frozenset({"ASMAN_QUEUE", "ASMAN_DOCKER_DIR"})
OTHER_PREFIXES = ("ASMAN_TEST_",)


class Scope(Enum):
    SERVER = "server"
    WORKER = "worker"
    BOTH = "both"

    def covers(self, command: Scope) -> bool:
        return self is Scope.BOTH or self is command


@dataclass(frozen=True)
class Setting:
    """How a field meets the outside: its names, the form of its values, and the help text."""

    help: str
    form: str  # what a valid value looks like, for error messages: "a duration such as 90s, 20m or 1h"
    scope: Scope = Scope.SERVER
    env: str | None = None  # ASMAN_<FIELD> unless given
    env_aliases: tuple[str, ...] = ()
    flag: str | None = None  # --<field> (without a worker_ prefix) unless given
    flag_aliases: tuple[str, ...] = ()
    default_text: str | None = None  # the default as the docs show it (Markdown); the value itself if None
    metavar: str = "TEXT"


def _duration(value: Any) -> Any:
    return parse_duration(value) if isinstance(value, str) else value


def _size(value: Any) -> Any:
    return parse_size(value) if isinstance(value, str) else value


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[Network, ...]:
    """`10.0.0.5, 10.1.0.0/16, ::1` as networks; ValueError names an entry that is neither an address nor a
    CIDR block."""
    networks = []
    for entry in text.replace(" ", ",").split(","):
        if entry:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or CIDR block") from None
    return tuple(networks)


def parse_origins(text: str) -> tuple[str, ...]:
    """`*`, or origins such as `https://metapage.io` separated by commas or spaces; ValueError for anything
    that is no origin (a path, no scheme)."""
    origins = []
    for entry in text.replace(" ", ",").split(","):
        entry = entry.strip().rstrip("/")
        if not entry:
            continue
        scheme, sep, rest = entry.partition("://")
        if entry != "*" and (scheme not in ("http", "https") or not sep or not rest or "/" in rest):
            raise ValueError(f"{entry!r} is not an origin such as https://metapage.io (scheme and host only)")
        origins.append(entry)
    return tuple(origins)


def _networks(value: str) -> str:
    parse_networks(value)  # raises ValueError, reported with the variable that gave it
    return value


def _origins(value: str) -> str:
    parse_origins(value)
    return value


def parse_tokens(value: str) -> dict[str, str]:
    """`queue=token` pairs; spaces around names and `=` are dropped. A pair without a queue or a token is an
    error, never a queue silently left open."""
    tokens = {}
    for pair in value.split(","):
        if not pair.strip():
            continue
        name, equals, token = (part.strip() for part in pair.partition("="))
        if not equals or not name or not token:
            raise ValueError(f"{pair.strip()!r} is not a queue=token pair")
        tokens[name] = token
    return tokens


def _tokens(value: str) -> str:
    parse_tokens(value)
    return value


Duration = Annotated[float, BeforeValidator(_duration), Field(ge=0)]
Size = Annotated[int, BeforeValidator(_size), Field(ge=0)]
DURATION = "a duration: seconds, or e.g. 90s, 20m, 1h30m, 30d"
SIZE = "a size in bytes, or e.g. 512k, 16m, 4g"
BOOL = "true or false (also 1/0, yes/no, on/off)"
URL_FORM = "a URL such as http://127.0.0.1:8000"


class InvalidSetting(AsmanError):
    status_code = 400
    code = "invalid_setting"


# The environment `Settings()` reads; `Settings.from_env(environ)` swaps it for one construction.
_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("asman_settings_environ", default=None)


class _Environment(PydanticBaseSettingsSource):
    """Each field's value from the first of its variables that is set (an empty value counts as unset)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        environ = _ENVIRON.get()
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name in self.settings_cls.model_fields:
            found = _set_variable(name, environ)
            if found is not None:
                values[name] = environ[found]
        return values


class Settings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="forbid")

    # -- both
    data_dir: Annotated[
        Path,
        Setting(
            "where Asman keeps its files: the server's SQLite database and blobs, a worker's job folders and cache",
            "a folder",
            Scope.BOTH,
            env_aliases=("ASMAN_WORKER_DATA_DIRECTORY",),
            flag="--data-directory",
            default_text="`~/.local/share/asman`",
            metavar="DIR",
        ),
    ] = DEFAULT_DATA_DIR
    host: Annotated[
        str,
        Setting(
            "the server's bind address (a worker's in local mode)",
            "an address such as 127.0.0.1 or 0.0.0.0",
            Scope.BOTH,
            env_aliases=("ASMAN_WORKER_HOST",),
            metavar="ADDRESS",
        ),
    ] = "127.0.0.1"
    port: Annotated[
        int,
        Setting(
            "the server's port (a worker's in local mode)",
            "a port number such as 8000",
            Scope.BOTH,
            env_aliases=("ASMAN_WORKER_PORT",),
            metavar="PORT",
        ),
        Field(ge=0, le=65535),
    ] = 8000
    log_level: Annotated[
        Literal["debug", "info", "warning", "error"],
        BeforeValidator(_lower),
        Setting("how much to log", "debug, info, warning or error", Scope.BOTH, metavar="LEVEL"),
    ] = "info"
    log_format: Annotated[
        Literal["text", "json"],
        BeforeValidator(_lower),
        Setting(
            "log lines as text, or one JSON object per line", "text or json", Scope.BOTH, metavar="FORMAT"
        ),
    ] = "text"
    access_log: Annotated[
        bool,
        Setting("log every HTTP request the server answers (in the log format)", BOOL, Scope.BOTH),
    ] = False

    # -- server
    database_url: Annotated[
        str,
        Setting(
            "the queue store: `postgresql://user:pass@host/db` for scale-out",
            "a postgresql:// URL, or empty for SQLite in the data folder",
            default_text="SQLite in the data folder",
            metavar="URL",
        ),
    ] = ""
    blob_url: Annotated[
        str,
        Setting(
            "the blob store: a folder, or `s3://bucket/prefix?endpoint=...&region=...`",
            "a folder or an s3:// URL",
            default_text="`<data folder>/blobs`",
            metavar="URL",
        ),
    ] = ""
    public_url: Annotated[
        str,
        Setting(
            "the API's public address, for links",
            URL_FORM,
            default_text="the request's base URL",
            metavar="URL",
        ),
    ] = ""
    ttl_seconds: Annotated[
        Duration,
        Setting(
            "how long definitions, results, logs and blobs live",
            DURATION,
            env="ASMAN_TTL",
            env_aliases=("ASMAN_TTL_SECONDS",),
            flag="--ttl",
            default_text="`30d`",
            metavar="DURATION",
        ),
    ] = 30 * 86_400
    max_body_bytes: Annotated[
        Size,
        Setting(
            "largest JSON body; larger files go to `/f/<sha256>`", SIZE, default_text="`16m`", metavar="SIZE"
        ),
    ] = 16 * 1024**2
    max_batch_jobs: Annotated[
        int,
        Setting(
            "jobs per batch submit (`POST /q/QUEUE/batch`); a bigger batch is refused with 413",
            "a whole number such as 10000",
            metavar="N",
        ),
        Field(ge=1),
    ] = 10_000
    max_batch_bytes: Annotated[
        Size,
        Setting("largest batch submit body", SIZE, default_text="`64m`", metavar="SIZE"),
    ] = 64 * 1024**2
    max_blob_bytes: Annotated[Size, Setting("largest blob", SIZE, default_text="`5g`", metavar="SIZE")] = (
        5 * 1024**3
    )
    lease_seconds: Annotated[
        Duration,
        Setting(
            "a running job's lease: a worker silent this long loses the job",
            DURATION,
            default_text="`30s`",
            metavar="DURATION",
        ),
    ] = 30.0
    heartbeat_seconds: Annotated[
        Duration,
        Setting("how often workers renew their leases", DURATION, default_text="`5s`", metavar="DURATION"),
    ] = 5.0
    retry_budget: Annotated[
        int,
        Setting("lost attempts before a job finishes `WorkerLost`", "a whole number such as 3", metavar="N"),
        Field(ge=0),
    ] = 3
    sweep_interval_seconds: Annotated[
        Duration,
        Setting("how often expired data is deleted", DURATION, default_text="`1h`", metavar="DURATION"),
    ] = 3600.0
    rate_limit: Annotated[
        float,
        Setting(
            "requests per second per client address; over it, 429 with `Retry-After`",
            "requests per second as a number, e.g. 10 or 0.5 (0 turns the limit off)",
            default_text="`0` (off)",
            metavar="PER_SECOND",
        ),
        Field(ge=0),
    ] = 0.0
    rate_burst: Annotated[
        float,
        Setting(
            "requests a client may make at once",
            "a number of requests, e.g. 20",
            default_text="twice the rate",
            metavar="N",
        ),
        Field(ge=0),
    ] = 0.0
    trusted_proxies: Annotated[
        str,
        AfterValidator(_networks),
        Setting(
            "the proxies (load balancers) in front of the server, whose `X-Forwarded-For` is believed: the client"
            " is the right-most hop that is not one of them. Only list addresses that really are your proxies",
            "IP addresses or CIDR blocks separated by commas, e.g. 10.0.0.0/8,192.0.2.7",
            default_text="none (the peer address is the client)",
            metavar="CIDR,...",
        ),
    ] = ""
    max_streams_per_client: Annotated[
        int,
        Setting(
            "event streams (SSE) one client address may hold open; past it, 429",
            "a whole number (0 turns the cap off)",
            metavar="N",
        ),
        Field(ge=0),
    ] = 100
    header_timeout: Annotated[
        Duration,
        Setting(
            "how long a connection may take to send a request's headers before it is closed (slow clients that"
            " hold connections open)",
            DURATION,
            default_text="`10s`",
            metavar="DURATION",
        ),
    ] = 10.0
    cors_origins: Annotated[
        str,
        AfterValidator(_origins),
        Setting(
            "web pages (origins) whose scripts may use the API from a browser: `*` for any; the server's own web"
            " client always may. Pages of other origins cannot read answers, send jobs or open sockets",
            "`*`, or origins separated by commas, e.g. https://metapage.io,https://app.metapage.io",
            default_text="`*` (in local mode: the metapage hosts, docs/security.md)",
            metavar="ORIGIN,...",
        ),
    ] = "*"
    max_log_bytes: Annotated[
        Size,
        Setting(
            "log text kept per run; past it one marker line says it was truncated",
            SIZE,
            default_text="`10m`",
            metavar="SIZE",
        ),
    ] = 10 * 1024**2
    max_inputs: Annotated[
        int,
        Setting("inputs plus configFiles per job", "a whole number such as 1000", metavar="N"),
        Field(ge=0),
    ] = 1000
    max_result_bytes: Annotated[
        Size,
        Setting(
            "size of the result a worker reports; a larger one fails the job (`Error`) with the reason",
            SIZE,
            default_text="`16m`",
            metavar="SIZE",
        ),
    ] = 16 * 1024**2
    max_outputs: Annotated[
        int,
        Setting(
            "output files in a worker's result; more fail the job (`Error`) with the reason",
            "a whole number such as 10000",
            metavar="N",
        ),
        Field(ge=0),
    ] = 10_000
    worker_tokens: Annotated[
        str,
        AfterValidator(_tokens),
        Setting(
            "only workers with the token may serve that queue",
            "queue=token pairs separated by commas, e.g. gpu=s3cret,cpu=t0ken",
            flag="--worker-tokens",
            default_text="empty",
            metavar="QUEUE=TOKEN,...",
        ),
    ] = ""
    share_public_results: Annotated[
        bool,
        Setting(
            "let every queue without a worker token serve results made on any other such queue (by default each"
            " queue serves only its own; docs/security.md)",
            BOOL,
        ),
    ] = False
    replica_id: Annotated[
        str,
        Setting("this API replica's name in worker listings", "a name", default_text="host name and pid"),
    ] = f"{socket.gethostname()}-{os.getpid()}"
    tes_queue: Annotated[
        str,
        Setting(
            "the queue that the GA4GH TES API at /ga4gh/tes/v1 sends tasks to (every queue has its own at"
            " /q/QUEUE/ga4gh/tes/v1)",
            "a queue name",
            default_text="`tes` (`local` in local mode)",
            metavar="QUEUE",
        ),
    ] = "tes"
    webhook_allow_private_urls: Annotated[
        bool,
        Setting(
            "send webhooks to loopback, private, link-local, CGNAT and other internal addresses",
            BOOL,
            default_text="`false` (`true` in local mode)",
        ),
    ] = False
    webhook_expiry: Annotated[
        Duration,
        Setting(
            "how long an undelivered webhook is retried before it is dropped",
            DURATION,
            default_text="`28d`",
            metavar="DURATION",
        ),
    ] = 28 * 86_400
    webhook_max_attempts: Annotated[
        int,
        Setting("attempts at one webhook before it is dropped", "a whole number of at least 1", metavar="N"),
        Field(ge=1),
    ] = 1000

    # -- worker
    api_url: Annotated[
        str,
        Setting(
            "the queue server a worker (and the `asman job` commands) talk to",
            URL_FORM,
            Scope.WORKER,
            env=API_URL_ENV,
            env_aliases=API_URL_ENV_ALIASES,
            flag=API_URL_FLAGS[0],
            flag_aliases=API_URL_FLAGS[1:],
            metavar="URL",
        ),
    ] = "http://127.0.0.1:8000"
    worker_cpus: Annotated[
        int,
        Setting("jobs run at once", "a whole number of at least 1", Scope.WORKER, metavar="N"),
        Field(ge=1),
    ] = 1
    worker_gpus: Annotated[
        str | None,
        Setting(
            "GPUs offered; a job's `requirements.gpus` reserves that many",
            "a count (2), all, or device=1,3",
            Scope.WORKER,
            default_text="none",
            metavar="N|all|device=1,3",
        ),
        Field(pattern=r"^(\d+|all|device=[^,\s]+(,[^,\s]+)*)$"),
    ] = None
    worker_max_job_duration: Annotated[
        Duration,
        Setting(
            "cap on any job's run time (then `TimedOut`)",
            DURATION,
            Scope.WORKER,
            default_text="`5m`",
            metavar="DURATION",
        ),
    ] = 300.0
    worker_id: Annotated[
        str | None,
        Setting(
            "this worker's name",
            "a name",
            Scope.WORKER,
            flag="--id",
            default_text="host name + random suffix",
            metavar="NAME",
        ),
    ] = None
    worker_mode: Annotated[
        Literal["remote", "local"],
        BeforeValidator(_lower),
        Setting(
            "remote takes jobs from the server at --api-url; local runs the server too, on --port, for the queue local",
            "remote or local",
            Scope.WORKER,
            metavar="remote|local",
        ),
    ] = "remote"
    worker_network: Annotated[
        str,
        Setting(
            f"the jobs' Docker network: {DEFAULT_JOB_NETWORK} (made by the worker: the internet, but no traffic"
            " between jobs), none (no network at all), or a Docker network you made",
            f"{DEFAULT_JOB_NETWORK}, none, or a Docker network name",
            Scope.WORKER,
        ),
    ] = DEFAULT_JOB_NETWORK
    worker_max_output_size: Annotated[
        Size,
        Setting(
            "cap on a job's outputs (over it the job is an `Error`)",
            SIZE,
            Scope.WORKER,
            default_text="`1g`",
            metavar="SIZE",
        ),
    ] = 1024**3
    # Not `worker_token`: that is the server's lookup of a queue's token, below.
    worker_queue_token: Annotated[
        str | None,
        Setting(
            "the queue's worker token",
            "the token the server's ASMAN_WORKER_TOKENS names",
            Scope.WORKER,
            env="ASMAN_WORKER_TOKEN",
            flag="--token",
            default_text="none",
        ),
    ] = None
    worker_allow_private_urls: Annotated[
        bool,
        Setting("let jobs fetch inputs and build contexts from internal addresses", BOOL, Scope.WORKER),
    ] = False
    worker_allow_private_registries: Annotated[
        bool,
        Setting(
            "let jobs name images on registries at internal addresses (images already on the engine need no registry)",
            BOOL,
            Scope.WORKER,
        ),
    ] = False
    worker_registry_credentials: Annotated[
        str,
        Setting(
            "registries this worker's own Docker credentials may be sent to for a job's image; any other is"
            " pulled anonymously",
            "registry hosts separated by commas, e.g. ghcr.io,registry.example.com:5000 (`*` for any)",
            Scope.WORKER,
            default_text="none",
            metavar="HOSTS",
        ),
    ] = ""
    worker_default_memory: Annotated[
        Size,
        Setting(
            "memory (and build memory) of a job whose requirements name none; `0` leaves it unlimited",
            SIZE,
            Scope.WORKER,
            default_text="`2g`",
            metavar="SIZE",
        ),
    ] = 2 * 1024**3
    worker_max_memory: Annotated[
        Size,
        Setting(
            "cap on a job's `requirements.memory` (over it the job is an `Error`); `0`: no cap",
            SIZE,
            Scope.WORKER,
            default_text="`0` (no cap)",
            metavar="SIZE",
        ),
    ] = 0
    worker_default_cpus: Annotated[
        float,
        Setting(
            "CPUs of a job whose requirements name none; `0` leaves them unlimited",
            "a number of CPUs, e.g. 1 or 0.5",
            Scope.WORKER,
            metavar="N",
        ),
        Field(ge=0),
    ] = 1.0
    worker_max_shm: Annotated[
        Size,
        Setting(
            "cap on a job's `shmSize` (over it the job is an `Error`)",
            SIZE,
            Scope.WORKER,
            default_text="`1g`",
            metavar="SIZE",
        ),
    ] = 1024**3
    worker_max_input_size: Annotated[
        Size,
        Setting(
            "cap on all of a job's downloaded inputs together (each is streamed to disk)",
            SIZE,
            Scope.WORKER,
            default_text="`10g`",
            metavar="SIZE",
        ),
    ] = 10 * 1024**3
    worker_max_output_files: Annotated[
        int,
        Setting(
            "cap on how many output files a job may write (over it the job is an `Error`)",
            "a whole number of at least 1",
            Scope.WORKER,
            metavar="N",
        ),
        Field(ge=1),
    ] = 10_000
    worker_cache_size: Annotated[
        Size,
        Setting(
            "quota of each queue's `/job-cache` on this worker; past it the least recently used entries go",
            SIZE,
            Scope.WORKER,
            default_text="`10g`",
            metavar="SIZE",
        ),
    ] = 10 * 1024**3
    worker_s3_endpoint: Annotated[
        str,
        Setting(
            "the S3 service of TES `s3://` inputs and outputs, with the AWS variables' credentials"
            " (`https://s3.amazonaws.com` for AWS); every task on the queue may use them",
            "an http(s) URL, or empty to refuse s3:// URLs",
            Scope.WORKER,
            default_text="none (s3:// refused)",
            metavar="URL",
        ),
    ] = ""
    worker_grace_period: Annotated[
        Duration,
        Setting(
            "on SIGTERM, how long running jobs may finish before they are handed back",
            DURATION,
            Scope.WORKER,
            default_text="`30s`",
            metavar="DURATION",
        ),
    ] = 30.0

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Flags (init arguments) win over variables; no .env or secret files are read behind the user's back.
        return init_settings, _Environment(settings_cls)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **flags: Any) -> Settings:
        """The settings `environ` (default: this process's) and `flags` make, flags winning; a bad value
        raises InvalidSetting naming the variable or flag it came from and the form expected."""
        given = {name: value for name, value in flags.items() if value is not None}
        token = _ENVIRON.set(environ)
        try:
            return cls(**given)
        except ValidationError as error:
            raise InvalidSetting(
                _describe(error, given, os.environ if environ is None else environ)
            ) from None
        finally:
            _ENVIRON.reset(token)

    @property
    def store_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'asman.sqlite3'}"

    @property
    def blobs_url(self) -> str:
        return self.blob_url or str(self.data_dir / "blobs")

    def worker_token(self, queue: str) -> str | None:
        return parse_tokens(self.worker_tokens).get(queue)

    def with_(self, **changes: Any) -> Settings:
        return self.model_copy(update=changes)


# -- names ----------------------------------------------------------------------------------------------------


def setting(name: str) -> Setting:
    return next(meta for meta in Settings.model_fields[name].metadata if isinstance(meta, Setting))


def env_names(name: str) -> tuple[str, ...]:
    """A field's variables, the one to use first: ASMAN_<FIELD> unless the field names another."""
    meta = setting(name)
    return (meta.env or ENV_PREFIX + name.upper(), *meta.env_aliases)


def flag_names(name: str) -> tuple[str, ...]:
    meta = setting(name)
    return (meta.flag or "--" + name.removeprefix("worker_").replace("_", "-"), *meta.flag_aliases)


def fields_for(scope: Scope) -> Iterator[str]:
    """The fields a command of `scope` (server or worker) takes, in declaration order."""
    return (name for name in Settings.model_fields if setting(name).scope.covers(scope))


def _set_variable(name: str, environ: Mapping[str, str]) -> str | None:
    return next((env for env in env_names(name) if environ.get(env)), None)


def known_variables() -> frozenset[str]:
    return frozenset(env for name in Settings.model_fields for env in env_names(name))


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """A warning for each ASMAN_* variable that is no setting, with the closest real name (typos such as
    ASMAN_DATABSE_URL would otherwise pass silently)."""
    environ = os.environ if environ is None else environ
    known = known_variables()
    warnings = []
    for variable in sorted(environ):
        if (
            not variable.startswith(ENV_PREFIX)
            or variable in known
            or variable in OTHER_VARIABLES
            or variable.startswith(OTHER_PREFIXES)
        ):
            continue
        close = difflib.get_close_matches(variable, sorted(known), n=1)
        hint = f"did you mean {close[0]}?" if close else "docs/configuration.md lists the settings"
        warnings.append(f"{variable} is not an Asman setting and is ignored: {hint}")
    return warnings


def _describe(error: ValidationError, flags: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    problems = []
    for item in error.errors():
        name = str(item["loc"][0]) if item["loc"] else ""
        if name not in Settings.model_fields:
            problems.append(item["msg"])
            continue
        form = setting(name).form
        if name in flags:
            given = f"{flag_names(name)[0]} {flags[name]}"
        else:
            variable = _set_variable(name, environ) or env_names(name)[0]
            given = f"{variable}={environ.get(variable, '')}"
        problems.append(f"{given} is not valid: expected {form}")
    return "; ".join(problems)


# -- docs -----------------------------------------------------------------------------------------------------


def default_text(name: str) -> str:
    """The default in Markdown, as docs/configuration.md shows it (`--help` shows it without backticks)."""
    meta = setting(name)
    if meta.default_text is not None:
        return meta.default_text
    default = Settings.model_fields[name].default
    if isinstance(default, bool):
        return "`true`" if default else "`false`"
    if isinstance(default, float) and default.is_integer():
        return f"`{int(default)}`"
    return f"`{default}`"


def markdown_table(scope: Scope) -> str:
    """The table of one scope's settings in docs/configuration.md (kept equal to it by a test)."""
    rows = ["| variable | flag | default | meaning |", "|---|---|---|---|"]
    for name in Settings.model_fields:
        if setting(name).scope is not scope:
            continue
        primary, *aliases = env_names(name)
        variable = f"`{primary}`" + (f" (or {', '.join(f'`{a}`' for a in aliases)})" if aliases else "")
        flags = ", ".join(f"`{flag}`" for flag in flag_names(name))
        rows.append(f"| {variable} | {flags} | {default_text(name)} | {setting(name).help} |")
    return "\n".join(rows)


def markdown_tables() -> str:
    titles = {
        Scope.BOTH: "Server and worker",
        Scope.SERVER: "Server (`asman server`; in local mode, `asman worker --mode local` reads these variables)",
        Scope.WORKER: "Worker (`asman worker QUEUE`)",
    }
    return "\n\n".join(f"### {title}\n\n{markdown_table(scope)}" for scope, title in titles.items())


if __name__ == "__main__":
    print(markdown_tables())
