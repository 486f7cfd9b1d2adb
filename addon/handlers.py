"""App handlers: a running job is stopped when another .blend file is loaded (its objects go away)."""

from __future__ import annotations

import bpy

from . import tasks


@bpy.app.handlers.persistent
def procdream_load_pre(*_args):
    tasks.shutdown()


def register():
    if procdream_load_pre not in bpy.app.handlers.load_pre:
        bpy.app.handlers.load_pre.append(procdream_load_pre)


def unregister():
    while procdream_load_pre in bpy.app.handlers.load_pre:
        bpy.app.handlers.load_pre.remove(procdream_load_pre)
