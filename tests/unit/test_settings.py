"""Settings: one model, its variables and flags; docs/configuration.md, `--help` and the code agree; bad values and
unknown variables are reported by name."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from asman import __version__
from asman.cli import _logging, serve, work
from asman.cli.main import app
from asman.settings import (
    InvalidSetting,
    Scope,
    Settings,
    env_names,
    fields_for,
    flag_names,
    known_variables,
    markdown_tables,
    unknown_variables,
)

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = {"server": Scope.SERVER, "worker": Scope.WORKER}


def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    # Wide enough that rich never wraps a flag or a variable name in --help.
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "400", **(env or {})})


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in known_variables():
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What `asman server` / `asman worker` would start, without starting it (or touching logging)."""
    seen: dict[str, Any] = {}

    async def serve_worker(worker_settings: Any, server_settings: Settings | None) -> None:
        seen["worker"], seen["server"] = worker_settings, server_settings

    monkeypatch.setattr(serve, "run_server", lambda settings: seen.update(server=settings))
    monkeypatch.setattr(work, "_serve", serve_worker)
    monkeypatch.setattr(serve, "start_logging", lambda settings: None)
    monkeypatch.setattr(work, "start_logging", lambda settings: None)
    return seen


# -- the code, the docs and --help ----------------------------------------------------------------------------


def test_the_docs_hold_the_generated_tables() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    begin, end = "do not edit by hand -->\n", "\n<!-- end of settings tables -->"
    documented = text[text.index(begin) + len(begin) : text.index(end)]
    # On a difference, paste in what `python -m asman.settings` prints.
    assert documented == markdown_tables()


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_exactly_the_flags_of_its_settings(command: str) -> None:
    click_command: Any = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    declared = {
        flag
        for param in click_command.params
        for flag in (*param.opts, *param.secondary_opts)
        if flag.startswith("--") and flag != "--help"
    }
    expected = set()
    for name in fields_for(COMMANDS[command]):
        flags = flag_names(name)
        expected |= set(flags)
        if Settings.model_fields[name].annotation is bool:
            expected.add("--no-" + flags[0].removeprefix("--"))
    assert declared == expected


@pytest.mark.parametrize("command", COMMANDS)
def test_help_names_every_flag_and_variable(command: str) -> None:
    shown = invoke(command, "--help").stdout
    for name in fields_for(COMMANDS[command]):
        for flag in flag_names(name):
            assert flag in shown, flag
        for variable in env_names(name):
            assert variable in shown, variable


def test_every_variable_is_an_asman_one_but_the_kept_old_name() -> None:
    assert {name for name in known_variables() if not name.startswith("ASMAN_")} == {"API_SERVER_ADDRESS"}
    assert len(known_variables()) == sum(len(env_names(name)) for name in Settings.model_fields)


# -- values -----------------------------------------------------------------------------------------------------


def test_values_from_variables() -> None:
    settings = Settings.from_env(
        {
            "ASMAN_PORT": "9000",
            "ASMAN_TTL": "2d",
            "ASMAN_MAX_BODY_BYTES": "1m",
            "ASMAN_DATA_DIR": "/tmp/x",
            "ASMAN_ACCESS_LOG": "yes",
            "ASMAN_LOG_LEVEL": "DEBUG",
            "ASMAN_WORKER_MAX_JOB_DURATION": "1h30m",
            "ASMAN_RATE_LIMIT": "",  # empty is unset
        }
    )
    assert (settings.port, settings.ttl_seconds, settings.max_body_bytes) == (9000, 2 * 86400, 1024**2)
    assert settings.store_url == "sqlite:////tmp/x/asman.sqlite3"
    assert settings.access_log and settings.log_level == "debug" and settings.rate_limit == 0
    assert settings.worker_max_job_duration == 5400


def test_flags_win_and_old_names_are_aliases() -> None:
    environ = {"ASMAN_PORT": "9000", "ASMAN_TTL_SECONDS": "60", "ASMAN_WORKER_DATA_DIRECTORY": "/w"}
    settings = Settings.from_env(environ, port="9001")
    assert (settings.port, settings.ttl_seconds, settings.data_dir) == (9001, 60, Path("/w"))
    for variable in ("ASMAN_API_URL", "API_SERVER_ADDRESS", "ASMAN_WORKER_API_ADDRESS"):
        assert Settings.from_env({variable: "http://a:1"}).api_url == "http://a:1"
    # The one name wins over the old ones.
    both = {"ASMAN_WORKER_API_ADDRESS": "http://old:1", "ASMAN_API_URL": "http://new:1"}
    assert Settings.from_env(both).api_url == "http://new:1"


@pytest.mark.parametrize(
    ("environ", "flags", "message"),
    [
        (
            {"ASMAN_RATE_LIMIT": "10/s"},
            {},
            "ASMAN_RATE_LIMIT=10/s is not valid: expected requests per second as a number, e.g. 10",
        ),
        ({"ASMAN_ACCESS_LOG": "ture"}, {}, "ASMAN_ACCESS_LOG=ture is not valid: expected true or false"),
        (
            {"ASMAN_TRUSTED_PROXIES": "10.0.0.0/8,lb"},
            {},
            "ASMAN_TRUSTED_PROXIES=10.0.0.0/8,lb is not valid: expected IP addresses or CIDR blocks",
        ),
        (
            {"ASMAN_CORS_ORIGINS": "metapage.io"},
            {},
            "ASMAN_CORS_ORIGINS=metapage.io is not valid: expected `*`",
        ),
        (
            {"ASMAN_WORKER_TOKENS": "gpu=a,cpu"},
            {},
            "ASMAN_WORKER_TOKENS=gpu=a,cpu is not valid: expected queue=token",
        ),
        (
            {"ASMAN_WORKER_TOKENS": "=s3cret"},
            {},
            "ASMAN_WORKER_TOKENS==s3cret is not valid: expected queue=token",
        ),
        ({"ASMAN_TTL_SECONDS": "forever"}, {}, "ASMAN_TTL_SECONDS=forever is not valid: expected a duration"),
        ({"ASMAN_MAX_BLOB_BYTES": "lots"}, {}, "ASMAN_MAX_BLOB_BYTES=lots is not valid: expected a size"),
        ({"ASMAN_WORKER_GPUS": "two"}, {}, "ASMAN_WORKER_GPUS=two is not valid: expected a count (2), all"),
        ({"ASMAN_LOG_FORMAT": "xml"}, {}, "ASMAN_LOG_FORMAT=xml is not valid: expected text or json"),
        ({"ASMAN_PORT": "80"}, {"port": "http"}, "--port http is not valid: expected a port number"),
        ({}, {"worker_cpus": "0"}, "--cpus 0 is not valid: expected a whole number of at least 1"),
    ],
)
def test_a_bad_value_names_its_variable_or_flag_and_the_form(
    environ: dict[str, str], flags: dict[str, str], message: str
) -> None:
    with pytest.raises(InvalidSetting) as raised:
        Settings.from_env(environ, **flags)
    assert message in raised.value.message


def test_unknown_variables_get_the_closest_real_name() -> None:
    warnings = unknown_variables(
        {
            "ASMAN_DATABSE_URL": "x",
            "ASMAN_QUEUE": "q",
            "ASMAN_TEST_PG_BIN": "/x",
            "ASMAN_PORT": "1",
            "HOME": "/",
        }
    )
    assert warnings == [
        "ASMAN_DATABSE_URL is not an Asman setting and is ignored: did you mean ASMAN_DATABASE_URL?"
    ]


# -- the commands -----------------------------------------------------------------------------------------------


def test_version() -> None:
    result = invoke("--version")
    assert (result.exit_code, result.stdout) == (0, f"asman {__version__}\n")


def test_server_takes_flags_and_variables(started: dict[str, Any]) -> None:
    result = invoke(
        "server", "--rate-limit", "2", "--access-log", "--ttl", "1h", env={"ASMAN_MAX_INPUTS": "7"}
    )
    assert result.exit_code == 0, result.output
    settings = started["server"]
    assert (settings.rate_limit, settings.access_log, settings.ttl_seconds, settings.max_inputs) == (
        2,
        True,
        3600,
        7,
    )
    off = invoke("server", "--no-access-log", env={"ASMAN_ACCESS_LOG": "true"})
    assert off.exit_code == 0, off.output
    assert started["server"].access_log is False  # the flag switches off what the variable switched on


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["server"], {"ASMAN_RATE_LIMIT": "10/s"}, "ASMAN_RATE_LIMIT=10/s is not valid"),
        (["server", "--max-body-bytes", "huge"], {}, "--max-body-bytes huge is not valid: expected a size"),
        (["worker", "q", "--mode", "lcoal"], {}, "--mode lcoal is not valid: expected remote or local"),
    ],
)
def test_a_bad_value_is_a_usage_error(
    started: dict[str, Any], args: list[str], env: dict[str, str], message: str
) -> None:
    result = invoke(*args, env=env)
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output
    assert not started


@pytest.mark.parametrize("flag", ["--api-url", "--api-address", "--api"])
def test_worker_settings_from_the_one_model(started: dict[str, Any], flag: str) -> None:
    result = invoke(
        "worker",
        "gpu-queue",
        flag,
        "http://server:8000/",
        "--cpus",
        "3",
        "--gpus",
        "device=1,3",
        "--max-job-duration",
        "20m",
        "--id",
        "w-1",
        "--token",
        "s3cret",
        "--allow-private-urls",
        env={"ASMAN_WORKER_GRACE_PERIOD": "1m", "ASMAN_DATA_DIR": "/tmp/asman-w"},
    )
    assert result.exit_code == 0, result.output
    worker, server = started["worker"], started["server"]
    assert server is None  # remote mode runs no server
    assert (worker.api_url, worker.queue, worker.slots, worker.gpu_ids) == (
        "http://server:8000",
        "gpu-queue",
        3,
        ("1", "3"),
    )
    assert (worker.max_job_duration_s, worker.worker_id, worker.token, worker.grace_seconds) == (
        1200,
        "w-1",
        "s3cret",
        60,
    )
    assert worker.allow_private_urls and worker.data_dir == Path("/tmp/asman-w")


def test_local_mode_runs_the_server_with_the_same_settings(started: dict[str, Any]) -> None:
    result = invoke("worker", "--mode", "local", "--port", "8123", env={"ASMAN_WORKER_HOST": "0.0.0.0"})
    assert result.exit_code == 0, result.output
    worker, server = started["worker"], started["server"]
    assert (worker.queue, worker.api_url) == ("local", "http://127.0.0.1:8123")
    assert (server.host, server.port) == ("0.0.0.0", 8123)


def test_remote_mode_needs_a_queue(started: dict[str, Any]) -> None:
    result = invoke("worker")
    assert result.exit_code == 2 and "name the queue" in result.stderr


# -- logging ----------------------------------------------------------------------------------------------------


@pytest.fixture
def restored_logging() -> Iterator[None]:
    names = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
    saved = [
        (logging.getLogger(n), logging.getLogger(n).handlers[:], logging.getLogger(n).level) for n in names
    ]
    propagate = {n: logging.getLogger(n).propagate for n in names}
    yield
    for logger, handlers, level in saved:
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate[logger.name if logger.name != "root" else ""]


def test_json_lines_and_the_access_log(restored_logging: None) -> None:
    _logging.configure_logging(Settings(log_format="json", log_level="warning", access_log=True))
    [handler] = logging.getLogger().handlers
    assert isinstance(handler.formatter, _logging.JsonFormatter)
    assert logging.getLogger().level == logging.WARNING
    assert logging.getLogger("uvicorn.access").level == logging.INFO
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("1.2.3.4:5", "GET", "/x", "1.1", 200),
        None,
    )
    line = json.loads(handler.format(record))
    assert line["message"] == '1.2.3.4:5 - "GET /x HTTP/1.1" 200'
    assert (line["level"], line["logger"], line["method"], line["path"], line["status"]) == (
        "info",
        "uvicorn.access",
        "GET",
        "/x",
        200,
    )
    assert line["time"].endswith("Z")


def test_the_access_log_is_off_by_default(restored_logging: None) -> None:
    _logging.configure_logging(Settings())
    assert not logging.getLogger("uvicorn.access").isEnabledFor(logging.INFO)
    assert _logging.uvicorn_logging(Settings()) == {
        "log_config": None,
        "log_level": None,
        "access_log": False,
    }


def test_a_token_list_with_spaces_protects_every_queue_it_names() -> None:
    settings = Settings.from_env({"ASMAN_WORKER_TOKENS": " gpu = s3cret , cpu=t0ken "})
    assert (settings.worker_token("gpu"), settings.worker_token("cpu"), settings.worker_token("x")) == (
        "s3cret",
        "t0ken",
        None,
    )


def test_local_mode_lets_only_the_metapages_drive_the_server() -> None:
    from asman.cli.work import local_server_settings
    from asman.settings import METAPAGE_ORIGINS

    assert Settings().cors_origins == "*"
    assert local_server_settings(Settings()).cors_origins == ",".join(METAPAGE_ORIGINS)
    chosen = Settings.from_env({"ASMAN_CORS_ORIGINS": "https://mine.example"})
    assert local_server_settings(chosen).cors_origins == "https://mine.example"
