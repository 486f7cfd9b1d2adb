"""Sidebar panels in the 3D viewport's "ProcDream" tab."""

from . import engine_panel, node_editor_panel

CLASSES = (engine_panel.PROCDREAM_PT_engine, node_editor_panel.PROCDREAM_PT_node_tools)
