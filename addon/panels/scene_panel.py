"""Procedural scene: scene type, seed, frames, Generate."""

import bpy

from .. import tasks
from .job_box import draw_job


class PROCDREAM_PT_procgen(bpy.types.Panel):
    bl_idname = "PROCDREAM_PT_procgen"
    bl_label = "Procedural scene"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "ProcDream"

    def draw(self, context):
        layout = self.layout
        s = context.scene.procdream.procgen
        col = layout.column()
        col.prop(s, "scene_type")
        col.prop(s, "seed")
        col.prop(s, "frames")
        col.prop(s, "gin_params")
        layout.label(text="Builds into a new scene; this one is kept", icon="SCENE_DATA")
        row = layout.row()
        row.scale_y = 1.4
        row.enabled = not tasks.busy()
        row.operator("procdream.generate_scene", text="Generate", icon="WORLD")
        draw_job(layout, context, "Procedural scene")
