"""Whose results a queue believes: trust domains (docs/security.md, "Whose results a queue serves").

A result is only as good as the worker that made it, and who may run a queue's workers is what a queue's
setting says: anyone, for an unprotected queue; whoever holds its token, for a protected one. So every result
is kept with the queue it was made on and that queue's *trust domain* at the time, and a queue serves (and
answers a submit with) only results from its own domain:

- an unprotected queue is a domain of its own: nobody else's worker can answer for it;
- with `ASMAN_SHARE_PUBLIC_RESULTS`, every unprotected queue shares one domain, `public` (for a deployment
  whose operator runs every public queue's workers, or does not mind);
- a token-protected queue shares its domain with every queue protected by the same token (the same people run
  their workers), and never with an unprotected one.

A result kept before domains existed (a store migrated from an older release) has no domain: it is trusted
by the queue it was made on only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

PUBLIC = "public"
_QUEUE = "queue:"
_TOKEN = "token:"
# Results kept before domains existed.
UNKNOWN = ""


def trust_domain(queue: str, token: str | None, share_public: bool) -> str:
    """The trust domain of `queue`, whose worker token is `token` (None when it has none)."""
    if token:
        # A digest, so the store never holds the token itself; salted, so it is not a plain sha256 of it.
        digest = hashlib.sha256(b"asman trust domain\0" + token.encode("utf-8")).hexdigest()
        return _TOKEN + digest[:32]
    return PUBLIC if share_public else _QUEUE + queue


def own_domain(queue: str) -> str:
    """The domain of an unprotected queue that shares with nobody: the default."""
    return _QUEUE + queue


def domain_kind(domain: str) -> str:
    """How a result's makers were trusted, as views show it: `queue` (an unprotected queue's own workers),
    `public` (any public queue's), `token` (a token's holders) or `unknown` (kept before domains existed)."""
    if domain.startswith(_TOKEN):
        return "token"
    if domain.startswith(_QUEUE):
        return "queue"
    return "public" if domain == PUBLIC else "unknown"


@dataclass(frozen=True, slots=True)
class Trust:
    """Who reads a result or asks for a cached one: a queue, and its trust domain."""

    queue: str
    domain: str

    @classmethod
    def of(cls, queue: str, domain: str | None = None) -> Trust:
        return cls(queue, own_domain(queue) if domain is None else domain)
