"""The reference submit endpoints of SPEC section 7, as same-run peers for the submit benchmark.

Each parses the body, hashes the definition (sorted-key JSON, sha256) and does one SQLite `INSERT OR IGNORE`
(WAL, synchronous=NORMAL), then answers `{success, jobId}`:

  python -m bench.reference_server fastapi PORT DBFILE     FastAPI, `async def` endpoint, pydantic body
  python -m bench.reference_server starlette PORT DBFILE   a plain Starlette route, orjson, no pydantic
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys
from typing import Any

import orjson
import uvicorn


def _store(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, definition TEXT NOT NULL) WITHOUT ROWID"
    )
    return conn


def _insert(conn: sqlite3.Connection, definition: dict[str, Any]) -> str:
    text = orjson.dumps(definition, option=orjson.OPT_SORT_KEYS)
    job_id = hashlib.sha256(text).hexdigest()
    conn.execute("INSERT OR IGNORE INTO jobs (id, definition) VALUES (?, ?)", (job_id, text.decode()))
    return job_id


def fastapi_app(path: str) -> Any:
    from fastapi import FastAPI
    from pydantic import BaseModel, ConfigDict

    class Definition(BaseModel):
        model_config = ConfigDict(extra="allow")
        image: str | None = None
        command: str | None = None

    class Body(BaseModel):
        definition: Definition

    conn = _store(path)
    app = FastAPI()

    @app.post("/q/{queue}")
    async def submit(queue: str, body: Body) -> dict[str, Any]:
        return {"success": True, "jobId": _insert(conn, body.definition.model_dump(exclude_none=True))}

    return app


def starlette_app(path: str) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    conn = _store(path)

    async def submit(request: Request) -> Response:
        body = orjson.loads(await request.body())
        job_id = _insert(conn, body["definition"])
        return Response(orjson.dumps({"success": True, "jobId": job_id}), media_type="application/json")

    return Starlette(routes=[Route("/q/{queue}", submit, methods=["POST"])])


if __name__ == "__main__":
    kind, port, db = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    app = fastapi_app(db) if kind == "fastapi" else starlette_app(db)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )
