"""The engine box: version, engine status, the running engine, and the Check engine button."""

import bpy

from ... import __version__
from .. import preferences
from ..engine_session import SESSION
from .job_box import draw_job, wrapped

_ICONS = {"UNKNOWN": "QUESTION", "CHECKING": "SORTTIME", "OK": "CHECKMARK", "ERROR": "ERROR"}
_SESSION_ICONS = {"NONE": "DOT", "STARTING": "SORTTIME", "READY": "CHECKMARK", "CRASHED": "ERROR"}


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
        session_state, line = SESSION.describe()
        col = layout.column()
        col.alert = session_state == "CRASHED"
        if session_state == "CRASHED":
            wrapped(col, line)
        else:
            col.label(text=line, icon=_SESSION_ICONS[session_state])
        layout.operator("procdream.check_engine", icon="CHECKMARK")
        prefs = preferences.get(context)
        if state.status == "ERROR" and (prefs is None or prefs.engine_mode == "LOCAL"):
            layout.operator("procdream.setup_engine", icon="IMPORT")
        draw_job(layout, context, "Set up engine environment")
