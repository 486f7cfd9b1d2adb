"""Sidebar panels in the 3D viewport's "ProcDream" tab (and the node editor's)."""

from . import dataset_panel, engine_panel, node_editor_panel, paint_panel, scene_panel, sketch_panel

CLASSES = (
    engine_panel.PROCDREAM_PT_engine,
    paint_panel.PROCDREAM_PT_paint,
    sketch_panel.PROCDREAM_PT_sketch,
    scene_panel.PROCDREAM_PT_procgen,
    dataset_panel.PROCDREAM_PT_dataset,
    node_editor_panel.PROCDREAM_PT_node_tools,
)
