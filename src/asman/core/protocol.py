"""The worker WebSocket protocol (`/q/<queue>/worker`): message names and shapes, defined once.

Every message is a JSON object with a `type`. Messages about a job carry its `attempt`: the fencing token the
server handed out with the assignment. The server drops messages whose attempt is not the job's current one.
The assignment also carries the attempt's `token`, a secret: a worker echoes it on every later message about the
attempt, and must, to take the attempt back after a reconnect (docs/security.md). A message without it is taken
only from the connection the attempt was assigned to (or handed back to).

worker -> server
  register   {worker: WorkerInfo, running: [{jobId, attempt, token}]}   first message; re-announces running jobs
  heartbeat  {running: [{jobId, attempt}]}                               renews the leases of these attempts
  log        {jobId, attempt, token, step: "run"|"build", seq, logs: [[text, epochMs, isStdErr]]}
             `seq` numbers the first line (lines of an attempt's step count from 0): a resent line is stored once
  finished   {jobId, attempt, token, result: JobResult}                  the attempt's outcome
  finishedMany {results: [{jobId, attempt, token, result}]}             several `finished` in one frame, from a
             worker that announced `finishedMany` at register to a server whose `registered` says `finishedMany`
  release    {jobId, attempt, token}                                     hand an unfinished job back (graceful stop)
  drain      {}                                                          assign me nothing more (graceful stop)

server -> worker
  registered {leaseSeconds, heartbeatSeconds, keep: [{jobId, attempt, logs: {step: seq}}], drop: [{jobId, attempt}],
             finishedMany: true}
             `logs` says where each kept attempt's log goes on: the worker resends its lines from there;
             `finishedMany` says this server takes `finishedMany` frames (older servers do not say it)
  assign     {jobId, attempt, token, queue, definition, leaseSeconds}
  assignMany {assignments: [assign]}                               several `assign` in one frame, to a worker
             that announced `assignMany` at register
  cancel     {jobId, attempt}                                      stop the container, report Cancelled
  rejected   {jobId, attempt, reason}                              a stale attempt: stop working on it
  error      {message, jobId?, attempt?}                           a message the server could not take, and why
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from asman.core.states import FinishedReason

REGISTER = "register"
HEARTBEAT = "heartbeat"
LOG = "log"
FINISHED = "finished"
# Several `finished` messages in one frame, from a worker that announces `finishedMany` at register.
FINISHED_MANY = "finishedMany"
RELEASE = "release"
DRAIN = "drain"
REGISTERED = "registered"
ASSIGN = "assign"
# Several `assign` messages in one frame, to a worker that announces `assignMany` at register.
ASSIGN_MANY = "assignMany"
CANCEL = "cancel"
REJECTED = "rejected"
ERROR = "error"

# A `finishedMany` frame holds at most this many results (a worker's most slots) and this many bytes (half the
# socket's 32 MiB frame limit, the size of the largest result Asman's worker sends).
FINISHED_MANY_MOST_RESULTS = 1024
FINISHED_MANY_MOST_BYTES = 16 * 1024**2

STEP_RUN = "run"
STEP_BUILD = "build"


def rejected(job_id: str, attempt: int) -> dict[str, Any]:
    """The server's answer to any message about an attempt that is no longer current."""
    return {
        "type": REJECTED,
        "jobId": job_id,
        "attempt": attempt,
        "reason": "this attempt is no longer current",
    }


def refused(why: str, job_id: str | None = None, attempt: int | None = None) -> dict[str, Any]:
    """The server's answer to a message it could not take (malformed, too large)."""
    about = {"jobId": job_id, "attempt": attempt} if job_id is not None else {}
    return {"type": ERROR, "message": why, **about}


class WorkerInfo(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1, max_length=200)
    slots: int = Field(default=1, ge=1, le=1024)
    gpus: int = Field(default=0, ge=0, le=1024)
    version: str = ""
    maxJobDuration: float | None = None
    # Takes `assignMany` frames; workers that do not say so (upstream's among them) get one `assign` a frame.
    assignMany: bool = False
    # Sends `finishedMany` frames; a server takes them only from workers that say so.
    finishedMany: bool = False


class JobResult(BaseModel):
    """What a worker reports when an attempt ends; stored as the job's result."""

    model_config = ConfigDict(extra="allow")

    reason: FinishedReason
    StatusCode: int | None = None
    logs: list[list[Any]] = Field(default_factory=list)
    duration: int | None = None
    error: str | None = None
    isTimedOut: bool = False
    outputs: dict[str, dict[str, Any]] = Field(default_factory=dict)
