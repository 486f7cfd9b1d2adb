"""ProcDream: a Blender extension and a procedural data generator.

This folder is both the Blender extension root and the Python package ``procdream``.
Inside Blender it imports as ``bl_ext.<repo>.procdream``; outside as ``procdream``. Nothing
here imports ``bpy`` at module level, because the engine process (``gen3d``) imports this
package too and must never load Blender.
"""

__version__ = "0.1.0"


def register():
    from . import addon

    addon.register()


def unregister():
    from . import addon

    addon.unregister()
