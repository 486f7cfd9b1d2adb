"""Every place where the Blender 4.2/4.5 and 5.0 APIs differ for rendering, in one module.

Facts checked on Blender 5.0.1 (see DESIGN.md): image settings have a ``media_type`` that
must be set before the file format; evaluated objects expose ``evaluated_geometry()`` (4.4+).
Pass names read back from the EXR go through :func:`find_pass` ("Object Index" was "IndexOB").
"""

from __future__ import annotations


def set_image_format(settings, file_format: str, color_depth: str, color_mode: str | None = None,
                     exr_codec: str | None = None) -> None:
    """Set an ImageFormatSettings to ``file_format`` (e.g. 'PNG', 'OPEN_EXR_MULTILAYER')."""
    if hasattr(settings, "media_type"):  # Blender 5.0+
        settings.media_type = "MULTI_LAYER_IMAGE" if file_format == "OPEN_EXR_MULTILAYER" else "IMAGE"
    settings.file_format = file_format
    settings.color_depth = color_depth
    if color_mode is not None:
        settings.color_mode = color_mode
    if exr_codec is not None:
        settings.exr_codec = exr_codec


def image_format(settings) -> dict:
    """The fields :func:`set_image_format` changes, to restore them afterwards."""
    return {"file_format": settings.file_format, "color_depth": settings.color_depth,
            "color_mode": settings.color_mode}


def top_level_instance_count(obj, depsgraph) -> int:
    """Number of top-level geometry-nodes instances in ``obj``'s evaluated geometry."""
    evaluated = obj.evaluated_get(depsgraph)
    if hasattr(evaluated, "evaluated_geometry"):  # Blender 4.4+
        geometry = evaluated.evaluated_geometry()  # keep it alive while its point cloud is read
        points = geometry.instances_pointcloud()
        return len(points.points) if points is not None else 0
    tops = {inst.persistent_id[0] for inst in depsgraph.object_instances
            if inst.is_instance and inst.parent is not None and inst.parent.original == obj}
    return len(tops)


#: Pass names in multilayer EXRs: Blender 5.0 first, then the names older releases wrote.
PASS_ALIASES = {
    "Object Index": ("Object Index", "IndexOB"),
    "Depth": ("Depth", "Z"),
}


def find_pass(passes: dict, layer: str, name: str):
    """``passes["<layer>.<name>"]`` under the 5.0 name or an older alias; KeyError names both."""
    for alias in PASS_ALIASES.get(name, (name,)):
        key = f"{layer}.{alias}"
        if key in passes:
            return passes[key]
    raise KeyError(f"render has no {name!r} pass on view layer {layer!r}; it has: {sorted(passes)}")
