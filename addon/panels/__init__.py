"""Sidebar panels in the 3D viewport's "ProcDream" tab."""

from . import engine_panel

CLASSES = (engine_panel.PROCDREAM_PT_engine,)
