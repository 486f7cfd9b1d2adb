"""procdream.sketch_to_asset: the selected meshes, as one Sketch-Shape, become a textured asset."""

from __future__ import annotations

import bpy

from .. import engine_session
from ..properties import GUIDANCE_ITEMS
from ..sketch_task import SketchTask, sketch_item
from . import settings
from .task_operator import TaskOperator, busy_poll

NAMES = ("prompt", "negative_prompt", "guidance", "seed", "steps", "guidance_scale", "texture_size",
         "target_faces", "refine_steps", "mesh_resolution")


class PROCDREAM_OT_sketch_to_asset(TaskOperator, bpy.types.Operator):
    """Turn the selected rough shapes (joined into one sketch) into a textured mesh in the ProcDream collection"""

    bl_idname = "procdream.sketch_to_asset"
    bl_label = "Sketch to asset"
    job_label = "Sketch to asset"

    prompt: bpy.props.StringProperty(name="Prompt")
    negative_prompt: bpy.props.StringProperty(name="Negative prompt")
    guidance: bpy.props.EnumProperty(name="Guidance", items=GUIDANCE_ITEMS, default="sd")
    seed: bpy.props.IntProperty(name="Seed", min=0)
    steps: bpy.props.IntProperty(name="Steps", min=1, max=100_000, default=5000)
    guidance_scale: bpy.props.FloatProperty(name="Guidance scale", min=0.0, max=1000.0, default=100.0)
    texture_size: bpy.props.IntProperty(name="Texture size", min=256, max=4096, default=1024,
                                        description="256, 512, 1024, 2048 or 4096")
    target_faces: bpy.props.IntProperty(name="Target faces", min=100, max=1_000_000, default=20_000)
    refine_steps: bpy.props.IntProperty(name="Refine steps", min=0, max=100_000, default=0)
    mesh_resolution: bpy.props.IntProperty(name="Mesh resolution", min=32, max=512, default=128)
    preview_every: bpy.props.IntProperty(name="Preview every", min=0, default=0,
                                         description="Steps between previews; 0 picks about 20 per job")
    model_path: bpy.props.StringProperty(name="Model", subtype="FILE_PATH",
                                         description="Override the model of the preferences")

    @classmethod
    def poll(cls, context):
        return busy_poll(cls) and settings.mesh_poll(cls, context, "Sketch to asset")

    def create_task(self, context):
        values = settings.resolve(self, context.scene.procdream.sketch, NAMES)
        values["prompt"] = settings.check_prompt(values["prompt"], "a wooden treasure chest")
        config = engine_session.config_from(context)
        values["model_path"] = settings.model_path(self, context, values["guidance"], config.mode == "LOCAL")
        total = values["steps"] + values["refine_steps"]
        values["preview_every"] = self.preview_every or max(1, min(100, total // 20))
        meshes, others = settings.selected_meshes(context)
        item = sketch_item(meshes, context.evaluated_depsgraph_get(), values)
        task = SketchTask(config, item, values)
        if others:
            task.warnings.append("left out objects that are not meshes: " + ", ".join(o.name for o in others))
        return task
