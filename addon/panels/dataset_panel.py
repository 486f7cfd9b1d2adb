"""Render dataset: output folder, size of the run, Render."""

import bpy

from .. import tasks
from .job_box import draw_job


class PROCDREAM_PT_dataset(bpy.types.Panel):
    bl_idname = "PROCDREAM_PT_dataset"
    bl_label = "Render dataset"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "ProcDream"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = self.layout
        s = context.scene.procdream.dataset
        col = layout.column()
        col.prop(s, "output_dir")
        col.prop(s, "scene_type")
        col.prop(s, "scenes")
        col.prop(s, "frames")
        row = col.row(align=True)
        row.prop(s, "resolution_x")
        row.prop(s, "resolution_y")
        col.prop(s, "samples")
        col.prop(s, "seed")
        col.prop(s, "gin_params")
        if not s.output_dir:
            layout.label(text="Choose an output folder", icon="INFO")
        row = layout.row()
        row.scale_y = 1.4
        row.enabled = bool(s.output_dir) and not tasks.busy()
        row.operator("procdream.render_dataset", text="Render", icon="RENDER_ANIMATION")
        draw_job(layout, context, "Render dataset")
