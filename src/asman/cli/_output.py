"""Shared by the CLI commands: options, output consoles, exit codes and friendly error handling.

Output rules: what a command produces goes to stdout (`--json` makes it machine-readable); progress, notes and
errors go to stderr.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, ParamSpec, TypeVar

import typer

from asman.core.env import API_URL_ENV, API_URL_ENV_ALIASES, API_URL_FLAGS
from asman.core.errors import AsmanError

if TYPE_CHECKING:
    from rich.console import Console

    from asman.client import Client

EXIT_ERROR = 1
EXIT_TIMED_OUT = 124
EXIT_NOT_RUN = 125
EXIT_CANCELLED = 130

ApiOption = Annotated[
    str,
    typer.Option(
        *API_URL_FLAGS,
        envvar=[API_URL_ENV, *API_URL_ENV_ALIASES],
        help="The Asman server's address.",
        rich_help_panel="Server",
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Machine-readable JSON on stdout (progress stays on stderr).")
]

P = ParamSpec("P")
R = TypeVar("R")


def stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def stdout() -> Console:
    from rich.console import Console

    # Piped output is not cut to 80 columns: scripts and `less -S` get whole lines.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    from rich.markup import escape

    stderr().print(f"[bold red]Error:[/] {escape(message)}")
    raise typer.Exit(code)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def friendly_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Errors a user can fix are one red line on stderr and exit code 1, never a traceback."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        from asman.client import ServerUnreachable, WaitTimeout

        try:
            return command(*args, **kwargs)
        except ServerUnreachable as error:
            fail(
                f"cannot reach the Asman server at {error.url} ({error.cause}).\n"
                "  Start one on this machine with `make run` (server and local worker) or `asman worker --mode local`,"
                f"\n  or point {API_URL_FLAGS[0]} / {API_URL_ENV} at a running server."
            )
        except WaitTimeout as error:
            fail(error.message, EXIT_TIMED_OUT)
        except AsmanError as error:
            fail(error.message)
        except KeyboardInterrupt:
            stderr().print("Interrupted.")
            raise typer.Exit(EXIT_CANCELLED) from None
        except OSError as error:
            fail(str(error))

    return run


def connect(api: str) -> Client:
    from asman.client import Client

    # Fewer retries than the SDK default: a person at a terminal wants to hear quickly that nothing answers.
    return Client(api, retries=2)


def ago(epoch_ms: int) -> str:
    if not epoch_ms:
        return "-"
    seconds = max(0.0, time.time() - epoch_ms / 1000)
    if seconds < 60:
        return f"{seconds:.0f}s ago"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m ago"
    if seconds < 86400:
        return f"{seconds / 3600:.1f}h ago"
    return datetime.fromtimestamp(epoch_ms / 1000).strftime("%Y-%m-%d %H:%M")


def seconds_text(ms: int | None) -> str:
    if ms is None:
        return ""
    return f"{ms / 1000:.1f} s" if ms < 60_000 else f"{ms // 60_000} min {ms % 60_000 // 1000} s"
