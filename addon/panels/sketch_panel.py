"""Sketch to asset: prompt and settings; the selected meshes together are the sketch."""

import bpy

from .. import tasks
from ..operators.settings import selected_meshes
from .job_box import draw_job, wrapped
from .paint_panel import draw_guidance


class PROCDREAM_PT_sketch(bpy.types.Panel):
    bl_idname = "PROCDREAM_PT_sketch"
    bl_label = "Sketch to asset"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "ProcDream"

    def draw(self, context):
        layout = self.layout
        s = context.scene.procdream.sketch
        col = layout.column()
        col.prop(s, "prompt")
        col.prop(s, "negative_prompt")
        draw_guidance(col, s)
        col.prop(s, "seed")
        col.prop(s, "steps")
        col.prop(s, "guidance_scale")
        col.prop(s, "texture_size")
        col.prop(s, "refine_steps")
        col.prop(s, "target_faces")
        col.prop(s, "mesh_resolution")
        meshes, _others = selected_meshes(context)
        if meshes:
            layout.label(text=f"Sketch: {len(meshes)} selected mesh{'es' if len(meshes) > 1 else ''} as one shape",
                         icon="MESH_DATA")
        else:
            wrapped(layout, "Block out the shape with primitives and select them")
        row = layout.row()
        row.scale_y = 1.4
        row.enabled = bool(meshes) and not tasks.busy()
        row.operator("procdream.sketch_to_asset", icon="MESH_MONKEY")
        draw_job(layout, context, "Sketch to asset")
