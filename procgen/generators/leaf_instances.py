"""Instanced cards: a small card mesh (leaf, needle spray, blade) instanced on the points of
another object by a geometry-nodes modifier. Instances stay instances (never realised), so a
tree with thousands of leaves costs one card's memory.

Per-point rotation and scale live on the points as attributes :data:`ROTATION_ATTR`
(quaternion, w x y z) and :data:`SCALE_ATTR` (float, times the card's own size).
"""

from __future__ import annotations

import math

import bpy
import numpy as np

from ..nodes import NodeWrangler, node_group
from .mesh_utils import link

ROTATION_ATTR = "instance_rotation"
SCALE_ATTR = "instance_scale"
_PROTOTYPE_SOCKET = "Instance"


def euler_to_quaternion(euler: np.ndarray) -> np.ndarray:
    """(n, 4) unit quaternions (w, x, y, z) of (n, 3) XYZ Euler angles in radians, with
    Blender's convention (rotate about x, then y, then z; all world axes)."""
    half = np.asarray(euler, float) / 2.0
    cx, cy, cz = np.cos(half).T
    sx, sy, sz = np.sin(half).T
    return np.stack([cx * cy * cz + sx * sy * sz,
                     sx * cy * cz - cx * sy * sz,
                     cx * sy * cz + sx * cy * sz,
                     cx * cy * sz - sx * sy * cz], axis=1)


def card_prototype(name: str, length_m: float, width_m: float, fold_deg: float = 20.0,
                   collection: bpy.types.Collection | None = None) -> bpy.types.Object:
    """A card of two quads folded along its midrib: the midrib runs from the origin along +x
    for ``length_m``, the card is ``width_m`` wide in y, and its front faces +z. UVs map the
    card to the unit square (u along the midrib). Hidden from render: only instances render."""
    lift = 0.5 * width_m * math.tan(math.radians(fold_deg))  # the halves rise like a folded leaf
    w, n = 0.5 * width_m, length_m
    verts = [(0, 0, 0), (n, 0, 0), (0, -w, lift), (n, -w, lift), (0, w, lift), (n, w, lift)]
    faces = [(0, 2, 3, 1), (0, 1, 5, 4)]
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(verts, [], faces)
    uv = mesh.uv_layers.new(name="UVMap")
    loop_vert = np.empty(len(mesh.loops), np.int32)
    mesh.loops.foreach_get("vertex_index", loop_vert)
    co = np.array(verts, float)[loop_vert]
    uvs = np.stack([co[:, 0] / n, 0.5 + co[:, 1] / width_m], axis=1)
    uv.data.foreach_set("uv", uvs.astype(np.float32).ravel())
    mesh.update()
    obj = link(bpy.data.objects.new(name, mesh), collection)
    obj.hide_render = True
    return obj


@node_group("procdream_instance_cards", modifier=True)
def _instance_cards_group(nw: NodeWrangler) -> None:
    """Geometry in: points carrying ROTATION_ATTR/SCALE_ATTR; out: the prototype instanced on them."""
    points = nw.expose_input("Geometry", "NodeSocketGeometry")
    prototype = nw.expose_input(_PROTOTYPE_SOCKET, "NodeSocketObject")
    info = nw.new_node("GeometryNodeObjectInfo", input_kwargs={"Object": prototype})
    rotation = nw.new_node("GeometryNodeInputNamedAttribute", attrs={"data_type": "QUATERNION"},
                           input_kwargs={"Name": ROTATION_ATTR})
    scale = nw.new_node("GeometryNodeInputNamedAttribute", attrs={"data_type": "FLOAT"},
                        input_kwargs={"Name": SCALE_ATTR})
    instances = nw.new_node("instance_on_points", input_kwargs={
        "Points": points, "Instance": (info, "Geometry"),
        "Rotation": (rotation, "Attribute"), "Scale": (scale, "Attribute")})
    nw.new_node("NodeGroupOutput", input_kwargs={"Geometry": instances})


def point_instancer(name: str, positions: np.ndarray, rotations: np.ndarray, scales: np.ndarray,
                    prototype: bpy.types.Object, collection: bpy.types.Collection | None = None
                    ) -> bpy.types.Object:
    """An object whose vertices are ``positions`` (n, 3) m, with ``rotations`` (n, 4) quaternions
    and ``scales`` (n,) stored as point attributes, instancing ``prototype`` on each."""
    mesh = bpy.data.meshes.new(name)
    mesh.vertices.add(len(positions))
    mesh.vertices.foreach_set("co", np.asarray(positions, np.float32).ravel())
    mesh.attributes.new(ROTATION_ATTR, "QUATERNION", "POINT").data.foreach_set(
        "value", np.asarray(rotations, np.float32).ravel())
    mesh.attributes.new(SCALE_ATTR, "FLOAT", "POINT").data.foreach_set(
        "value", np.asarray(scales, np.float32))
    mesh.update()
    obj = link(bpy.data.objects.new(name, mesh), collection)
    mod = obj.modifiers.new("instance_cards", "NODES")
    mod.node_group = _instance_cards_group()
    socket = next(item for item in mod.node_group.interface.items_tree
                  if getattr(item, "in_out", None) == "INPUT" and item.name == _PROTOTYPE_SOCKET)
    mod[socket.identifier] = prototype
    return obj
