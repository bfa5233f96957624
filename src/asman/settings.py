"""One frozen settings object for the server, built from flags and ASMAN_* environment variables."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from asman.core.units import parse_duration, parse_size

DEFAULT_DATA_DIR = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "asman"


@dataclass(frozen=True)
class Settings:
    data_dir: Path = DEFAULT_DATA_DIR
    host: str = "127.0.0.1"
    port: int = 8000
    # Empty means the embedded default inside data_dir.
    database_url: str = ""
    blob_url: str = ""
    # Public base URL of this API, used to build blob links; empty means the request's own base URL.
    public_url: str = ""
    ttl_seconds: float = 30 * 86_400
    max_body_bytes: int = 16 * 1024 * 1024
    max_blob_bytes: int = 5 * 1024 * 1024 * 1024
    lease_seconds: float = 30.0
    heartbeat_seconds: float = 5.0
    retry_budget: int = 3
    sweep_interval_seconds: float = 3600.0
    # Abuse limits: requests per second per client (0 = off), log bytes kept per attempt, inputs per job.
    rate_limit: float = 0.0
    rate_burst: float = 0.0
    trust_proxy: bool = False
    max_log_bytes: int = 10 * 1024 * 1024
    max_inputs: int = 1000
    # "queue=token,other=token2": only workers presenting the token may take that queue's jobs.
    worker_tokens: str = ""
    replica_id: str = f"{socket.gethostname()}-{os.getpid()}"

    @property
    def store_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'asman.sqlite3'}"

    @property
    def blobs_url(self) -> str:
        return self.blob_url or str(self.data_dir / "blobs")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """ASMAN_<FIELD> for every field (ASMAN_TTL accepts '30d'); explicit overrides win."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = env.get(f"ASMAN_{field.name.upper()}")
            if field.name == "ttl_seconds":
                raw = env.get("ASMAN_TTL", raw)
            if raw is None or raw == "":
                continue
            values[field.name] = _convert(field.name, field.type, raw)
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)

    def worker_token(self, queue: str) -> str | None:
        for pair in self.worker_tokens.split(","):
            name, _, token = pair.strip().partition("=")
            if name == queue and token:
                return token
        return None

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _convert(name: str, kind: Any, raw: str) -> Any:
    kind_name = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
    if kind_name == "Path":
        return Path(raw)
    if kind_name == "int":
        return parse_size(raw) if name.endswith("bytes") else int(raw)
    if kind_name == "bool":
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if kind_name == "float" and name.endswith("seconds"):
        return parse_duration(raw)
    if kind_name == "float":
        return float(raw)
    return raw
