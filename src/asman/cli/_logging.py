"""Process logging for `asman server` and `asman worker`: a level, text or JSON lines on stderr, and uvicorn's
loggers (its access log included) sent through the same handler so every line has one format."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from asman.settings import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# uvicorn's access records carry (client, method, path, http version, status) as their arguments.
_ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (ISO 8601, UTC), level, logger, message; an access line adds the request."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            data.update(zip(_ACCESS_FIELDS, record.args, strict=True))
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a record comes: a command run inside another program (a test's
    CLI runner, a notebook) may swap stderr and close the old one while threads still log."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def configure_logging(settings: Settings) -> None:
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT))
    level = getattr(logging, settings.log_level.upper())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # uvicorn's startup chatter repeats what the command prints; show it only when debugging.
    logging.getLogger("uvicorn.error").setLevel(
        level if level <= logging.DEBUG else max(level, logging.WARNING)
    )
    logging.getLogger("uvicorn.access").setLevel(logging.INFO if settings.access_log else logging.CRITICAL)


def uvicorn_logging(settings: Settings) -> dict[str, Any]:
    """uvicorn.Config arguments that leave logging as configure_logging set it."""
    return {"log_config": None, "log_level": None, "access_log": settings.access_log}
