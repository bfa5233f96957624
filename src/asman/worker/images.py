"""Image references: which registry an image name makes the engine contact, by Docker's own rule, and which
images a Dockerfile would make it pull."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Iterator, Mapping

from asman.core.urls import first_internal

DOCKER_HUB = "docker.io"
_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})


def registry_of(image: str) -> str:
    """The registry host (with its port, if any) `image` is pulled from: the first path component when it has
    a dot or a colon or is `localhost`, else Docker Hub. `docker.io` stands for every spelling of the Hub."""
    first, slash, _ = image.partition("/")
    if not slash or not ("." in first or ":" in first or first == "localhost"):
        return DOCKER_HUB
    host = first.lower()
    return DOCKER_HUB if host in _HUB_ALIASES else host


def registry_host_port(registry: str) -> tuple[str, int]:
    """The host and port a registry name connects to (HTTPS on 443 unless a port is named)."""
    if registry.startswith("["):
        host, _, rest = registry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else 443
    host, colon, port = registry.rpartition(":")
    if colon and port.isdigit() and host:
        return host, int(port)
    return registry, 443


def registry_name(name: str) -> str:
    """A registry as credentials name it (`ghcr.io`, `https://index.docker.io/v1/`), spelled as `registry_of`
    spells it."""
    host = name.split("://", 1)[-1].split("/", 1)[0].lower()
    return DOCKER_HUB if host in _HUB_ALIASES else host


def credentials_allowed(registry: str, allowed: tuple[str, ...]) -> bool:
    """Whether the worker's credentials may go to `registry`: it is listed (`*` lists every registry)."""
    names = {registry_name(name) for name in allowed}
    return "*" in names or registry_name(registry) in names


class RefusedDockerfile(ValueError):
    """A Dockerfile asks the engine for something the worker cannot check first: an image it cannot name before
    the build (a variable it cannot fill), or an `ADD` from a URL (which the engine fetches itself)."""


_REMOTE = re.compile(r"^(https?://|git@|git://|ssh://)", re.IGNORECASE)
_VARIABLE = re.compile(r"\$\{(\w+)(?::([-+])([^}]*))?\}|\$(\w+)")


def _expand(text: str, values: Mapping[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(4)
        current = values.get(name, "")
        if match.group(2) == "-":
            return current or match.group(3)
        if match.group(2) == "+":
            return match.group(3) if current else ""
        return current

    return _VARIABLE.sub(value, text)


def _instructions(dockerfile: str) -> Iterator[tuple[str, list[str]]]:
    """(INSTRUCTION, its words) per instruction, continuation lines joined and comments left out."""
    pending = ""
    for line in dockerfile.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        words = (pending + stripped).split()
        pending = ""
        if words:
            yield words[0].upper(), words[1:]
    if pending.split():
        words = pending.split()
        yield words[0].upper(), words[1:]


def dockerfile_images(dockerfile: str, build_args: Mapping[str, str]) -> list[str]:
    """The images a build would make the engine pull: each `FROM` and `COPY --from` that is not an earlier
    stage or `scratch`, with the ARGs declared before the first FROM (and the build's args) filled in, as
    Docker fills them. `RefusedDockerfile` for a name that still holds a variable, and for an `ADD` of a URL
    or a git repository: the engine would fetch it on its own network, whatever the job's network is."""
    values: dict[str, str] = {}
    stages: set[str] = set()
    images: list[str] = []
    seen_from = False

    def add(name: str, what: str) -> None:
        if name.lower() in stages or name == "scratch" or name.isdigit():
            return
        if "$" in name or not name:
            raise RefusedDockerfile(f"{what} {name!r}: the image name must be known before the build")
        if name not in images:
            images.append(name)

    for instruction, words in _instructions(dockerfile):
        if instruction == "ARG" and not seen_from:
            for word in words:
                name, equals, default = word.partition("=")
                values[name] = build_args.get(name, default.strip("\"'") if equals else "")
        elif instruction == "FROM":
            seen_from = True
            rest = [word for word in words if not word.startswith("--")]
            if not rest:
                continue
            add(_expand(rest[0], values), "FROM")
            if len(rest) >= 3 and rest[1].upper() == "AS":
                stages.add(rest[2].lower())
        elif instruction == "COPY":
            for word in words:
                if word.startswith("--from="):
                    add(word.removeprefix("--from="), "COPY --from")
        elif instruction == "ADD":
            remote = next((word for word in words if _REMOTE.match(word.strip("[\",'"))), None)
            if remote is not None:
                raise RefusedDockerfile(
                    f"ADD {remote[:200]}: the engine would fetch it itself; download it in a RUN step or put it in"
                    " the build context"
                )
    return images


async def internal_registry(image: str) -> str | None:
    """The internal address `image`'s registry resolves to, if any (None for Docker Hub, a public registry, or a
    name that does not resolve: the pull says so itself). Docker Hub is the engine's business: its mirrors are
    the operator's choice."""
    registry = registry_of(image)
    if registry == DOCKER_HUB:
        return None
    host, port = registry_host_port(registry)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return None
    return first_internal(str(info[4][0]) for info in infos)


def internal_registry_refusal(image: str, address: str) -> str:
    return (
        f"image {image[:200]!r}: its registry {registry_of(image)} is at an internal address ({address});"
        " a worker started with --allow-private-registries may pull from it"
    )
