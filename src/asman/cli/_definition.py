"""The job definition `asman job add` sends: a JSON definition read from stdin or a file, with the options laid
over it (the SDK lays the plain fields; the build options are assembled here)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from asman.cli._output import fail


def parse_pairs(pairs: list[str], option: str) -> dict[str, str]:
    """`KEY=VALUE` items of a repeatable option; the value may hold `=`."""
    parsed: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint=option)
        parsed[key] = value
    return parsed


def read_definition(source: str | None) -> dict[str, Any] | None:
    if source is None:
        return None
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
    except OSError as error:
        raise typer.BadParameter(f"cannot read {source}: {error.strerror}", param_hint="DEFINITION") from None
    where = "stdin" if source == "-" else source
    try:
        data = json.loads(text)
    except ValueError as error:
        fail(
            f"the job definition on {where} is not JSON ({error}): give an object such as"
            ' {"image": "alpine:3.19", "command": "echo hello"}'
        )
    if not isinstance(data, dict):
        fail(f"the job definition on {where} must be a JSON object, not {type(data).__name__}")
    return data


def with_build(
    body: dict[str, Any] | None,
    *,
    image: str | None,
    git: str | None,
    dockerfile: Path | None,
    build_args: list[str],
) -> dict[str, Any] | None:
    """`body` (a bare definition or `{definition, control}`) with `--git`, `--dockerfile` and `--build-arg`
    laid into its `build`. A build replaces the definition's image: a job runs one or the other."""
    if git is None and dockerfile is None and not build_args:
        return body
    if image is not None and (git is not None or dockerfile is not None):
        raise typer.BadParameter("a job runs an --image or builds one (--git, --dockerfile): not both")
    if body is not None and isinstance(body.get("definition"), dict):
        inner = with_build(
            body["definition"], image=image, git=git, dockerfile=dockerfile, build_args=build_args
        )
        return {**body, "definition": inner}
    definition = dict(body or {})
    build: dict[str, Any] = dict(definition.get("build") or {})
    if git is not None:
        build["context"] = git
    if dockerfile is not None:
        try:
            build["dockerfile"] = dockerfile.read_text()
        except (OSError, UnicodeDecodeError) as error:
            raise typer.BadParameter(
                f"cannot read {dockerfile}: {error}", param_hint="--dockerfile"
            ) from None
    if build_args:
        parse_pairs(build_args, "--build-arg")  # checks the form; the definition keeps the K=V strings
        build["buildArgs"] = [*(build.get("buildArgs") or []), *build_args]
    if not (build.get("context") or build.get("dockerfile")):
        raise typer.BadParameter(
            "--build-arg needs something to build: --git URL, --dockerfile FILE, or a 'build' in the definition"
        )
    if git is not None or dockerfile is not None:
        definition.pop("image", None)
    definition["build"] = build
    return definition
