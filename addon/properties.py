"""Runtime state shown in the sidebar. Lives on the WindowManager so it is never saved in .blend files."""

import bpy


class PROCDREAM_PG_engine_state(bpy.types.PropertyGroup):
    status: bpy.props.EnumProperty(
        name="Status",
        items=(
            ("UNKNOWN", "Not checked", ""),
            ("CHECKING", "Checking", ""),
            ("OK", "Ready", ""),
            ("ERROR", "Problem", ""),
        ),
        default="UNKNOWN",
    )
    message: bpy.props.StringProperty(name="Message")
    device: bpy.props.StringProperty(name="Device")
    python: bpy.props.StringProperty(name="Python")


CLASSES = (PROCDREAM_PG_engine_state,)


def attach():
    bpy.types.WindowManager.procdream_engine = bpy.props.PointerProperty(type=PROCDREAM_PG_engine_state)


def detach():
    del bpy.types.WindowManager.procdream_engine
