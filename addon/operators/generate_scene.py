"""procdream.generate_scene: build a procedural nature scene into a new scene (the current one is kept)."""

from __future__ import annotations

import bpy

from ..properties import SCENE_TYPE_ITEMS
from ..scene_task import SceneTask, parse_bindings
from . import settings
from .task_operator import TaskOperator, busy_poll

NAMES = ("scene_type", "seed", "frames", "gin_params")


class PROCDREAM_OT_generate_scene(TaskOperator, bpy.types.Operator):
    """Build a procedural scene (terrain, rocks, trees, plants, sky, camera) into a new scene"""

    bl_idname = "procdream.generate_scene"
    bl_label = "Generate scene"
    job_label = "Procedural scene"

    scene_type: bpy.props.EnumProperty(name="Scene type", items=SCENE_TYPE_ITEMS, default="meadow")
    seed: bpy.props.IntProperty(name="Seed", min=0)
    frames: bpy.props.IntProperty(name="Frames", min=1, max=10_000, default=1)
    gin_params: bpy.props.StringProperty(name="Gin bindings", description="Separated by ';'")

    @classmethod
    def poll(cls, context):
        return busy_poll(cls)

    def create_task(self, context):
        values = settings.resolve(self, context.scene.procdream.procgen, NAMES)
        return SceneTask(values["scene_type"], values["seed"], values["frames"], parse_bindings(values["gin_params"]))
