"""procdream.setup_engine: make a virtualenv with the engine packages in the user directory."""

from __future__ import annotations

from pathlib import Path

import bpy

from .. import engine_setup
from ..tasks import TaskError
from .task_operator import TaskOperator, busy_poll


class PROCDREAM_OT_setup_engine(TaskOperator, bpy.types.Operator):
    """Create a Python environment with torch, diffusers and the other engine packages (downloads several GB
    from PyPI) and use it as the Engine Python"""

    bl_idname = "procdream.setup_engine"
    bl_label = "Set up engine environment"
    job_label = "Set up engine environment"
    bl_options = {"REGISTER"}

    folder: bpy.props.StringProperty(name="Folder", subtype="DIR_PATH", options={"HIDDEN", "SKIP_SAVE"},
                                     description="Where to make the environment (default: the user directory)")
    install_packages: bpy.props.BoolProperty(name="Install packages", default=True, options={"HIDDEN", "SKIP_SAVE"},
                                             description="Off: only create the environment")

    @classmethod
    def poll(cls, context):
        return busy_poll(cls)

    def create_task(self, context):
        folder = Path(bpy.path.abspath(self.folder)) if self.folder else engine_setup.venv_dir()
        if self.install_packages and not bpy.app.online_access:
            raise TaskError("Online access is off, so nothing is downloaded. Turn on Preferences > System > "
                            "Network > Allow Online Access and run 'Set up engine environment' again, or set it "
                            "up " + engine_setup.manual_steps(folder))
        packages = list(engine_setup.ENGINE_REQUIREMENTS) if self.install_packages else []
        return engine_setup.SetupTask(folder, packages)
