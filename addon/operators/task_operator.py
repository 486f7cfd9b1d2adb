"""The modal/synchronous shell shared by every job operator.

``invoke`` (buttons, F3) in the UI: starts the task and returns RUNNING_MODAL; a ~0.25 s timer
ticks it, Esc or ``procdream.cancel_job`` cancels it. Each result a task adds is pushed as its own
undo step, so the modal ends with CANCELLED to keep Blender from adding an empty duplicate step (and
from offering "Adjust Last Operation", which would re-run a whole job). ``execute`` (scripts,
``bpy.ops.procdream.x()``, background mode): runs the same task to the end before returning;
FINISHED when it finished or added something, CANCELLED otherwise, and an ERROR report (a
RuntimeError for the caller of ``bpy.ops``) when it failed.
"""

from __future__ import annotations

import time
import traceback

import bpy

from .. import tasks
from ..engine_python import EngineConfigError
from ..tasks import JobStateView, Task, TaskError


def redraw(context) -> None:
    screen = getattr(context, "screen", None)
    for area in screen.areas if screen else ():
        if area.type in {"VIEW_3D", "PREFERENCES"}:
            area.tag_redraw()


def busy_poll(cls) -> bool:
    if tasks.busy():
        cls.poll_message_set(f"{tasks.active().label} is running: wait for it or press Cancel")
        return False
    return True


class TaskOperator:
    bl_options = {"REGISTER", "UNDO"}
    #: The task's label (where the panels show this operator's job and its errors).
    job_label = ""

    def create_task(self, context) -> Task:
        """Validate the settings and build the task; raise TaskError (nothing changed) for bad input."""
        raise NotImplementedError

    def _begin(self, context, modal: bool) -> Task | None:
        try:
            task = self.create_task(context)
            tasks.begin(task, context, modal)
        except (TaskError, EngineConfigError) as exc:
            if not tasks.busy():  # never overwrite the display of a job that is still running
                JobStateView(context).set(state="ERROR", kind=self.job_label, message=str(exc), step=0, total=0,
                                          object_name="", object_count=0, preview_image="", result_path="")
            self.report({"ERROR"}, str(exc))
            return None
        return task

    def _report(self, task: Task) -> set[str]:
        level, message = task.outcome or ("WARNING", f"{task.label} stopped")
        self.report({level}, message)
        return {"FINISHED"} if task.applied or task.final_state == "DONE" else {"CANCELLED"}

    def execute(self, context):
        task = self._begin(context, modal=False)
        if task is None:
            return {"CANCELLED"}
        tasks.run_blocking(task, context)
        return self._report(task)

    def invoke(self, context, event):
        if bpy.app.background or context.window is None:
            return self.execute(context)
        task = self._begin(context, modal=True)
        if task is None:
            return {"CANCELLED"}
        self._task = task
        self._last_tick = 0.0
        wm = context.window_manager
        self._timer = wm.event_timer_add(tasks.POLL_S, window=context.window)
        tasks.set_timer(wm, self._timer)
        wm.modal_handler_add(self)
        redraw(context)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        task = self._task
        if tasks.active() is not task:  # aborted (add-on disabled) while we waited
            self._remove_timer(context)
            return {"CANCELLED"}
        if event.type == "ESC" and event.value == "PRESS":
            task.request_cancel()
            JobStateView(context).set(message="Cancelling...")
            redraw(context)
            return {"RUNNING_MODAL"}
        if event.type != "TIMER" or time.monotonic() - self._last_tick < tasks.POLL_S * 0.8:
            return {"PASS_THROUGH"}
        self._last_tick = time.monotonic()
        try:
            done = task.tick(context)
        except Exception as exc:  # a bug must not leave a modal operator spinning or an engine job running
            traceback.print_exc()
            task.abort()
            done = task.finish(context, "ERROR", f"{task.label} stopped by an internal error: "
                               f"{type(exc).__name__}: {exc}")
        redraw(context)
        if not done:
            return {"PASS_THROUGH"}
        self._remove_timer(context)
        tasks.end(task)
        self._report(task)
        return {"CANCELLED"}

    def cancel(self, context):
        # Blender ends the operator (file loaded, window closed): stop the job with it.
        task = getattr(self, "_task", None)
        if task is not None:
            task.abort()
            tasks.end(task)
        self._remove_timer(context)

    def _remove_timer(self, context) -> None:
        timer = getattr(self, "_timer", None)
        if timer is not None:
            context.window_manager.event_timer_remove(timer)
            self._timer = None
