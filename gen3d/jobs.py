"""Engine jobs: the kind registry, the context a job runs with, and the one-at-a-time queue.

A job kind is a params model plus a ``run(params, mesh, ctx) -> dict`` function. Kinds register
themselves at import (``register(JobKind(...))``); :func:`load_builtin_kinds` imports the ones that
ship with ProcDream. The HTTP layer lives in :mod:`.server`; nothing here knows about HTTP.

A job's life: ``queued`` -> ``running`` -> ``done`` | ``failed`` | ``cancelled`` (a queued job can go
straight to ``cancelled``). Times are seconds: ``created``/``started``/``finished`` are Unix times,
``eta_s`` is the estimated time left.
"""

from __future__ import annotations

import gc
import importlib
import json
import logging
import re
import shutil
import sys
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .meshwire import MeshArrays
from .validate import MeshLimits, ValidationError, decode_mesh, validate_params

log = logging.getLogger(__name__)

STATES = ("queued", "running", "done", "failed", "cancelled")
FINISHED = frozenset({"done", "failed", "cancelled"})
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Modules (relative to this package) whose import registers the built-in job kinds.
BUILTIN_KIND_MODULES = ("paint.job", "nerf.job")
_JOB_ID = re.compile(r"[0-9a-f]{32}")  # uuid4().hex
OOM_HINT = "Try a smaller texture size or fewer faces (decimate the mesh), or free GPU memory used by other programs"


class JobCancelled(Exception):
    """Raised by :meth:`JobContext.check_cancelled` once a cancel was requested."""


class QueueClosed(RuntimeError):
    """The queue is shutting down and takes no more jobs."""


class UnknownJob(KeyError):
    """No job with this id (never submitted, or pruned from the history)."""


class QueueFull(RuntimeError):
    """As many jobs are waiting as the queue holds (``max_queued``); the client should retry later."""


@dataclass
class JobKind:
    """A kind of job the engine can run.

    ``run(params, mesh, ctx)`` gets the validated params model instance, the decoded
    :class:`~.meshwire.MeshArrays` (or None when the request had no mesh) and a :class:`JobContext`.
    It writes its result files into ``ctx.out_dir`` and returns a JSON-able summary dict.
    """

    name: str
    params_model: type[BaseModel]
    run: Callable[[Any, MeshArrays | None, JobContext], dict | None]
    needs_gpu: bool = False
    #: When true a request without a mesh is refused (422 naming ``mesh``) before it is queued.
    needs_mesh: bool = False
    description: str = ""

    def info(self) -> dict:
        return {"name": self.name, "description": self.description, "needs_gpu": self.needs_gpu,
                "needs_mesh": self.needs_mesh, "params_schema": self.params_model.model_json_schema()}


#: Every registered kind by name. The queue reads it live, so kinds registered later are served too.
KINDS: dict[str, JobKind] = {}


def register(kind: JobKind) -> JobKind:
    """Add (or replace, e.g. after a module reload) a job kind; returns it for use as a decorator value."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", kind.name):
        raise ValueError(f"job kind name must be lower_snake_case, got {kind.name!r}")
    KINDS[kind.name] = kind
    return kind


def load_builtin_kinds() -> list[str]:
    """Import the built-in job modules that exist; returns the names of those imported.

    A missing job module is skipped (it may not be written yet or not shipped); any other error,
    including a missing dependency *inside* a job module, propagates so it is not silently lost.
    """
    loaded = []
    for rel in BUILTIN_KIND_MODULES:
        full = f"{__package__}.{rel}"
        try:
            importlib.import_module("." + rel, __package__)
        except ModuleNotFoundError as exc:
            if exc.name not in (full, full.rsplit(".", 1)[0]):
                raise
            continue
        loaded.append(full)
    return loaded


@dataclass(eq=False)
class Job:
    """One submitted job. Fields are written under the queue's lock; read them via snapshots."""

    id: str
    kind: JobKind
    params: Any
    mesh: MeshArrays | None
    created: float = field(default_factory=time.time)
    state: str = "queued"
    step: int = 0
    total: int = 0
    message: str = ""
    error: str | None = None
    traceback: str | None = None
    result: dict | None = None
    preview_png: bytes | None = None
    out_dir: Path | None = None
    started: float | None = None
    finished: float | None = None
    cancel_event: threading.Event = field(default_factory=threading.Event)
    # (monotonic time, step) of the first progress report of the current phase: the ETA baseline.
    eta_ref: tuple[float, int, int] | None = None
    # (monotonic time of the last estimate, seconds left at that time).
    eta_at: tuple[float, float] | None = None

    def eta_s(self) -> float | None:
        if self.state != "running" or self.eta_at is None:
            return None
        at, left = self.eta_at
        return round(max(0.0, left - (time.monotonic() - at)), 1)

    def snapshot(self) -> dict:
        return {"id": self.id, "kind": self.kind.name, "state": self.state, "step": self.step,
                "total": self.total, "eta_s": self.eta_s(), "message": self.message, "error": self.error,
                "traceback": self.traceback, "result": self.result, "has_preview": self.preview_png is not None,
                "created": self.created, "started": self.started, "finished": self.finished}


class JobContext:
    """What a running job uses to report progress and previews and to notice a cancel."""

    def __init__(self, job: Job, lock: threading.Lock, device: str):
        self._job = job
        self._lock = lock
        self.device = device
        self.out_dir: Path = job.out_dir

    def progress(self, step: int, total: int, message: str = "") -> None:
        """Report that ``step`` of ``total`` steps are done; an empty message keeps the last one.

        The ETA is the mean time per step since the first report of this phase; a phase restarts
        (new baseline) when ``total`` changes or ``step`` goes back.
        """
        now = time.monotonic()
        step, total = int(step), int(total)
        with self._lock:
            job = self._job
            job.step, job.total = step, total
            if message:
                job.message = str(message)[:300]
            ref = job.eta_ref
            if ref is None or ref[2] != total or step < ref[1]:
                job.eta_ref, job.eta_at = (now, step, total), None
            elif step > ref[1]:
                per_step = (now - ref[0]) / (step - ref[1])
                job.eta_at = (now, per_step * max(total - step, 0))

    def preview(self, png_bytes: bytes) -> None:
        """Publish a preview image (PNG file bytes); it replaces the previous one."""
        data = bytes(png_bytes)
        if not data.startswith(PNG_SIGNATURE):
            raise ValueError("preview must be PNG file bytes")
        with self._lock:
            self._job.preview_png = data

    def check_cancelled(self) -> None:
        """Raise :class:`JobCancelled` if a cancel was requested; call it between steps."""
        if self._job.cancel_event.is_set():
            raise JobCancelled()

    @property
    def cancelled(self) -> bool:
        return self._job.cancel_event.is_set()

    def log(self, message: str) -> None:
        """Write a line to the engine log (stderr), tagged with the job id."""
        log.info("[job %s] %s", self._job.id, message)


def _is_out_of_memory(exc: BaseException) -> bool:
    # By class name so torch need not be importable here (torch.cuda.OutOfMemoryError).
    return isinstance(exc, MemoryError) or any(c.__name__ == "OutOfMemoryError" for c in type(exc).__mro__)


def _free_gpu_memory() -> None:
    torch = sys.modules.get("torch")
    if torch is None:
        return
    try:
        gc.collect()  # drop tensors still referenced from the failed job's frames first
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:  # cleanup must never take the worker down
        log.exception("could not release GPU memory")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:500]}" if text else type(exc).__name__


class JobQueue:
    """Runs jobs one at a time, first in first out, on a single worker thread.

    One at a time because a job may use the whole GPU. Finished jobs (and their ``out_dir`` under
    ``work_dir/jobs``) are kept for the last ``keep`` jobs; older ones are deleted. ``work_dir/jobs``
    belongs to the queue: job folders left by an earlier engine process are removed at start.
    """

    def __init__(self, work_dir: str | Path, device: str = "cpu", keep: int = 32,
                 kinds: dict[str, JobKind] | None = None, mesh_limits: MeshLimits | None = None,
                 max_queued: int = 64, max_file_bytes: int = 2**31, dry_run: bool = False):
        """``max_queued``: jobs waiting (not running) at most; ``max_file_bytes``: the largest result
        file :meth:`file_path` hands out; ``dry_run``: jobs are validated and queued as usual, then
        finish at once without running (result ``{"dry_run": true}``), for contract and load tests."""
        self.work_dir = Path(work_dir)
        self.dry_run = bool(dry_run)
        self.max_queued = max(1, int(max_queued))
        self.max_file_bytes = int(max_file_bytes)
        self.jobs_dir = self.work_dir / "jobs"
        self.device = device
        self.keep = max(1, int(keep))
        self.kinds = KINDS if kinds is None else kinds
        self.mesh_limits = mesh_limits or MeshLimits()
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        for leftover in self.jobs_dir.iterdir():
            # Only folders named like our job ids: work_dir may be a folder the user also uses.
            if _JOB_ID.fullmatch(leftover.name) and leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._jobs: dict[str, Job] = {}  # creation order, which pruning relies on
        self._pending: deque[Job] = deque()
        self._running: Job | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._worker, name="procdream-job-worker", daemon=True)
        self._thread.start()

    # ---- requests -------------------------------------------------------------------------------
    def submit(self, kind: str, params: Any = None, mesh: Any = None) -> str:
        """Validate and queue a job; returns its id. Raises :class:`ValidationError` for bad input.

        ``params`` may be a dict or an instance of the kind's params model; ``mesh`` a wire mesh
        dict, a :class:`MeshArrays`, or None.
        """
        job_kind = self.kinds.get(kind) if isinstance(kind, str) else None
        if job_kind is None:
            known = ", ".join(sorted(self.kinds)) or "none registered"
            raise ValidationError("kind", f"unknown job kind {kind!r}; known kinds: {known}")
        if not isinstance(params, job_kind.params_model):
            params = validate_params(job_kind.params_model, {} if params is None else params)
        if mesh is not None and not isinstance(mesh, MeshArrays):
            mesh = decode_mesh(mesh, self.mesh_limits)
        if mesh is None and job_kind.needs_mesh:
            raise ValidationError("mesh", f"job kind {job_kind.name!r} needs a mesh")
        job = Job(id=uuid.uuid4().hex, kind=job_kind, params=params, mesh=mesh)
        with self._cond:
            if self._closed:
                raise QueueClosed("the engine is shutting down and takes no more jobs")
            if len(self._pending) >= self.max_queued:
                raise QueueFull(f"{len(self._pending)} jobs are already waiting, the most this engine queues "
                                "(--max-queued); retry when one has finished, or cancel one")
            self._jobs[job.id] = job
            self._pending.append(job)
            self._cond.notify_all()
            stale = self._prune_locked()
        for out_dir in stale:
            shutil.rmtree(out_dir, ignore_errors=True)
        log.info("queued job %s (%s)", job.id, job_kind.name)
        return job.id

    def _get(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise UnknownJob(job_id)
        return job

    def status(self, job_id: str) -> dict:
        with self._lock:
            return self._get(job_id).snapshot()

    def jobs(self) -> list[dict]:
        with self._lock:
            return [job.snapshot() for job in self._jobs.values()]

    def counts(self) -> dict:
        with self._lock:
            return {"queued": len(self._pending), "running": self._running.id if self._running else None}

    def cancel(self, job_id: str) -> dict:
        """Cancel a job: a queued one is dropped at once, a running one stops at its next check."""
        with self._lock:
            job = self._get(job_id)
            if job.state == "queued":
                self._pending.remove(job)
                job.state, job.finished, job.message = "cancelled", time.time(), "cancelled before it started"
            elif job.state == "running":
                job.cancel_event.set()
            return job.snapshot()

    def preview(self, job_id: str) -> bytes | None:
        with self._lock:
            return self._get(job_id).preview_png

    def files(self, job_id: str) -> list[dict]:
        """Result files as ``[{name, size}]`` (bytes), sorted by name.

        Only plain files directly in ``out_dir``; names starting with "." are a job's temporary
        files (written then renamed) and are not listed.
        """
        with self._lock:
            out_dir = self._get(job_id).out_dir
        if out_dir is None or not out_dir.is_dir():
            return []
        return [{"name": p.name, "size": p.stat().st_size} for p in sorted(out_dir.iterdir())
                if not p.name.startswith(".") and p.is_file() and not p.is_symlink()]

    def file_path(self, job_id: str, name: str) -> Path:
        """The path of one result file. Refuses (ValidationError naming ``name``) anything but a plain
        file name, and a file over ``max_file_bytes``; FileNotFoundError for a missing file, a
        symlink, or a path that resolves outside the job's folder."""
        with self._lock:
            out_dir = self._get(job_id).out_dir
        if (not name or name != Path(name).name or name.startswith(".") or "/" in name or "\\" in name
                or "\0" in name or Path(name).is_absolute()):
            raise ValidationError("name", f"{name!r} is not a plain result file name")
        if out_dir is None or out_dir.is_symlink():
            raise FileNotFoundError(name)
        path = out_dir / name
        if path.is_symlink() or not path.is_file() or path.resolve().parent != out_dir.resolve():
            raise FileNotFoundError(name)
        size = path.stat().st_size
        if size > self.max_file_bytes:
            raise ValidationError("name", f"{name} is {size} bytes, more than the {self.max_file_bytes} bytes this "
                                          "engine serves in one download (--max-file-mib)")
        return path

    def close(self, timeout: float = 10.0) -> bool:
        """Stop taking jobs, cancel queued ones, ask the running one to stop; True if the worker ended."""
        with self._cond:
            self._closed = True
            while self._pending:
                job = self._pending.popleft()
                job.state, job.finished, job.message = "cancelled", time.time(), "engine shut down"
            if self._running is not None:
                self._running.cancel_event.set()
            self._cond.notify_all()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # ---- worker ---------------------------------------------------------------------------------
    def _worker(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                job = self._pending.popleft()
                job.state, job.started = "running", time.time()
                job.out_dir = self.jobs_dir / job.id
                self._running = job
            for out_dir in self._run(job):
                shutil.rmtree(out_dir, ignore_errors=True)

    def _run(self, job: Job) -> list[Path]:
        """Run one job to its end; returns the result folders of jobs that fell out of the history."""
        ctx = JobContext(job, self._lock, self.device)
        state, result, error, tb, oom = "done", None, None, None, False
        log.info("running job %s (%s)", job.id, job.kind.name)
        try:
            job.out_dir.mkdir(parents=True, exist_ok=True)
            ctx.check_cancelled()
            result = {"dry_run": True} if self.dry_run else job.kind.run(job.params, job.mesh, ctx)
            result = {} if result is None else result
            try:
                if not isinstance(result, dict):
                    raise TypeError(f"a {type(result).__name__}, not a dict")
                json.dumps(result)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"job kind {job.kind.name!r} returned a result that is not a JSON object: "
                                f"{exc}") from None
        except JobCancelled:
            state, result = "cancelled", None
        except BaseException as exc:  # any failure must leave the queue serving
            state, result, tb = "failed", None, traceback.format_exc()
            oom = _is_out_of_memory(exc)
            error = _one_line(exc)
            if oom:
                error = f"out of memory: {error}. {OOM_HINT}."
            log.error("job %s (%s) failed: %s\n%s", job.id, job.kind.name, error, tb)
        if oom:
            _free_gpu_memory()
        with self._lock:
            job.state, job.result, job.error, job.traceback = state, result, error, tb
            job.finished = time.time()
            if state == "cancelled":
                job.message = "cancelled"
            self._running = None
            job.mesh = None  # the arrays can be large and are not needed after the run
            # Pruned in the same step, so whoever sees this job finished also sees the history trimmed.
            stale = self._prune_locked()
        log.info("job %s %s after %.1f s", job.id, state, job.finished - job.started)
        return stale

    def _prune_locked(self) -> list[Path]:
        finished = [job for job in self._jobs.values() if job.state in FINISHED]
        stale = finished[: max(0, len(finished) - self.keep)]
        for job in stale:
            del self._jobs[job.id]
        return [job.out_dir for job in stale if job.out_dir is not None]
