"""procdream.cancel_job: stop the running ProcDream job (the engine job or the dataset process)."""

from __future__ import annotations

import bpy

from .. import tasks


class PROCDREAM_OT_cancel_job(bpy.types.Operator):
    """Stop the running ProcDream job. Results that already came back are kept"""

    bl_idname = "procdream.cancel_job"
    bl_label = "Cancel"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context):
        if not tasks.busy():
            cls.poll_message_set("No ProcDream job is running")
            return False
        return True

    def execute(self, context):
        task = tasks.active()
        if task is None or not tasks.cancel_active():
            self.report({"INFO"}, "No ProcDream job is running")
            return {"CANCELLED"}
        context.window_manager.procdream_job.message = "Cancelling..."
        self.report({"INFO"}, f"Cancelling {task.label}")
        return {"FINISHED"}
