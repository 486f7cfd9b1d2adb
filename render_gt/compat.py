"""Every place where the Blender 4.2/4.5 and 5.0 APIs differ for rendering, in one module.

Facts checked on 5.0.1, 4.5.15 and 4.2.23 (tests/test_versions.py and the compat-marked tests run
on each): image settings have a ``media_type`` that must be set before the file format (5.0);
evaluated objects expose ``evaluated_geometry()`` (4.4+; before, instances come from the
depsgraph); 4.x materials may have no nodes; 4.x Cycles loses motion when the Vector pass is
switched on mid-session. Pass names read back from the EXR go through :func:`find_pass`
("Object Index" was "IndexOB").
"""

from __future__ import annotations

import bpy
import numpy as np

from ..procgen.compat import node_tree
from . import boxes, labels


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


def top_level_instance_counts(objects, depsgraph) -> dict[str, int]:
    """Number of top-level geometry-nodes instances in each object's evaluated geometry, by name."""
    if hasattr(bpy.types.Object, "evaluated_geometry"):  # Blender 4.4+
        out = {}
        for obj in objects:
            geometry = obj.evaluated_get(depsgraph).evaluated_geometry()  # alive while its points are read
            points = geometry.instances_pointcloud()
            out[obj.name] = len(points.points) if points is not None else 0
        return out
    wanted = {obj.name for obj in objects}
    tops: dict[str, set] = {name: set() for name in wanted}
    # One pass over the depsgraph for all objects: it lists every instance of the scene.
    for host, path, _ in _instance_paths(depsgraph, wanted):
        tops[host].add(path[-1])
    return {name: len(paths) for name, paths in tops.items()}


def top_level_instance_count(obj, depsgraph) -> int:
    """Number of top-level geometry-nodes instances in ``obj``'s evaluated geometry."""
    return top_level_instance_counts([obj], depsgraph)[obj.name]


def hosted_instances(depsgraph, hosts: set[str]):
    """(host name, depsgraph instance) for every instance that one of the named objects makes."""
    for inst in depsgraph.object_instances:
        if not inst.is_instance or inst.parent is None:
            continue
        host = inst.parent.original.name
        if host in hosts:
            yield host, inst


def _instance_paths(depsgraph, hosts: set[str]):
    """(host name, instance path, world matrix) of every instance the named objects make, from the
    depsgraph (Blender < 4.4), in the depsgraph's order. ``persistent_id`` lists the instance's
    nesting levels innermost first, each the instance's ``id`` attribute or else its index, padded
    with INT_MAX (checked on 4.2.23: ``(k, INT_MAX...)`` for an object instanced on point k,
    ``(0, k, INT_MAX...)`` when the instance is a geometry set holding one mesh), so the top-level
    instance is the last entry before the padding. An empty path is a part of the object's own
    geometry that Blender draws as an instance, not an instance."""
    for host, inst in hosted_instances(depsgraph, hosts):
        path = []
        for v in tuple(inst.persistent_id):
            if v == 2**31 - 1:
                break
            path.append(v)
        if path:
            yield host, tuple(path), inst.matrix_world.copy()


def top_level_instance_transforms(obj, depsgraph) -> list[list[list[float]]]:
    """Object-space 4x4 transform of each top-level instance of ``obj``, in instance order (see
    :func:`top_level_instance_boxes` for how each Blender release is read)."""
    world, _, _ = top_level_instance_boxes(obj, depsgraph)
    inverse = np.linalg.inv(np.array(obj.matrix_world))
    return [(inverse @ m).tolist() for m in world]


def _positions(component) -> np.ndarray:
    if component is None or "position" not in component.attributes:
        return np.zeros((0, 3))
    data = component.attributes["position"].data
    out = np.empty(len(data) * 3, np.float32)
    data.foreach_get("vector", out)
    return out.reshape(-1, 3)


def _reference_box(ref) -> np.ndarray | None:
    """Local (2, 3) box of a geometry-nodes instance reference (Blender 4.4+): an object, a
    collection (its objects, relative to its instance offset) or a geometry set (its points,
    nested instances included)."""
    if isinstance(ref, bpy.types.Object):
        return boxes.grow(boxes.of_points([list(c) for c in ref.bound_box]), labels.max_displacement(ref))
    if isinstance(ref, bpy.types.Collection):
        offset = np.array(ref.instance_offset)
        return boxes.union(boxes.transform(boxes.of_points([list(c) for c in o.bound_box]), o.matrix_world) - offset
                           for o in ref.all_objects if o.type in {"MESH", "CURVE", "CURVES", "POINTCLOUD", "VOLUME"})
    parts = [boxes.of_points(_positions(getattr(ref, name, None))) for name in ("mesh", "pointcloud", "curves")]
    nested = ref.instances_pointcloud()
    if nested is not None:
        parts += [t[1] for t in _instances_of_geometry(ref, nested)]
    return boxes.union(parts)


def _instances_of_geometry(geometry, points):
    """(object-space 4x4, world-or-local box in the geometry's space) of each top-level instance."""
    refs = [_reference_box(r) for r in geometry.instance_references()]
    n = len(points.points)
    index = np.zeros(n, np.int32)
    if ".reference_index" in points.attributes:
        points.attributes[".reference_index"].data.foreach_get("value", index)
    matrices = np.empty(n * 16, np.float32)
    points.attributes["instance_transform"].data.foreach_get("value", matrices)
    # Flattened column by column (mathutils' memory order): transpose to rows.
    matrices = matrices.reshape(n, 4, 4).transpose(0, 2, 1)
    out = []
    for m, k in zip(matrices, index, strict=True):
        local = refs[k] if 0 <= k < len(refs) else None
        out.append((m, boxes.transform(local, m), local))
    return out


def top_level_instance_boxes(obj, depsgraph) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each top-level geometry-nodes instance of ``obj``, in instance order: its world
    transform (n, 4, 4), its world-space box (n, 2, 3) and its box in its own frame (n, 2, 3),
    metres. A box of an instance without geometry is NaN.

    Blender 4.4+ reads the evaluated geometry (transforms and references: exact); older releases
    read the depsgraph's rendered instances, whose leaves are unioned per top-level instance."""
    evaluated = obj.evaluated_get(depsgraph)
    to_world = np.array(obj.matrix_world)
    if hasattr(evaluated, "evaluated_geometry"):
        geometry = evaluated.evaluated_geometry()
        points = geometry.instances_pointcloud()
        rows = [] if points is None else _instances_of_geometry(geometry, points)
        transforms = [to_world @ m for m, _, _ in rows]
        worlds = [boxes.transform(w, to_world) for _, w, _ in rows]
        locals_ = [loc for _, _, loc in rows]
    else:
        transforms, worlds, locals_ = _depsgraph_instance_boxes(obj, depsgraph)
    nan = np.full((2, 3), np.nan)
    return (np.array(transforms, float).reshape(-1, 4, 4),
            np.array([nan if w is None else w for w in worlds], float).reshape(-1, 2, 3),
            np.array([nan if b is None else b for b in locals_], float).reshape(-1, 2, 3))


def _depsgraph_instance_boxes(obj, depsgraph):
    """Blender < 4.4: per top-level instance (first-seen order of its path), the first leaf's
    world matrix, and the boxes of all its leaves (world, and in that leaf's frame)."""
    first: dict[int, np.ndarray] = {}
    leaves: dict[int, list] = {}
    for _, inst in hosted_instances(depsgraph, {obj.name}):
        path = [v for v in tuple(inst.persistent_id) if v != 2**31 - 1]
        if not path:
            continue
        top = path[-1]
        matrix = np.array(inst.matrix_world)
        first.setdefault(top, matrix)
        local = boxes.grow(boxes.of_points([list(c) for c in inst.object.bound_box]),
                           labels.max_displacement(inst.object))
        leaves.setdefault(top, []).append(boxes.transform(local, matrix))
    transforms, worlds, locals_ = [], [], []
    for top, matrix in first.items():
        world = boxes.union(leaves[top])
        transforms.append(matrix)
        worlds.append(world)
        locals_.append(boxes.transform(world, np.linalg.inv(matrix)))
    return transforms, worlds, locals_


def material_node_tree(material):
    """``material``'s node tree, made if it has none (Blender < 5.0 lets materials render without
    nodes) so that an AOV output can be added. Cycles renders a node-less material as a Principled
    BSDF of its viewport colour, metallic and roughness, so those are copied to keep its look."""
    if material.node_tree is not None:
        return material.node_tree
    node_tree(material)
    bsdf = next((n for n in material.node_tree.nodes if n.bl_idname == "ShaderNodeBsdfPrincipled"), None)
    if bsdf is not None:
        bsdf.inputs["Base Color"].default_value = tuple(material.diffuse_color)
        bsdf.inputs["Metallic"].default_value = material.metallic
        bsdf.inputs["Roughness"].default_value = material.roughness
    return material.node_tree


def data_passes_toggle_safely() -> bool:
    """Whether the Vector pass may be off for the RGB render and on for the ground-truth render
    of the same persistent-data session.

    Cycles before 5.0 syncs object and camera motion only when the Vector pass is on at sync
    time; switching it on afterwards leaves the motion unsynced, and the pass then holds raw
    raster positions instead of motion (measured on 4.2.23: forward flow (-x, +y) of the pixel
    itself). There the data passes stay on for the RGB render too.
    """
    return bpy.app.version >= (5, 0, 0)


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
