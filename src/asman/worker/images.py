"""Image references: which registry an image name makes the engine contact, by Docker's own rule."""

from __future__ import annotations

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
