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

from ..procgen.nodes import NodeWrangler, node_group
from . import boxes, compat, labels

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
class InstanceBoxes:
    """Every id of one object: its own geometry (row 0) and each geometry-nodes instance.
    world_from_instance (n, 4, 4); box (n, 2, 3) in the instance's own frame and aabb (n, 2, 3)
    in the world, metres, at the first frame; NaN where an id renders nothing."""

    world_from_instance: np.ndarray
    box: np.ndarray
    aabb: np.ndarray


@dataclass
class InstanceTable:
    records: list[ObjectRecord] = field(default_factory=list)
    #: Per record (same order): the boxes of its ids.
    boxes: list[InstanceBoxes] = field(default_factory=list)

    def instance_arrays(self) -> dict[str, np.ndarray]:
        """Columns of the scene's instances.npz, one row per id 1..N in id order (see README)."""
        ids, objects, semantic, transforms, box, aabb = [], [], [], [], [], []
        for i, (r, b) in enumerate(zip(self.records, self.boxes, strict=True)):
            n = 1 + r.instances
            ids.append(np.arange(r.instance_id, r.instance_id + n, dtype=np.uint32))
            objects.append(np.full(n, i, np.int32))
            semantic.append(np.full(n, r.semantic_id, np.uint16))
            transforms.append(b.world_from_instance)
            box.append(b.box)
            aabb.append(b.aabb)
        if not ids:
            return {"instance_id": np.zeros(0, np.uint32), "object": np.zeros(0, np.int32),
                    "semantic_id": np.zeros(0, np.uint16), "world_from_instance": np.zeros((0, 4, 4), np.float32),
                    "box": np.zeros((0, 2, 3), np.float32), "aabb": np.zeros((0, 2, 3), np.float32)}
        return {"instance_id": np.concatenate(ids), "object": np.concatenate(objects),
                "semantic_id": np.concatenate(semantic),
                "world_from_instance": np.concatenate(transforms).astype(np.float32),
                "box": np.concatenate(box).astype(np.float32), "aabb": np.concatenate(aabb).astype(np.float32)}

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


def _own_box(obj, depsgraph) -> np.ndarray | None:
    """Local box of what ``obj`` renders itself (not its instances), grown by its materials'
    displacement; None when it renders no geometry of its own (a pure instancer)."""
    evaluated = obj.evaluated_get(depsgraph)
    data = getattr(evaluated, "data", None)
    if obj.type == "MESH" and (data is None or len(data.vertices) == 0):
        return None
    return boxes.grow(boxes.of_points([list(c) for c in evaluated.bound_box]), labels.max_displacement(obj))


def _object_boxes(obj, parts, count: int, depsgraph) -> InstanceBoxes:
    """The boxes of an object's ids: its own geometry and its parts' (row 0), then its instances."""
    nan = np.full((2, 3), np.nan)
    to_world = np.array(obj.matrix_world)
    own = boxes.union(boxes.transform(_own_box(o, depsgraph), o.matrix_world) for o in (obj, *parts))
    local = boxes.transform(own, np.linalg.inv(to_world))
    transforms = [to_world[None]]
    world = [(nan if own is None else own)[None]]
    box = [(nan if local is None else local)[None]]
    if count:
        t, w, b = compat.top_level_instance_boxes(obj, depsgraph)
        if len(t) != count:
            raise labels.LabelError(f"object {obj.name!r}: {len(t)} instance transforms for {count} instances")
        transforms.append(t)
        world.append(w)
        box.append(b)
        if own is None:
            # A pure instancer's own id still marks pixels of instances Cycles could not tell
            # apart (no instance AOV there), so its row covers everything the object renders.
            every = boxes.union(list(w[np.isfinite(w).all(axis=(1, 2))]))
            if every is not None:
                world[0] = every[None]
                box[0] = boxes.transform(every, np.linalg.inv(to_world))[None]
    return InstanceBoxes(np.concatenate(transforms), np.concatenate(box), np.concatenate(world))


def _record_aabb(boxes: InstanceBoxes) -> list[list[float]]:
    """World box (m) around everything an object renders: its geometry and all its instances."""
    finite = boxes.aabb[np.isfinite(boxes.aabb).all(axis=(1, 2))]
    if not len(finite):
        return [[0.0] * 3, [0.0] * 3]
    return [finite[:, 0].min(axis=0).round(6).tolist(), finite[:, 1].max(axis=0).round(6).tolist()]


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


def _opacity(tree):
    """The socket carrying a material's opacity (alpha-cut cards), or None when it is opaque:
    the Fac of the :data:`labels.ALPHA_NODE` mix, else a linked Principled BSDF Alpha."""
    mix = tree.nodes.get(labels.ALPHA_NODE)
    if mix is not None and mix.inputs["Fac"].is_linked:
        return mix.inputs["Fac"].links[0].from_socket
    for node in tree.nodes:
        if node.bl_idname == "ShaderNodeBsdfPrincipled" and node.inputs["Alpha"].is_linked:
            return node.inputs["Alpha"].links[0].from_socket
    return None


def _add_aov(material, alpha_threshold: float) -> None:
    """Add (once) an AOV output reading the instance attribute. Shading is unchanged.

    Cycles evaluates a camera ray's AOV at every hit until the data passes are written, which
    is at the first surface at least ``alpha_threshold`` opaque; AOV values add up. So a ray
    through the clear part of a leaf or grass card onto another instance summed both indices
    (measured: AOV 1351 on a 1025-leaf tree, a fifth of grass pixels with another clump's id).
    The value is therefore written only where the surface is opaque enough to stop the passes."""
    tree = compat.material_node_tree(material)
    if AOV_NODE in tree.nodes:
        return
    attr = tree.nodes.new("ShaderNodeAttribute")
    attr.name = attr.label = AOV_NODE + "_attribute"
    attr.attribute_type, attr.attribute_name = "INSTANCER", ATTRIBUTE
    aov = tree.nodes.new("ShaderNodeOutputAOV")
    aov.name = aov.label = AOV_NODE
    aov.aov_name = AOV_NAME
    value = attr.outputs["Fac"]
    opacity = _opacity(tree)
    if opacity is not None:
        # Cycles writes the passes where alpha >= threshold; the float compare must agree.
        opaque = tree.nodes.new("ShaderNodeMath")
        opaque.operation = "GREATER_THAN"
        opaque.name = opaque.label = AOV_NODE + "_opaque"
        tree.links.new(opacity, opaque.inputs[0])
        opaque.inputs[1].default_value = alpha_threshold - 1e-6
        gated = tree.nodes.new("ShaderNodeMath")
        gated.operation = "MULTIPLY"
        gated.name = gated.label = AOV_NODE + "_gated"
        tree.links.new(value, gated.inputs[0])
        tree.links.new(opaque.outputs[0], gated.inputs[1])
        value = gated.outputs[0]
    tree.links.new(value, aov.inputs["Value"])


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
    visible = [o for o in scene.objects if o.type in RENDERABLE and not o.hide_render and not labels.is_atmosphere(o)]
    names = {o.name for o in visible}
    # Parts of a visible whole share its ordinal and record; a part whose whole is hidden is its own.
    parts = [o for o in visible if labels.part_of(o) is not None and labels.part_of(o).name in names]
    objs = sorted((o for o in visible if o not in parts), key=lambda o: o.name)
    if len(objs) > MAX_OBJECTS:
        raise labels.LabelError(f"{len(objs)} renderable objects; the Object Index pass carries at most "
                                f"{MAX_OBJECTS} (use geometry-nodes instances for more)")
    depsgraph = bpy.context.evaluated_depsgraph_get()
    table = InstanceTable()
    next_id = 1
    counts = _instance_counts(objs + parts, depsgraph)
    for part in parts:
        if counts[part.name]:
            raise labels.LabelError(f"object {part.name!r} is part of {labels.part_of(part).name!r} but has "
                                    f"geometry-nodes instances, which would need ids of their own")
    parts_of: dict[str, list] = {}
    for part in parts:
        parts_of.setdefault(labels.part_of(part).name, []).append(part)
    for obj in objs:
        if counts[obj.name] > MAX_INSTANCES_PER_OBJECT:
            raise labels.LabelError(f"object {obj.name!r} has {counts[obj.name]} instances; at most "
                                    f"{MAX_INSTANCES_PER_OBJECT} can be told apart")
    # Boxes first: tagging an instancer below changes its modifiers, and the evaluated geometry
    # read here would then no longer be evaluated.
    id_boxes = [_object_boxes(obj, parts_of.get(obj.name, ()), counts[obj.name], depsgraph) for obj in objs]
    for ordinal, (obj, ids) in enumerate(zip(objs, id_boxes, strict=True), start=1):
        category = labels.category_of(obj)
        count = counts[obj.name]
        obj.pass_index = ordinal
        for part in parts_of.get(obj.name, ()):
            part.pass_index = ordinal
        if count:
            _tag_instancer(obj)
        table.records.append(ObjectRecord(next_id, obj.name, category, labels.CATEGORIES[category],
                                          labels.is_static(obj), _record_aabb(ids), count))
        table.boxes.append(ids)
        next_id += 1 + count
    for obj in scene.objects:
        if obj.type in RENDERABLE and (obj.hide_render or labels.is_atmosphere(obj)):
            obj.pass_index = 0  # a stale ordinal could collide
    _number_prototypes(depsgraph, {o.name: i for i, o in enumerate(objs, start=1)},
                       {r.name for r in table.records if r.instances})
    if any(r.instances for r in table.records):
        threshold = scene.view_layers[0].pass_alpha_threshold
        for material in bpy.data.materials:
            if material.users:
                _add_aov(material, threshold)
    return table
