"""Add-on preferences: how to reach the engine, and which model it loads."""

import bpy

#: The extension's root package (``bl_ext.<repo>.procdream`` inside Blender, ``procdream`` outside).
ROOT_PACKAGE = __package__.rpartition(".")[0]


class PROCDREAM_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = ROOT_PACKAGE

    engine_mode: bpy.props.EnumProperty(
        name="Engine",
        items=(
            ("LOCAL", "Start locally", "Start the engine as a child process with the engine Python"),
            ("REMOTE", "Connect to URL", "Connect to an engine that is already running"),
        ),
        default="LOCAL",
    )
    engine_python: bpy.props.StringProperty(
        name="Engine Python",
        description="Python interpreter with the 'engine' extra installed. Empty: use "
        "PROCDREAM_ENGINE_PYTHON, else Blender's own Python if it has the engine packages",
        subtype="FILE_PATH",
    )
    engine_url: bpy.props.StringProperty(
        name="Engine URL", description="Base URL of a running engine", default="http://127.0.0.1:8765"
    )
    engine_token: bpy.props.StringProperty(
        name="Token", description="Bearer token the running engine expects", subtype="PASSWORD"
    )
    model_path: bpy.props.StringProperty(
        name="Model",
        description="Stable Diffusion weights: a diffusers folder or a .safetensors/.ckpt file. "
        "Nothing is ever downloaded",
        subtype="FILE_PATH",
    )
    device: bpy.props.EnumProperty(
        name="Device",
        items=(
            ("auto", "Auto", "CUDA when the engine sees a GPU, else the CPU"),
            ("cuda", "CUDA", "NVIDIA GPU"),
            ("cpu", "CPU", "Slow, but always available"),
        ),
        default="auto",
    )

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "engine_mode", expand=True)
        if self.engine_mode == "LOCAL":
            layout.prop(self, "engine_python")
            row = layout.row()
            row.operator("procdream.setup_engine", icon="IMPORT")
            if not bpy.app.online_access:
                layout.label(text="Setting up downloads from PyPI: needs System > Network > Allow Online Access",
                             icon="INFO")
        else:
            layout.prop(self, "engine_url")
            layout.prop(self, "engine_token")
        layout.prop(self, "model_path")
        layout.prop(self, "device")
        layout.operator("procdream.check_engine", icon="CHECKMARK")


def get(context=None):
    """The add-on preferences, or None when the package was registered without the add-on
    system (``procdream.register()`` called directly from a script or test)."""
    context = context or bpy.context
    addon = context.preferences.addons.get(ROOT_PACKAGE)
    return addon.preferences if addon else None


CLASSES = (PROCDREAM_AP_preferences,)
