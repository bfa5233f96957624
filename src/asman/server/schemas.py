"""The JSON the REST API answers, as pydantic models, for /openapi.json only.

The routes build their answers as plain dicts (views.py, routes/*.py) and never validate them against these
models: the hot paths stay as fast as they are, and the contract is checked by tests instead (schemathesis's
response conformance, docs/api.md's examples, a client generated from the document). Models whose shape comes
from upstream allow extra fields, so Asman can add its own beside upstream's without breaking generated clients.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from asman.core.definition import DataRef, JobDefinition
from asman.core.states import FinishedReason, JobState


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorBody(BaseModel):
    """Every error: a stable machine code and a message saying what to do next."""

    error: str = Field(examples=["not_found"])
    message: str


# `[text, epochMs, isStdErr?]`, as upstream sends it.
LogLine = Annotated[list[str | float | bool], Field(min_length=2, max_length=3)]


class Submitted(_Open):
    success: bool
    jobId: str
    state: JobState
    finishedReason: FinishedReason | None = None


class EntryError(ErrorBody):
    """A batch entry that was refused, alone: its status is the one a single submit of it would have had."""

    success: Literal[False]
    status: int = Field(examples=[422])


BatchAnswer = RootModel[list[Submitted | EntryError]]


class QueueJob(_Open):
    """A job's entry in its queue: upstream's QueueJob with Asman's jobId, queue, attempt and exitCode."""

    jobId: str
    queue: str
    state: JobState
    attempt: int
    worker: str = Field(description='"" until a worker claims it')
    time: int = Field(description="when the state last changed (epoch ms)")
    queuedTime: int
    finishedReason: FinishedReason | None = None
    exitCode: int | None = None
    namespaces: list[str] = []


class JobList(BaseModel):
    data: dict[str, QueueJob] = Field(description="newest first, by job id")
    nextCursor: int | None


class RunResult(_Open):
    """What the container did (upstream's RunResult)."""

    StatusCode: int | None = None
    logs: list[LogLine]
    duration: float | None = Field(default=None, description="ms")
    isTimedOut: bool
    outputs: dict[str, DataRef]
    error: Any = None


class Finished(_Open):
    type: str = Field(examples=["Finished"])
    reason: FinishedReason
    time: int
    worker: str
    result: RunResult


class FinishedJob(_Open):
    """Upstream's FinishedJob: in result.json and as a job view's `results`."""

    queuedTime: int
    state: JobState
    finishedReason: FinishedReason
    time: int
    worker: str
    namespaces: list[str]
    finished: Finished
    attempt: int
    exitCode: int | None = None
    # The queue that made this result, and whom its makers were trusted as (docs/security.md): `queue` (that
    # queue's own workers), `token` (workers with that queue's token), `public` (any public queue's, with
    # ASMAN_SHARE_PUBLIC_RESULTS) or `unknown` (kept by an older release).
    queue: str | None = None
    trust: Literal["queue", "token", "public", "unknown"] | None = None


class JobView(QueueJob):
    """A job in a queue: upstream's `{definition, results?}` with the queue entry beside them."""

    definition: JobDefinition | None
    results: FinishedJob | None = None


class JobAnswer(BaseModel):
    data: JobView


class GlobalJob(_Open):
    jobId: str
    definition: JobDefinition | None
    results: FinishedJob | None = None


class GlobalJobAnswer(BaseModel):
    data: GlobalJob


class DefinitionAnswer(BaseModel):
    data: JobDefinition | None = Field(description="null for a job never submitted or expired")


class ResultAnswer(BaseModel):
    data: FinishedJob | None = Field(description="null until the job finished with a kept result")


class LogsAnswer(BaseModel):
    data: list[LogLine]
    sliceStart: int
    nextCursor: int = Field(description="pass it as ?since= to read on (a page holds up to 10,000 lines)")
    isFinal: bool = Field(description="the job finished and this page reaches the end of its log")
    total: int = Field(description="lines in the log so far")


class NamespacesAnswer(BaseModel):
    data: list[str]


class Cancelled(_Open):
    success: bool
    jobId: str
    namespace: str
    state: JobState
    finishedReason: FinishedReason | None


class Deleted(_Open):
    success: bool
    jobId: str


class Copied(_Open):
    success: bool
    jobId: str
    queue: str
    state: JobState


class NewQueue(BaseModel):
    queue: str
    url: str


class Ready(BaseModel):
    ready: bool


class Worker(_Open):
    """A connected worker: what it registered with, and what it runs now."""

    id: str
    slots: int
    gpus: int
    version: str
    maxJobDuration: float | None = Field(description="seconds; null when the worker sets no cap")
    assignMany: bool = Field(
        description="takes several assignments in one frame (an opt-in of Asman's worker)"
    )
    finishedMany: bool = Field(description="sends several results in one frame (an opt-in of Asman's worker)")
    connectedTime: int
    running: list[str]
    replica: str
    lastSeen: int


class WorkerStatus(_Open):
    """Upstream's WorkerStatus."""

    id: str
    time: int | None
    cpus: int
    gpus: int
    queue: dict[str, dict[str, Any]]


class OtherServer(_Open):
    id: str
    workers: dict[str, WorkerStatus]
    jobs: dict[str, dict[str, Any]]


class QueueInfo(_Open):
    address: str
    serverId: str
    broadcastChannel: str
    jobCount: int
    localWorkerCount: int
    otherWorkerCount: int
    clientCount: int
    jobStates: list[dict[str, str]]


class QueueStatus(_Open):
    queue: str
    counts: dict[str, int]
    workers: list[Worker]
    clients: int
    jobs: dict[str, dict[str, Any]]
    localWorkers: dict[str, WorkerStatus]
    otherServers: dict[str, OtherServer]
    clientCount: int
    queueInfo: QueueInfo


class BlobExists(BaseModel):
    exists: bool


class BlobLocation(BaseModel):
    url: str
    ref: str


class BlobStored(_Open):
    success: bool
    key: str
    size: int | None = None
    existed: bool | None = Field(default=None, description="true when the same bytes were there already")
