"""Command-line options made from the settings model: one per setting of a command's scope, so no flag is
written by hand and none can drift from its variable or the docs."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Collection
from typing import Annotated, Any

import typer
from rich.markup import escape

from asman.settings import (
    InvalidSetting,
    Scope,
    Settings,
    default_text,
    env_names,
    fields_for,
    flag_names,
    setting,
    unknown_variables,
)

PANELS = {Scope.BOTH: "Settings", Scope.SERVER: "Server settings", Scope.WORKER: "Worker settings"}


def _option(name: str) -> inspect.Parameter:
    meta = setting(name)
    is_bool = Settings.model_fields[name].annotation is bool
    flags = flag_names(name)
    if is_bool:  # --x/--no-x, so a flag can also switch off what a variable switched on
        flags = (f"{flags[0]}/--no-{flags[0].removeprefix('--')}", *flags[1:])
    text = f"{meta.help[0].upper()}{meta.help[1:]}".replace("`", "")
    details = f"[default: {default_text(name)}] [env var: {', '.join(env_names(name))}]".replace("`", "")
    option = typer.Option(
        *flags,
        help=f"{text} {escape(details)}",
        show_default=False,
        rich_help_panel=PANELS[meta.scope],
        metavar=None if is_bool else meta.metavar,
    )
    # Flags arrive as text and are checked by the model, as variables are, so both fail the same way.
    annotation: Any = Annotated[bool | None if is_bool else str | None, option]
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)


def settings_command(
    scope: Scope, only: Collection[str] | None = None
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command `def command(settings: Settings, <its own parameters>)` an option for every setting of
    `scope` (or those of them in `only`); it is called with the Settings those flags and the environment make.
    A bad value is a usage error (exit 2) that names the variable or flag and the form expected."""

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        own = list(inspect.signature(command, eval_str=True).parameters.values())[1:]
        names = [name for name in fields_for(scope) if only is None or name in only]

        @functools.wraps(command)
        def run(**arguments: Any) -> None:
            flags = {name: arguments.pop(name) for name in names}
            try:
                settings = Settings.from_env(**flags)
            except InvalidSetting as error:
                typer.secho(f"asman: {error.message}", err=True, fg="red")
                raise typer.Exit(2) from None
            command(settings, **arguments)

        parameters = [*own, *(_option(name) for name in names)]
        run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        run.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters}
        return run

    return decorate


def start_logging(settings: Settings) -> None:
    """Logging as the settings ask, then a warning for each ASMAN_* variable that is no setting."""
    from asman.cli._logging import configure_logging

    configure_logging(settings)
    log = logging.getLogger("asman.settings")
    for warning in unknown_variables():
        log.warning(warning)
