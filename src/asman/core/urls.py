"""Which URLs a worker may fetch for a job, and the server may send webhooks to: refusing loopback, private,
link-local, shared (CGNAT) and other non-public addresses keeps a job definition from turning a worker or the
server into a probe of the network it sits in (SSRF)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from asman.core.errors import InvalidInput

# NAT64's well-known prefix: the last 32 bits are the IPv4 address a NAT64 gateway connects to.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def is_internal(address: str) -> bool:
    """Whether an address is anything but a public unicast one (`not is_global` adds what the named ranges
    miss, such as CGNAT's 100.64.0.0/10). An IPv6 address that carries an IPv4 one (mapped, 6to4 2002::/16,
    NAT64 64:ff9b::/96) is judged by the IPv4 one too: a gateway on the way would deliver it to the IPv4 one."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return _not_public(ip.ipv4_mapped)
        if ip in _NAT64:
            return _not_public(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if ip.sixtofour is not None and _not_public(ip.sixtofour):
            return True
    return _not_public(ip)


def _not_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return bool(
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
        or not ip.is_global
    )


def first_internal(addresses: Iterable[str]) -> str | None:
    """The first internal address among those a host name resolved to: one is enough to refuse the name."""
    return next((address for address in addresses if is_internal(address)), None)


def http_target(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http or https URL; InvalidInput for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"cannot use {url[:200]!r}: {exc}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"cannot use {url[:200]!r}: only http and https URLs are allowed")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def _addresses(host: str, port: int) -> set[str]:
    try:
        return {str(info[4][0]) for info in socket.getaddrinfo(host, port)}
    except socket.gaierror:
        return set()


def _under(url: str, prefix: str) -> bool:
    """`url` is on the same server as `prefix` (same scheme, port and path prefix; the host may be spelled
    differently, e.g. localhost and 127.0.0.1, as long as both name the same address)."""
    if url.startswith(prefix.rstrip("/") + "/"):
        return True
    try:
        target, trusted = urlsplit(url), urlsplit(prefix)
        target_port = target.port or (443 if target.scheme == "https" else 80)
        trusted_port = trusted.port or (443 if trusted.scheme == "https" else 80)
    except ValueError:
        return False
    if (
        target.scheme != trusted.scheme
        or target_port != trusted_port
        or not target.hostname
        or not trusted.hostname
    ):
        return False
    if not target.path.startswith(trusted.path.rstrip("/") + "/"):
        return False
    return bool(_addresses(target.hostname, target_port) & _addresses(trusted.hostname, trusted_port))


def check_fetchable(url: str, trusted_prefixes: tuple[str, ...] = (), allow_private: bool = False) -> None:
    """Raise InvalidInput unless `url` is http(s) and resolves only to public addresses.

    URLs on a trusted server (the worker's own queue server, where blobs live) are always allowed.
    """
    if any(_under(url, prefix) for prefix in trusted_prefixes if prefix):
        return
    _, host, port = http_target(url)
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(host, port)
    except socket.gaierror as exc:
        raise InvalidInput(f"cannot resolve the host of {url[:200]!r}: {exc}") from exc
    internal = first_internal(str(info[4][0]) for info in infos)
    if internal is not None:
        raise InvalidInput(
            f"refusing to fetch {url[:200]!r}: it points to an internal address ({internal});"
            " a worker started with --allow-private-urls may fetch it"
        )
