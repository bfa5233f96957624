"""The GA4GH TES 1.1 schema as pydantic models: what clients send, and the only fields answers may carry.

Strict TES clients refuse unknown fields, so answers are dumped from these models with `exclude_none`; requests
are read leniently (unknown fields ignored), as a client of a newer TES minor version may send more.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

TES_VERSION = "1.1.0"


class TesState(StrEnum):
    UNKNOWN = "UNKNOWN"
    QUEUED = "QUEUED"
    INITIALIZING = "INITIALIZING"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    COMPLETE = "COMPLETE"
    EXECUTOR_ERROR = "EXECUTOR_ERROR"
    SYSTEM_ERROR = "SYSTEM_ERROR"
    CANCELED = "CANCELED"
    PREEMPTED = "PREEMPTED"
    CANCELING = "CANCELING"


class FileType(StrEnum):
    FILE = "FILE"
    DIRECTORY = "DIRECTORY"


class View(StrEnum):
    MINIMAL = "MINIMAL"
    BASIC = "BASIC"
    FULL = "FULL"


class _Tes(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TesInput(_Tes):
    name: str | None = None
    description: str | None = None
    url: str | None = None
    path: str
    type: FileType = FileType.FILE
    content: str | None = None
    streamable: bool | None = None


class TesOutput(_Tes):
    name: str | None = None
    description: str | None = None
    url: str
    path: str
    path_prefix: str | None = None
    type: FileType = FileType.FILE


class TesResources(_Tes):
    cpu_cores: int | None = Field(default=None, ge=0)
    preemptible: bool | None = None
    ram_gb: float | None = Field(default=None, ge=0)
    disk_gb: float | None = Field(default=None, ge=0)
    zones: list[str] | None = None
    backend_parameters: dict[str, str] | None = None
    backend_parameters_strict: bool | None = None


class TesExecutor(_Tes):
    image: str = Field(min_length=1)
    command: list[str] = Field(min_length=1)
    workdir: str | None = None
    stdin: str | None = None
    stdout: str | None = None
    stderr: str | None = None
    env: dict[str, str] | None = None
    ignore_error: bool | None = None


class TesExecutorLog(_Tes):
    start_time: str | None = None
    end_time: str | None = None
    stdout: str | None = None
    stderr: str | None = None
    exit_code: int


class TesOutputFileLog(_Tes):
    url: str
    path: str
    size_bytes: str


class TesTaskLog(_Tes):
    logs: list[TesExecutorLog] = Field(default_factory=list)
    metadata: dict[str, str] | None = None
    start_time: str | None = None
    end_time: str | None = None
    outputs: list[TesOutputFileLog] = Field(default_factory=list)
    system_logs: list[str] | None = None


class TesTask(_Tes):
    id: str | None = None
    state: TesState | None = None
    name: str | None = None
    description: str | None = None
    inputs: list[TesInput] | None = None
    outputs: list[TesOutput] | None = None
    resources: TesResources | None = None
    # Required in a new task (checked by the mapping); left out of MINIMAL answers.
    executors: list[TesExecutor] | None = None
    volumes: list[str] | None = None
    tags: dict[str, str] | None = None
    logs: list[TesTaskLog] | None = None
    creation_time: str | None = None


class TesCreateTaskResponse(_Tes):
    id: str


class TesListTasksResponse(_Tes):
    tasks: list[TesTask]
    next_page_token: str | None = None


class ServiceType(_Tes):
    group: str = "org.ga4gh"
    artifact: str = "tes"
    version: str = TES_VERSION


class Organization(_Tes):
    name: str
    url: str


class TesServiceInfo(_Tes):
    id: str
    name: str
    type: ServiceType = Field(default_factory=ServiceType)
    description: str | None = None
    organization: Organization
    documentationUrl: str | None = None
    version: str
    storage: list[str] | None = None
    tesResources_backend_parameters: list[str] | None = None
