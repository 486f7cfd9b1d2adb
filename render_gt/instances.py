"""Instance ids for the Object Index pass, including geometry-nodes instances.

Every visible renderable object gets an *ordinal* (1-based, in name order) written to
``pass_index``; Cycles gives a geometry-nodes instance its instancer's pass index. To tell
instances apart, a small geometry-nodes modifier appended to each instancer stores
``index + 1`` on its top-level instances, and every material in the scene gets an AOV output
that reads it back (0 when the surface is not an instance). The dataset id of a pixel is then

    instance_id = base[ordinal] + aov

where an object's own geometry has id ``base`` and its k-th instance ``base + 1 + k``. Ids are
contiguous and recorded per object in scene.json (``instance_id``, ``instances``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import bpy
import numpy as np
from mathutils import Vector

from ..procgen.nodes import NodeWrangler, node_group
from . import compat, labels

#: ``Object.pass_index`` is a short: at most this many objects (instances are not limited).
MAX_OBJECTS = 32767
#: The AOV carries index + 1 as float32, exact up to 2**24.
MAX_INSTANCES_PER_OBJECT = 2**24 - 1

AOV_NAME = "procdream_instance"
ATTRIBUTE = "procdream_instance"
TAG_GROUP = "procdream_instance_tag"
TAG_MODIFIER = "procdream_instance_tag"
AOV_NODE = "procdream_instance_aov"

RENDERABLE = {"MESH", "CURVE", "SURFACE", "META", "FONT", "CURVES", "POINTCLOUD", "VOLUME"}


@dataclass
class ObjectRecord:
    """One row of scene.json's objects table. aabb: world-space metres at the first frame."""

    instance_id: int
    name: str
    category: str
    semantic_id: int
    static: bool
    aabb: list[list[float]]
    #: Number of geometry-nodes instances; their ids are instance_id + 1 .. instance_id + n.
    instances: int = 0

    def to_json(self) -> dict:
        out = dict(self.__dict__)
        if self.instances:
            out["instance_ids"] = [self.instance_id + 1, self.instance_id + self.instances]
        return out


@dataclass
class InstanceTable:
    records: list[ObjectRecord] = field(default_factory=list)

    def base_of_ordinal(self) -> np.ndarray:
        """uint32 array: pass index (ordinal) -> the object's base instance id; 0 -> 0."""
        return np.array([0] + [r.instance_id for r in self.records], dtype=np.uint32)

    def instance_counts(self) -> np.ndarray:
        return np.array([0] + [r.instances for r in self.records], dtype=np.int64)

    def semantic_lut(self) -> np.ndarray:
        """uint16 array: instance id -> semantic id (0 = background)."""
        total = self.records[-1].instance_id + self.records[-1].instances if self.records else 0
        lut = np.zeros(total + 1, dtype=np.uint16)
        for r in self.records:
            lut[r.instance_id:r.instance_id + r.instances + 1] = r.semantic_id
        return lut


def _world_aabb(obj) -> list[list[float]]:
    corners = np.array([obj.matrix_world @ Vector(c) for c in obj.bound_box])
    return [corners.min(axis=0).round(6).tolist(), corners.max(axis=0).round(6).tolist()]


def _instance_counts(objs, depsgraph) -> dict[str, int]:
    """Top-level instances per object name (0 for objects without geometry nodes)."""
    hosts = [o for o in objs if any(m.type == "NODES" and m.show_render for m in o.modifiers)]
    return {o.name: 0 for o in objs} | compat.top_level_instance_counts(hosts, depsgraph)


@node_group(TAG_GROUP, modifier=True)
def _tag_group(nw: NodeWrangler) -> None:
    """Geometry nodes: store index + 1 on the instance domain as ``procdream_instance``."""
    store = nw.new_node("store_attribute", attrs={"data_type": "FLOAT", "domain": "INSTANCE"},
                        input_kwargs={"Geometry": nw.new_node("group_input"), "Name": ATTRIBUTE,
                                      "Value": nw.math("ADD", nw.new_node("index"), 1.0)})
    nw.connect(store, nw.new_node("group_output").inputs[0])


def _tag_instancer(obj) -> None:
    mod = obj.modifiers.get(TAG_MODIFIER)
    if mod is None:
        mod = obj.modifiers.new(TAG_MODIFIER, "NODES")
    mod.node_group = _tag_group()
    # Last in the stack, so it numbers the final top-level instances.
    if obj.modifiers[-1] != mod:
        obj.modifiers.move(list(obj.modifiers).index(mod), len(obj.modifiers) - 1)


def _add_aov(material) -> None:
    """Add (once) an AOV output reading the instance attribute. Shading is unchanged."""
    tree = compat.material_node_tree(material)
    if AOV_NODE in tree.nodes:
        return
    attr = tree.nodes.new("ShaderNodeAttribute")
    attr.name = attr.label = AOV_NODE + "_attribute"
    attr.attribute_type, attr.attribute_name = "INSTANCER", ATTRIBUTE
    aov = tree.nodes.new("ShaderNodeOutputAOV")
    aov.name = aov.label = AOV_NODE
    aov.aov_name = AOV_NAME
    tree.links.new(attr.outputs["Fac"], aov.inputs["Value"])


def _number_prototypes(depsgraph, ordinals: dict[str, int], instancers: set[str]) -> None:
    """Object instances (Collection Info, instanced objects) carry their *prototype's* pass
    index in Cycles, not the instancer's: give each prototype its instancer's ordinal.

    A visible object that is also instanced keeps its own ordinal; a prototype instanced by
    two objects takes the first (in name order).
    """
    if not instancers:
        return
    owner: dict[str, int] = {}
    for host, inst in compat.hosted_instances(depsgraph, instancers):
        proto = inst.object.original
        if proto.name in ordinals or proto.name in owner:
            continue
        owner[proto.name] = ordinals[host]
        proto.pass_index = ordinals[host]


def set_aov_pass(view_layer, enabled: bool) -> None:
    """Add or remove the instance AOV pass on the ground-truth view layer."""
    aov = view_layer.aovs.get(AOV_NAME)
    if enabled and aov is None:
        aov = view_layer.aovs.add()
        aov.name, aov.type = AOV_NAME, "VALUE"
    elif not enabled and aov is not None:
        view_layer.aovs.remove(aov)


def assign_instances(scene) -> InstanceTable:
    """Number every visible renderable object of ``scene`` and prepare instance tagging.

    Writes ordinals to ``pass_index``, appends the tag modifier to geometry-nodes instancers,
    adds the AOV node to the scene's materials, and returns the table. Ids follow sorted object
    names, so they do not depend on creation order.
    """
    # Atmosphere (haze) is hidden from the ground-truth render and has no id.
    objs = sorted((o for o in scene.objects
                   if o.type in RENDERABLE and not o.hide_render and not labels.is_atmosphere(o)),
                  key=lambda o: o.name)
    if len(objs) > MAX_OBJECTS:
        raise labels.LabelError(f"{len(objs)} renderable objects; the Object Index pass carries at most "
                                f"{MAX_OBJECTS} (use geometry-nodes instances for more)")
    depsgraph = bpy.context.evaluated_depsgraph_get()
    table = InstanceTable()
    next_id = 1
    counts = _instance_counts(objs, depsgraph)
    for ordinal, obj in enumerate(objs, start=1):
        category = labels.category_of(obj)
        count = counts[obj.name]
        if count > MAX_INSTANCES_PER_OBJECT:
            raise labels.LabelError(f"object {obj.name!r} has {count} instances; at most "
                                    f"{MAX_INSTANCES_PER_OBJECT} can be told apart")
        obj.pass_index = ordinal
        if count:
            _tag_instancer(obj)
        table.records.append(ObjectRecord(next_id, obj.name, category, labels.CATEGORIES[category],
                                          labels.is_static(obj), _world_aabb(obj), count))
        next_id += 1 + count
    for obj in scene.objects:
        if obj.type in RENDERABLE and (obj.hide_render or labels.is_atmosphere(obj)):
            obj.pass_index = 0  # a stale ordinal could collide
    _number_prototypes(depsgraph, {o.name: i for i, o in enumerate(objs, start=1)},
                       {r.name for r in table.records if r.instances})
    if any(r.instances for r in table.records):
        for material in bpy.data.materials:
            if material.users:
                _add_aov(material)
    return table
