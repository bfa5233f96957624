"""The WHATWG URL serialisation of an `https:` URL with its query and fragment cleared.

Upstream's job id re-serialises some url DataRefs with JavaScript's `new URL()` (UPSTREAM-WIRE.md §10), so the
id depends on exactly how browsers and Deno normalise a URL: tabs and newlines dropped, the host lowercased, the
default port removed, `.` and `..` segments resolved, `\\` read as `/`, and some path characters percent-encoded
(a space becomes `%20`) while an existing `%XX` is kept as it is. `urllib.parse` does none of this.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

_C0_OR_SPACE = "".join(chr(code) for code in range(0x21))
_TAB_OR_NEWLINE = re.compile("[\t\n\r]")
_DOUBLE_DOT = frozenset({"..", ".%2e", "%2e.", "%2e%2e"})
_SINGLE_DOT = frozenset({".", "%2e"})
# Node and Deno leave `^` alone in paths (the 2024 spec change that encodes it has not reached them).
_PATH_ENCODED = frozenset(' "#<>?`{}')
_USERINFO_ENCODED = _PATH_ENCODED | frozenset("/:;=@[\\]^|")
_FORBIDDEN_IN_DOMAIN = frozenset("\x00\t\n\r #/:<>?@[\\]^|%\x7f") | frozenset(
    chr(code) for code in range(0x20)
)
_IPV4_PART = re.compile(r"[0-9]+|0[xX][0-9a-fA-F]*")
_PORT = re.compile(r"[0-9]*")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _encode(text: str, encoded: frozenset[str]) -> str:
    out: list[str] = []
    for char in text:
        if char in encoded or not " " <= char <= "~":
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
        else:
            out.append(char)
    return "".join(out)


def _host(text: str) -> str | None:
    try:
        domain = unquote_to_bytes(text).decode("utf-8")
    except UnicodeDecodeError:
        return None
    # A non-ASCII host needs UTS #46 (IDNA) mapping, and one ending in a number the IPv4 parser; neither occurs
    # with upstream's bucket host, so such URLs are left unnormalised rather than approximated.
    if not domain or not domain.isascii() or _FORBIDDEN_IN_DOMAIN.intersection(domain):
        return None
    labels = domain.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()
    if _IPV4_PART.fullmatch(labels[-1]):
        return None
    return domain.lower()


def _path(text: str) -> str:
    segments: list[str] = []
    parts = re.split(r"[/\\]", text)
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        lowered = part.lower()
        if lowered in _DOUBLE_DOT:
            if segments:
                segments.pop()
            if last:
                segments.append("")
        elif lowered in _SINGLE_DOT:
            if last:
                segments.append("")
        else:
            segments.append(_encode(part, _PATH_ENCODED))
    return "/" + "/".join(segments)


def https_href_without_query(url: str) -> str | None:
    """`new URL(url)` with `search` and `hash` set to "", then `.href`; None where JavaScript would throw
    (or where the host is outside what this mirrors, see `_host`)."""
    # JavaScript hands the URL parser a USVString: lone surrogates are already U+FFFD.
    text = _LONE_SURROGATE.sub("\ufffd", _TAB_OR_NEWLINE.sub("", url.strip(_C0_OR_SPACE)))
    if text[:6].lower() != "https:":
        return None
    rest = text[6:].lstrip("/\\")
    authority, *tail = re.split(r"(?=[/\\?#])", rest, maxsplit=1)
    after = tail[0] if tail else ""
    path = re.split(r"[?#]", after, maxsplit=1)[0]
    if path:
        path = path[1:]  # the separator that ended the authority
    userinfo, at, hostport = authority.rpartition("@")
    host_text, colon, port_text = hostport.partition(":")
    host = _host(host_text)
    if host is None or (at and not hostport):
        return None
    if colon:
        if not _PORT.fullmatch(port_text):
            return None
        port = int(port_text) if port_text else None
        if port is not None and port > 65535:
            return None
        if port is not None and port != 443:
            host = f"{host}:{port}"
    credentials = ""
    if userinfo:
        username, has_password, password = userinfo.partition(":")
        credentials = _encode(username, _USERINFO_ENCODED)
        if has_password and password:
            credentials += ":" + _encode(password, _USERINFO_ENCODED)
        credentials = credentials + "@" if credentials else ""
    return f"https://{credentials}{host}{_path(path)}"
