"""The engine box: version, engine status, and the Check engine button."""

import bpy

from ... import __version__

_ICONS = {"UNKNOWN": "QUESTION", "CHECKING": "SORTTIME", "OK": "CHECKMARK", "ERROR": "ERROR"}


class PROCDREAM_PT_engine(bpy.types.Panel):
    bl_idname = "PROCDREAM_PT_engine"
    bl_label = "Engine"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "ProcDream"

    def draw(self, context):
        layout = self.layout
        state = context.window_manager.procdream_engine
        layout.label(text=f"ProcDream {__version__}")
        row = layout.row()
        row.label(text=state.bl_rna.properties["status"].enum_items[state.status].name,
                  icon=_ICONS[state.status])
        if state.message:
            col = layout.column(align=True)
            col.scale_y = 0.8
            # Long messages (fix instructions) wrap by splitting on '; '.
            for part in state.message.split("; "):
                col.label(text=part)
        layout.operator("procdream.check_engine", icon="CHECKMARK")
