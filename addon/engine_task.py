"""A task that runs engine jobs one after another (one per queued item) and applies each result.

Per tick: wait for the engine session (a local engine starts on a thread), submit the next item,
poll its status (step, total, ETA, preview), and when it is done download the result files and hand
them to the item's ``apply`` on the main thread. A cancel (Esc, the Cancel button) is sent to the
engine at once (``POST /v1/jobs/{id}/cancel``); the engine stops before its next step. An engine
that dies or stops answering ends the task with the log path; the next job starts a new engine.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..gen3d.client import EngineClient, EngineError, EngineRequestError, EngineUnavailable
from . import paths, preview
from .engine_session import SESSION, SUBMIT_TIMEOUT_S, EngineConfig, EngineSessionError
from .results import ResultError
from .tasks import JobStateView, Task, TaskError

#: Seconds between preview downloads while a job runs.
PREVIEW_EVERY_S = 1.0


@dataclass
class Item:
    """One engine job: ``label`` (object name), request ``params`` and wire ``mesh``, and ``data``
    that :meth:`EngineTask.apply` needs (e.g. the corner -> loop mapping)."""

    label: str
    params: dict
    mesh: dict | None
    data: Any = None


class EngineTask(Task):
    #: Engine job kind ("paint", "sketch").
    kind = ""
    #: What to tell the user when the engine lacks :attr:`kind`.
    missing_kind_hint = ""

    def __init__(self, config: EngineConfig, items: list[Item], settings: dict):
        super().__init__()
        self.config = config
        self.items = items
        self.settings = settings
        self.index = 0
        self.phase = "engine"
        self.client: EngineClient | None = None
        self.job_id: str | None = None
        self.cancel_sent = False
        self.last_step = -1
        self.last_preview = 0.0
        self.done_labels: list[str] = []

    # ---- to implement ---------------------------------------------------------------------------
    def apply(self, context, item: Item, out_dir: Path, status: dict) -> str:
        """Add the result to the file; return a short description (used for the undo step)."""
        raise NotImplementedError

    # ---- task -----------------------------------------------------------------------------------
    def begin(self, context) -> None:
        JobStateView(context).set(object_count=len(self.items), message="Starting the engine...")
        SESSION.request(self.config, wait=not self.modal)

    def on_cancel(self) -> None:
        # Tell the engine right away; tick() notices the cancelled state on its next poll.
        client, job_id = self.client, self.job_id
        if client is not None and job_id is not None and not self.cancel_sent:
            self.cancel_sent = True
            try:
                client.cancel(job_id)
            except EngineError:
                self.cancel_sent = False  # tick() tries again

    def abort(self) -> None:
        self.request_cancel()

    def tick(self, context) -> bool:
        job = JobStateView(context)
        try:
            if self.phase == "engine":
                return self._wait_engine(context, job)
            if self.phase == "submit":
                return self._submit(context, job)
            return self._poll(context, job)
        except EngineSessionError as exc:
            return self.finish(context, "ERROR", str(exc))
        except EngineUnavailable as exc:
            if self.phase == "submit":
                # The request may have reached the engine; sending it again could queue a second,
                # orphaned job ahead of ours. End this item and say so instead.
                return self.finish(context, "ERROR", f"{self._prefix()}the engine did not answer the job "
                                   f"request ({exc.message}); run the job again")
            crash = SESSION.unanswered(exc)
            if crash is None:
                return False  # one missed answer from a live local engine: try again next tick
            return self.finish(context, "ERROR", self._prefix() + crash)
        except EngineRequestError as exc:
            return self.finish(context, "ERROR", f"{self._prefix()}the engine refused the job: {exc.message}")
        except EngineError as exc:
            return self.finish(context, "ERROR", f"{self._prefix()}{exc.message}")
        except (TaskError, ResultError) as exc:
            return self.finish(context, "ERROR", f"{self._prefix()}{exc}{self._summary()}")

    def _prefix(self) -> str:
        if self.index < len(self.items) and len(self.items) > 1:
            return f"{self.items[self.index].label}: "
        return ""

    def _summary(self) -> str:
        if not self.done_labels:
            return ""
        return f" ({len(self.done_labels)} of {len(self.items)} done: {', '.join(self.done_labels)})"

    def _wait_engine(self, context, job: JobStateView) -> bool:
        if self.cancelled:
            return self.finish(context, "CANCELLED", f"{self.label} cancelled before the engine was ready")
        client = SESSION.poll()
        if client is None:
            elapsed = time.monotonic() - self.started
            job.set(state="STARTING", message=f"Starting the engine... ({elapsed:.0f} s)")
            return False
        if self.kind not in SESSION.job_kinds():
            kinds = ", ".join(sorted(SESSION.job_kinds())) or "none"
            version = SESSION.info.get("version", "?")
            return self.finish(context, "ERROR", f"The engine (ProcDream {version}) has no '{self.kind}' job "
                               f"kind (it offers: {kinds}). {self.missing_kind_hint}")
        self.client = client
        self.phase = "submit"
        return self._submit(context, job)

    def _submit(self, context, job: JobStateView) -> bool:
        if self.cancelled:
            return self.finish(context, "CANCELLED", f"{self.label} cancelled{self._summary()}")
        item = self.items[self.index]
        job.set(state="STARTING", object_name=item.label, object_index=self.index + 1, step=0, total=0,
                eta_s=-1.0, message=f"Sending {item.label} to the engine")
        self.job_id = self.client.submit(self.kind, self._accepted(item.params), item.mesh, timeout=SUBMIT_TIMEOUT_S)
        SESSION.answered()
        self.cancel_sent, self.last_step = False, -1
        self.phase = "running"
        return False

    def _accepted(self, params: dict) -> dict:
        """``params`` less those the engine's version of the job kind does not know (it refuses unknown
        keys); what was left out is reported once as a warning."""
        schema = SESSION.info.get("kinds", {}).get(self.kind, {}).get("params_schema", {})
        known = schema.get("properties")
        if not known:
            return params
        dropped = sorted(set(params) - set(known))
        note = f"the engine's {self.kind} job does not take: {', '.join(dropped)}"
        if dropped and note not in self.warnings:
            self.warnings.append(note)
        return {k: v for k, v in params.items() if k in known}

    def _poll(self, context, job: JobStateView) -> bool:
        crash = SESSION.check_alive()
        if crash is not None:
            return self.finish(context, "ERROR", self._prefix() + crash + self._summary())
        status = self.client.status(self.job_id)
        SESSION.answered()
        if self.cancelled and not self.cancel_sent:
            self.on_cancel()
        state = status.get("state")
        eta = status.get("eta_s")
        job.set(state="RUNNING" if state == "running" else "STARTING", step=int(status.get("step") or 0),
                total=int(status.get("total") or 0), eta_s=-1.0 if eta is None else float(eta),
                message=("Cancelling... " if self.cancelled else "") + (status.get("message") or state or ""))
        self._update_preview(status, job)
        if state == "done":
            return self._apply(context, job, status)
        if state == "failed":
            return self.finish(context, "ERROR", self._prefix() + self._failure(status) + self._summary())
        if state == "cancelled":
            return self.finish(context, "CANCELLED", f"{self.label} cancelled{self._summary()}")
        return False

    def _failure(self, status: dict) -> str:
        error = status.get("error") or "unknown error"
        if "out of memory" in error.lower():
            return f"{self.label} failed: the engine ran {error}"  # the engine's message says what to try
        if "model" in error.lower() and self.settings.get("guidance") == "sd":
            return (f"{error}. Set a model in Preferences > Add-ons > ProcDream, or choose the analytic "
                    "test prior")
        return f"{self.label} failed on the engine: {error}"

    def _update_preview(self, status: dict, job: JobStateView) -> None:
        step = int(status.get("step") or 0)
        now = time.monotonic()
        if not status.get("has_preview") or step == self.last_step or now - self.last_preview < PREVIEW_EVERY_S:
            return
        self.last_step, self.last_preview = step, now
        png = self.client.preview(self.job_id)
        if png:
            job.set(preview_image=preview.show(png))

    def _apply(self, context, job: JobStateView, status: dict) -> bool:
        item = self.items[self.index]
        job.set(message=f"Applying the result to {item.label}")
        out_dir = paths.user_dir("results", self.job_id)
        try:
            self.client.download(self.job_id, out_dir)
            what = self.apply(context, item, out_dir, status)
        finally:
            shutil.rmtree(out_dir, ignore_errors=True)
        self.result_applied(context, what)
        self.done_labels.append(item.label)
        self.index += 1
        self.job_id = None
        if self.index < len(self.items):
            self.phase = "submit"
            return False
        return self.finish(context, "DONE", f"{self.label}: {what}" if len(self.items) == 1
                           else f"{self.label}: {len(self.items)} objects done")
