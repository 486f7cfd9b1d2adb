"""Blender UI for ProcDream: preferences, properties, operators and panels.

Registration goes through one ordered class list, and every property this add-on adds to a
Blender type is removed again in :func:`unregister`, so disabling leaves nothing behind: the running
job, its timer, child processes and the engine are stopped first (``operators.shutdown()``).
"""

import bpy

from . import handlers, operators, panels, preferences, properties

CLASSES = (
    *preferences.CLASSES,
    *properties.CLASSES,
    *operators.CLASSES,
    *panels.CLASSES,
)


def register():
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    properties.attach()
    handlers.register()


def unregister():
    operators.shutdown()
    handlers.unregister()
    properties.detach()
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
