"""Long-running jobs as tasks that advance one tick at a time.

The same :class:`Task` runs in both modes: in the UI a modal operator calls :meth:`Task.tick` from
its timer (every :data:`POLL_S` seconds) so Blender stays responsive; in background mode (and from
scripts calling ``execute``) :func:`run_blocking` calls it in a loop. One task runs at a time;
:func:`cancel_active` (the Cancel button, ``procdream.cancel_job``) asks it to stop, and
:func:`shutdown` aborts it when the add-on is disabled.

Progress goes to ``WindowManager.procdream_job`` (:class:`JobStateView` keeps the updates in one
place). ``tick`` runs on Blender's main thread; :meth:`Task.request_cancel` may be called from any
thread.
"""

from __future__ import annotations

import threading
import time

import bpy

#: Seconds between ticks (modal timer interval and blocking poll interval).
POLL_S = 0.25


class TaskError(Exception):
    """Bad input or a failure the user can fix; the message says how. Raised before anything changes."""


class Task:
    #: Shown in the panel while the task runs.
    label = "Job"

    def __init__(self):
        self.cancel_event = threading.Event()
        #: ("INFO" | "WARNING" | "ERROR", message) once finished.
        self.outcome: tuple[str, str] | None = None
        self.warnings: list[str] = []
        #: Results added to the file (each is one undo step in the UI).
        self.applied = 0
        #: True when driven by a modal operator (undo steps are pushed per result).
        self.modal = False
        self.started = time.monotonic()
        #: DONE, ERROR or CANCELLED once finished.
        self.final_state = ""


    # ---- to implement ---------------------------------------------------------------------------
    def begin(self, context) -> None:
        """Start (non-blocking). Raise :class:`TaskError` to refuse."""

    def tick(self, context) -> bool:
        """Advance; return True when finished (and :attr:`outcome` is set)."""
        raise NotImplementedError

    def on_cancel(self) -> None:
        """Called once, from any thread, when a cancel is requested (e.g. tell the engine)."""

    def abort(self) -> None:
        """Stop everything at once (add-on disabled, file closed). Must not touch bpy data."""
        self.request_cancel()

    # ---- helpers --------------------------------------------------------------------------------
    def request_cancel(self) -> None:
        if not self.cancel_event.is_set():
            self.cancel_event.set()
            self.on_cancel()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def finish(self, context, state: str, message: str) -> bool:
        """Record the outcome (state DONE, ERROR or CANCELLED) in the job state; returns True."""
        level = {"DONE": "INFO", "CANCELLED": "WARNING", "ERROR": "ERROR"}[state]
        if state == "DONE" and self.warnings:
            level = "WARNING"
            message = message + " Warnings: " + "; ".join(self.warnings)
        self.outcome = (level, message)
        self.final_state = state
        job = JobStateView(context)
        job.set(state=state, message=message, eta_s=-1.0)
        return True

    def result_applied(self, context, message: str) -> None:
        """Call after adding a result to the file: in the UI it becomes its own undo step."""
        self.applied += 1
        if self.modal and not bpy.app.background:
            try:
                bpy.ops.ed.undo_push(message=message)
            except RuntimeError:
                pass  # undo disabled or unavailable in this context; the result is still there


class JobStateView:
    """Write access to ``WindowManager.procdream_job`` (ignored when the add-on is being removed)."""

    def __init__(self, context):
        wm = getattr(context, "window_manager", None) or bpy.context.window_manager
        self.state = getattr(wm, "procdream_job", None)

    def set(self, **values) -> None:
        if self.state is None:
            return
        for key, value in values.items():
            if key in ("message", "object_name", "kind") and isinstance(value, str):
                value = value.replace("\n", " ")[:1000]
            setattr(self.state, key, value)

    def reset(self, kind: str) -> None:
        self.set(state="STARTING", kind=kind, step=0, total=0, eta_s=-1.0, message="", object_name="",
                 object_index=0, object_count=0, preview_image="", result_path="")


_active: Task | None = None
_timer = None  # (window manager, timer) of the modal operator driving the active task


def active() -> Task | None:
    return _active


def busy() -> bool:
    return _active is not None


def begin(task: Task, context, modal: bool) -> None:
    """Make ``task`` the active one and start it. Raises TaskError if another runs or it refuses."""
    global _active
    if _active is not None:
        raise TaskError(f"{_active.label} is still running; wait for it or press Cancel")
    task.modal = modal
    JobStateView(context).reset(task.label)
    _active = task
    try:
        task.begin(context)
    except BaseException:
        _active = None
        raise


def end(task: Task) -> None:
    global _active, _timer
    if _active is task:
        _active = None
        _timer = None


def set_timer(wm, timer) -> None:
    global _timer
    _timer = (wm, timer)


def run_blocking(task: Task, context) -> None:
    """Tick ``task`` until it finishes (background mode, scripts)."""
    try:
        while not task.tick(context):
            time.sleep(POLL_S)
    except BaseException:
        task.abort()  # Ctrl-C in a script, or a bug: do not leave the engine job running
        raise
    finally:
        end(task)


def cancel_active() -> bool:
    """Ask the running task to stop; returns False when none runs. Safe from any thread."""
    task = _active
    if task is None:
        return False
    task.request_cancel()
    return True


def shutdown() -> None:
    """Abort the active task and remove its modal timer (the add-on is being disabled)."""
    global _active, _timer
    task, timer = _active, _timer
    _active, _timer = None, None
    if task is not None:
        try:
            task.abort()
        except Exception as exc:  # unregistering must go on
            print(f"procdream: could not stop {task.label}: {exc}")
    if timer is not None:
        wm, handle = timer
        try:
            wm.event_timer_remove(handle)
        except (ReferenceError, RuntimeError, ValueError):
            pass
