"""Instanced cards: a small card mesh (leaf, needle spray, blade) instanced on the points of
another object by a geometry-nodes modifier. Instances stay instances (never realised), so a
tree with thousands of leaves costs one card's memory.

Per-point rotation and scale live on the points as attributes :data:`ROTATION_ATTR`
(quaternion, w x y z) and :data:`SCALE_ATTR` (float, times the card's own size).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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
    card to the unit square the way leaf materials draw on it (materials/leaf_card.py): U across
    (0.5 on the midrib), V from stem (0) to tip (1). Hidden from render: only instances render."""
    lift = 0.5 * width_m * math.tan(math.radians(fold_deg))  # the halves rise like a folded leaf
    w, n = 0.5 * width_m, length_m
    verts = [(0, 0, 0), (n, 0, 0), (0, -w, lift), (n, -w, lift), (0, w, lift), (n, w, lift)]
    faces = [(0, 2, 3, 1), (0, 1, 5, 4)]
    return _leaf_object(name, verts, faces, length_m, width_m, False, collection)


def _leaf_object(name, verts, faces, length_m: float, width_m: float, smooth: bool, collection):
    """A hidden prototype mesh in the leaf frame (midrib along +x, width in y) with leaf-material
    UVs: U = 0.5 + y / width across, V = x / length from stem to tip."""
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(verts, [], faces)
    uv = mesh.uv_layers.new(name="UVMap")
    loop_vert = np.empty(len(mesh.loops), np.int32)
    mesh.loops.foreach_get("vertex_index", loop_vert)
    co = np.array(verts, float)[loop_vert]
    uvs = np.stack([0.5 + co[:, 1] / width_m, co[:, 0] / length_m], axis=1)
    uv.data.foreach_set("uv", uvs.astype(np.float32).ravel())
    mesh.polygons.foreach_set("use_smooth", np.full(len(mesh.polygons), smooth))
    mesh.update()
    obj = link(bpy.data.objects.new(name, mesh), collection)
    obj.hide_render = True
    return obj


@dataclass(frozen=True)
class LeafOutline:
    """A blade's outline in card UVs, as leaf materials draw it (materials.surface_params.LeafShape):
    half-width ``width`` (UV) at the widest point, ``base_taper``/``tip_taper`` the exponents of
    v**base_taper * (1 - v)**tip_taper; ``edge_softness`` the UV width of the material's alpha edge."""

    width: float = 0.35
    base_taper: float = 0.8
    tip_taper: float = 1.0
    edge_softness: float = 0.01


#: Rows of vertices along a mesh leaf, stem to tip.
MESH_LEAF_ROWS = 8


def leaf_mesh_prototype(name: str, length_m: float, width_m: float, outline: LeafOutline = LeafOutline(),
                        fold_deg: float = 25.0, droop: float = 0.15,
                        collection: bpy.types.Collection | None = None) -> bpy.types.Object:
    """A leaf modelled in 3-D, for leaves near the camera: its outline is ``outline`` (so the leaf
    material's alpha is 1 on all of it and the silhouette is geometry, not a cut-out), the halves
    rise from the midrib by ``fold_deg`` and the blade arches down towards the tip by ``droop`` x
    its length. Same frame and UVs as :func:`card_prototype` (midrib along +x from the origin,
    front +z, U across, V stem to tip). Hidden from render: only instances render."""
    a, b = outline.base_taper, outline.tip_taper
    peak = (a / (a + b)) ** a * (b / (a + b)) ** b
    v = np.linspace(0.0, 1.0, MESH_LEAF_ROWS + 1)[1:-1]
    half_uv = outline.width / peak * v ** a * (1.0 - v) ** b
    half_uv = np.maximum(half_uv - outline.edge_softness, 0.6 * half_uv)  # inside the alpha edge
    lift = math.tan(math.radians(fold_deg))

    def point(vv, y):
        return (vv * length_m, y, abs(y) * lift - droop * length_m * vv ** 2)

    verts = [point(0.0, 0.0)]  # the stem end
    for vv, h in zip(v, half_uv * width_m, strict=True):
        verts += [point(vv, -h), point(vv, 0.0), point(vv, h)]
    verts.append(point(1.0, 0.0))  # the tip
    tip = len(verts) - 1
    faces = [(0, 1, 2), (0, 2, 3)]
    for i in range(len(v) - 1):
        r, s = 1 + 3 * i, 4 + 3 * i  # first vertex of this row and the next
        faces += [(r, s, s + 1, r + 1), (r + 1, s + 1, s + 2, r + 2)]
    last = 1 + 3 * (len(v) - 1)
    faces += [(last, tip, last + 1), (last + 1, tip, last + 2)]
    return _leaf_object(name, verts, faces, length_m, width_m, True, collection)


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
