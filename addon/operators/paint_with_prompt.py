"""procdream.paint_with_prompt: texture each selected mesh from a prompt (one engine job per mesh)."""

from __future__ import annotations

import bpy

from .. import engine_session
from ..paint_task import PaintTask, paint_item
from ..properties import GUIDANCE_ITEMS
from . import settings
from .task_operator import TaskOperator, busy_poll

NAMES = ("prompt", "negative_prompt", "guidance", "seed", "steps", "guidance_scale", "texture_size",
         "use_existing_uvs", "lr")


class PROCDREAM_OT_paint_with_prompt(TaskOperator, bpy.types.Operator):
    """Texture the selected meshes from a text prompt. Each gets a new material; nothing is overwritten"""

    bl_idname = "procdream.paint_with_prompt"
    bl_label = "Paint with prompt"
    job_label = "Paint with prompt"

    prompt: bpy.props.StringProperty(name="Prompt")
    negative_prompt: bpy.props.StringProperty(name="Negative prompt")
    guidance: bpy.props.EnumProperty(name="Guidance", items=GUIDANCE_ITEMS, default="sd")
    seed: bpy.props.IntProperty(name="Seed", min=0)
    steps: bpy.props.IntProperty(name="Steps", min=1, max=100_000, default=2000)
    guidance_scale: bpy.props.FloatProperty(name="Guidance scale", min=0.0, max=1000.0, default=100.0)
    texture_size: bpy.props.IntProperty(name="Texture size", min=256, max=4096, default=1024,
                                        description="256, 512, 1024, 2048 or 4096")
    use_existing_uvs: bpy.props.BoolProperty(name="Use existing UVs", default=True)
    lr: bpy.props.FloatProperty(name="Learning rate", min=1e-5, max=1.0, default=0.01, precision=4)
    model_path: bpy.props.StringProperty(name="Model", subtype="FILE_PATH",
                                         description="Override the model of the preferences")
    preview_every: bpy.props.IntProperty(name="Preview every", min=0, default=0,
                                         description="Steps between previews; 0 picks about 20 per job")

    @classmethod
    def poll(cls, context):
        return busy_poll(cls) and settings.mesh_poll(cls, context, "Paint with prompt")

    def create_task(self, context):
        values = settings.resolve(self, context.scene.procdream.paint, NAMES)
        values["prompt"] = settings.check_prompt(values["prompt"], "weathered bronze")
        config = engine_session.config_from(context)
        values["model_path"] = settings.model_path(self, context, values["guidance"], config.mode == "LOCAL")
        values["preview_every"] = self.preview_every or max(1, min(100, values["steps"] // 20))
        meshes, others = settings.selected_meshes(context)
        depsgraph = context.evaluated_depsgraph_get()
        items = [paint_item(obj, depsgraph, values) for obj in meshes]
        task = PaintTask(config, items, values)
        if others:
            task.warnings.append("skipped objects that are not meshes: " + ", ".join(o.name for o in others))
        return task
