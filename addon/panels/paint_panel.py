"""Paint with prompt: prompt and settings, the button, and the running job."""

import bpy

from .. import tasks
from ..operators.settings import selected_meshes
from .job_box import draw_job, wrapped


def draw_guidance(layout, settings) -> None:
    layout.prop(settings, "guidance")
    if settings.guidance == "analytic":
        row = layout.row()
        row.alert = True
        row.label(text="Test prior: flat colours only, not a model", icon="INFO")


class PROCDREAM_PT_paint(bpy.types.Panel):
    bl_idname = "PROCDREAM_PT_paint"
    bl_label = "Paint with prompt"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "ProcDream"

    def draw(self, context):
        layout = self.layout
        s = context.scene.procdream.paint
        col = layout.column()
        col.prop(s, "prompt")
        col.prop(s, "negative_prompt")
        draw_guidance(col, s)
        col.prop(s, "seed")
        col.prop(s, "steps")
        col.prop(s, "guidance_scale")
        col.prop(s, "texture_size")
        col.prop(s, "use_existing_uvs")
        col.prop(s, "lr")
        meshes, others = selected_meshes(context)
        if meshes:
            text = f"{len(meshes)} mesh{'es' if len(meshes) > 1 else ''} selected (one job each)"
            layout.label(text=text, icon="MESH_DATA")
        else:
            wrapped(layout, "Select one or more mesh objects" + (" (the selection has no mesh)" if others else ""))
        row = layout.row()
        row.scale_y = 1.4
        row.enabled = bool(meshes) and not tasks.busy()
        row.operator("procdream.paint_with_prompt", icon="BRUSH_DATA")
        draw_job(layout, context, "Paint with prompt")
