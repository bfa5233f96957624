"""Environment names the light client and the server-side settings share (the client cannot import settings)."""

from __future__ import annotations

# The queue server's address, for workers and for the `asman job` commands and the SDK alike. The aliases are
# the names it had before it had one (upstream's CLI variable, and the worker's own).
API_URL_ENV = "ASMAN_API_URL"
API_URL_ENV_ALIASES = ("API_SERVER_ADDRESS", "ASMAN_WORKER_API_ADDRESS")
API_URL_FLAGS = ("--api-url", "--api-address", "--api")
