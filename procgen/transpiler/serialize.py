"""Node tree -> a plain description (dicts, lists, Python literals) of everything that defines it.

The description holds, per node: type, name, label, layout, every writable property that
differs from a fresh node of the same type (read through RNA, so new node types need no
code), dynamic socket items, zone pairing and every unlinked input value that differs from
the default. Plus links (multi-input order kept), the group interface and tree properties.
The emitter turns it into Python; the round-trip tests compare two descriptions.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

import bpy

#: Node properties handled explicitly, or that are UI state / derived data, not structure.
SKIP_NODE_PROPS = {
    "rna_type", "type", "name", "location", "location_absolute", "dimensions", "select", "parent",
    "inputs", "outputs", "internal_links", "node_tree", "paired_output", "active_item",
    "active_index", "active_input_index", "active_output_index", "active_generation_index",
    "active_main_index", "width_hidden", "height",
    # Blender keeps this per-image-user frame counter in sync by itself.
    "frame_current",
    # Menu Switch: a deprecated alias that points back at the node (its enum_items are kept).
    "enum_definition",
}
LAYOUT_PROPS = ("label", "width", "hide", "mute", "use_custom_color", "color", "show_options",
                "show_preview", "show_texture", "warning_propagation")
SKIP_STRUCT_PROPS = {"rna_type", "frame_current"}
SKIP_TREE_PROPS = {"rna_type", "name", "name_full", "bl_idname", "bl_label", "bl_description", "bl_icon",
                   "bl_use_group_interface", "type", "nodes", "links", "interface", "animation_data",
                   "grease_pencil", "view_center", "annotation", "is_embedded_data", "is_missing",
                   "is_runtime_data", "library", "library_weak_reference", "override_library", "original",
                   "preview", "session_uid", "tag", "use_fake_user", "use_extra_user", "users",
                   "is_evaluated", "is_editable", "is_library_indirect", "asset_data", "id_type",
                   "use_autopack", "is_linked_packed", "filepath"}
SKIP_ITEM_PROPS = {"rna_type", "color", "identifier"}
SKIP_INTERFACE_PROPS = {"rna_type", "item_type", "identifier", "index", "position", "parent", "in_out",
                        "socket_type", "name", "bl_socket_idname", "bl_label", "bl_description",
                        "interface_items", "color", "is_inactive"}
ID_COLLECTIONS = {
    "Image": "images", "Object": "objects", "Material": "materials", "Collection": "collections",
    "Texture": "textures", "Text": "texts", "NodeTree": "node_groups", "VectorFont": "fonts",
    "Scene": "scenes", "Mask": "masks", "MovieClip": "movieclips", "World": "worlds", "Mesh": "meshes",
    "ParticleSettings": "particles", "Light": "lights", "Camera": "cameras",
}


class TranspileError(ValueError):
    pass


@dataclass(frozen=True)
class IdRef:
    """A datablock referenced by name (``collection`` is the bpy.data attribute)."""

    collection: str
    name: str


@dataclass
class NodeDesc:
    type: str
    name: str
    parent: str | None = None
    location: tuple[float, float] = (0.0, 0.0)
    #: Blender 5.0 stores a framed node's position absolute and derives ``location`` from its
    #: frames' in float32, so only the absolute one sets it back exactly (None: not in a frame).
    location_absolute: tuple[float, float] | None = None
    layout: dict = field(default_factory=dict)
    props: dict = field(default_factory=dict)
    items: dict = field(default_factory=dict)
    node_tree: str | None = None
    pair_with: str | None = None
    inputs: dict = field(default_factory=dict)
    outputs: dict = field(default_factory=dict)
    #: socket properties other than the value (hide, hide_value, ...), by side and socket index
    sockets: dict = field(default_factory=dict)


@dataclass
class TreeDesc:
    name: str
    type: str
    props: dict = field(default_factory=dict)
    interface: list = field(default_factory=list)
    nodes: list = field(default_factory=list)
    links: list = field(default_factory=list)
    #: names of node groups this tree uses, in the order first met
    groups: list = field(default_factory=list)


def _id_type_name(cls) -> str | None:
    for base in cls.__mro__ if isinstance(cls, type) else ():
        if base.__name__ in ID_COLLECTIONS:
            return base.__name__
    return None


def value_of(prop, value):
    """An RNA value as a Python literal, an IdRef, or (for structs) a dict."""
    if prop.type == "POINTER":
        if value is None:
            return None
        if isinstance(value, bpy.types.ID):
            kind = _id_type_name(type(value))
            if kind is None:
                raise TranspileError(f"cannot reference a {type(value).__name__} datablock ({value.name!r})")
            return IdRef(ID_COLLECTIONS[kind], value.name)
        return struct_dict(value)
    if prop.type == "ENUM":
        return sorted(value) if prop.is_enum_flag else value
    if prop.type in ("BOOLEAN", "INT", "FLOAT") and getattr(prop, "is_array", False):
        return _flatten(value)
    return value


def _flatten(value):
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    try:
        items = list(value)
    except TypeError:
        return value
    return tuple(_flatten(v) for v in items)


def struct_dict(struct, depth: int = 0) -> dict:
    """Writable contents of a non-ID struct (image_user, color_ramp, curve mapping, ...)."""
    if depth > 4:
        raise TranspileError(f"{type(struct).__name__} nests deeper than the transpiler follows")
    kind = type(struct).__name__
    if kind == "ColorRamp":
        return {"color_mode": struct.color_mode, "interpolation": struct.interpolation,
                "hue_interpolation": struct.hue_interpolation,
                "elements": [(e.position, tuple(e.color)) for e in struct.elements]}
    if kind == "CurveMapping":
        out = {p.identifier: value_of(p, getattr(struct, p.identifier)) for p in struct.bl_rna.properties
               if not p.is_readonly and p.identifier not in SKIP_STRUCT_PROPS}
        out["curves"] = [[(pt.location[0], pt.location[1], pt.handle_type) for pt in c.points]
                         for c in struct.curves]
        return out
    out = {}
    for p in struct.bl_rna.properties:
        if p.identifier in SKIP_STRUCT_PROPS or p.type == "COLLECTION":
            continue
        value = getattr(struct, p.identifier)
        if p.is_readonly:
            if p.type == "POINTER" and value is not None and not isinstance(value, (bpy.types.ID, bpy.types.Node)):
                out[p.identifier] = struct_dict(value, depth + 1)
            continue
        out[p.identifier] = value_of(p, value)
    return out


def _item_collections(node) -> list[str]:
    out = []
    for p in node.bl_rna.properties:
        if p.type == "COLLECTION" and p.identifier not in ("inputs", "outputs", "internal_links"):
            rna = getattr(getattr(node, p.identifier), "bl_rna", None)
            if rna is not None and "new" in rna.functions:
                out.append(p.identifier)
    return out


def items_of(node, probe_tree=None) -> dict:
    """Dynamic socket items per collection, each item a dict of its writable properties and the
    identifier of its socket (``SOCKET_ID_KEY``; see ``nodes.set_items``)."""
    from ..nodes.node_wrangler import SOCKET_ID_KEY, item_socket_ids

    out = {}
    for coll_name in _item_collections(node):
        coll = getattr(node, coll_name)
        params = {p.identifier for p in coll.bl_rna.functions["new"].parameters}
        ids = item_socket_ids(node, coll_name, probe_tree) if len(coll) else []
        specs = []
        for i, item in enumerate(coll):
            spec = {}
            for p in item.bl_rna.properties:
                if p.identifier in SKIP_ITEM_PROPS:
                    continue
                if p.is_readonly and p.identifier not in params:
                    continue
                spec[p.identifier] = value_of(p, getattr(item, p.identifier))
            if len(ids) == len(coll):
                spec[SOCKET_ID_KEY] = ids[i]
            specs.append(spec)
        out[coll_name] = specs
    return out


def _socket_value(socket):
    if not hasattr(socket, "default_value"):
        return None
    prop = socket.bl_rna.properties["default_value"]
    if prop.type == "ENUM" and socket.default_value == "":
        return None  # a menu socket whose items come from a link: nothing to set
    return value_of(prop, socket.default_value)


class _Scratch:
    """Fresh nodes per (tree type, node type) to read defaults from."""

    def __init__(self):
        self.trees: dict[str, bpy.types.NodeTree] = {}

    def tree(self, tree_type: str):
        tree = self.trees.get(tree_type)
        if tree is None:
            tree = bpy.data.node_groups.new(".procdream_transpiler_scratch", tree_type)
            self.trees[tree_type] = tree
        return tree

    def close(self):
        for tree in self.trees.values():
            bpy.data.node_groups.remove(tree)
        self.trees.clear()


def _props(node, fresh) -> dict:
    out = {}
    for p in node.bl_rna.properties:
        ident = p.identifier
        if ident in SKIP_NODE_PROPS or ident in LAYOUT_PROPS or ident.startswith("bl_"):
            continue
        if p.type == "COLLECTION":
            continue
        value = getattr(node, ident)
        if p.is_readonly:
            if p.type == "POINTER" and value is not None and not isinstance(value, bpy.types.ID):
                mine, default = struct_dict(value), struct_dict(getattr(fresh, ident))
                diff = {k: v for k, v in mine.items() if default.get(k) != v}
                if diff:
                    out[ident] = diff
            continue
        mine = value_of(p, value)
        if p.type == "ENUM" and mine == "":
            continue  # an enum with no items in this context cannot be set
        if mine != value_of(p, getattr(fresh, ident)):
            out[ident] = mine
    return out


def describe_node(node, scratch: _Scratch, tree_type: str) -> NodeDesc:
    desc = NodeDesc(type=node.bl_idname, name=node.name,
                    parent=node.parent.name if node.parent else None,
                    location=(float(node.location[0]), float(node.location[1])))
    if node.parent is not None and hasattr(node, "location_absolute"):
        desc.location_absolute = (float(node.location_absolute[0]), float(node.location_absolute[1]))
    fresh_tree = scratch.tree(tree_type)
    try:
        if node.bl_idname == "NodeUndefined":
            raise RuntimeError("undefined")
        fresh = fresh_tree.nodes.new(node.bl_idname)
    except RuntimeError:
        raise TranspileError(
            f"node {node.name!r} ({node.bl_idname}) is of a type Blender {bpy.app.version_string} does not "
            "know: the file was made with a newer Blender or uses an add-on that is not enabled") from None
    try:
        for p in LAYOUT_PROPS:
            mine, default = getattr(node, p, None), getattr(fresh, p, None)
            mine = _flatten(mine) if not isinstance(mine, (str, bool, int, float, type(None))) else mine
            default = _flatten(default) if not isinstance(default, (str, bool, int, float, type(None))) else default
            if mine != default:
                desc.layout[p] = mine
        desc.props = _props(node, fresh)
        desc.items = {k: v for k, v in items_of(node, fresh_tree).items()
                      if v != items_of(fresh, fresh_tree).get(k)}
        if getattr(node, "node_tree", None) is not None and node.bl_idname.endswith("Group"):
            desc.node_tree = node.node_tree.name
        paired = getattr(node, "paired_output", None)
        if paired is not None:
            desc.pair_with = paired.name
        # Make the fresh node match in everything that decides its sockets, then diff values.
        from ..nodes import apply_props, set_items

        if desc.node_tree is not None:
            fresh.node_tree = node.node_tree
        apply_props(fresh, _resolved(desc.props))
        for coll_name, specs in desc.items.items():
            set_items(getattr(fresh, coll_name), _resolved(specs), fresh)
        # A reroute whose socket type changed gets its new sockets only after the tree updates,
        # so values cannot be set at build time; they are never used (it passes its link through).
        retyped_reroute = node.bl_idname == "NodeReroute" and _reroute_type(node) != _reroute_type(fresh)
        for side in ("inputs", "outputs") if not retyped_reroute else ():
            mine_sockets, fresh_sockets = getattr(node, side), getattr(fresh, side)
            values = {}
            # Linked inputs keep their value too: it comes back when the link is removed.
            for i, s in enumerate(mine_sockets):
                v = _socket_value(s)
                if v is None and not (hasattr(s, "default_value") and isinstance(
                        s.bl_rna.properties["default_value"], bpy.types.PointerProperty)):
                    continue
                default = _socket_value(fresh_sockets[i]) if i < len(fresh_sockets) and \
                    fresh_sockets[i].bl_idname == s.bl_idname else object()
                if v != default:
                    values[i] = v
            setattr(desc, side, values)
            props = {i: diff for i, s in enumerate(mine_sockets)
                     if (diff := _socket_props(s, fresh_sockets[i] if i < len(fresh_sockets) else None))}
            if props:
                desc.sockets[side] = props
    finally:
        fresh_tree.nodes.remove(fresh)
    return desc


#: Socket properties that are not structure: its value (described apart), what it is,
#: ``enabled``, which the node's own properties decide, and its name and description, which the
#: node type, its items or the group interface decide. ``display_shape`` is kept: field
#: inferencing resets it on data sockets, but closure and bundle sockets keep what is stored.
#: ``link_limit`` comes with the socket's declaration (and differs between versions' group sockets).
SKIP_SOCKET_PROPS = {"rna_type", "default_value", "type", "enabled", "identifier", "bl_idname", "bl_label",
                     "bl_subtype_label", "name", "description", "link_limit"}


def _socket_props(socket, fresh) -> dict:
    """Writable properties of a node's socket (hidden with Ctrl+H, value hidden, ...) that differ
    from the same socket of a fresh node, or from RNA's defaults where a fresh node has no such
    socket yet (group and interface sockets)."""
    out = {}
    for p in socket.bl_rna.properties:
        ident = p.identifier
        if p.is_readonly or ident in SKIP_SOCKET_PROPS or ident.startswith("bl_") or \
                p.type not in ("BOOLEAN", "INT", "FLOAT", "ENUM", "STRING") or getattr(p, "is_array", False):
            continue
        mine = value_of(p, getattr(socket, ident))
        default = value_of(p, getattr(fresh, ident)) if fresh is not None and ident in fresh.bl_rna.properties \
            else p.default
        if mine != default:
            out[ident] = mine
    return out


def _reroute_type(node) -> str:
    # ``socket_idname`` is 4.3+; before, the reroute's type is only visible on its output socket.
    return getattr(node, "socket_idname", None) or node.outputs[0].bl_idname


def _resolved(value):
    """Replace IdRefs by the datablocks (they exist: we are reading the same file)."""
    if isinstance(value, IdRef):
        return getattr(bpy.data, value.collection).get(value.name)
    if isinstance(value, dict):
        return {k: _resolved(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolved(v) for v in value]
    return value


def describe_interface(tree) -> list[dict]:
    """The group interface in ``items_tree`` order. Each item gets a ``uid``, the number in its
    ``Socket_<uid>`` identifier (panels: their ``persistent_uid``): sockets and panels share one id
    counter, and the builder recreates items in uid order so socket identifiers, which modifiers key
    their values by, come out equal. ``parent`` is the uid of the item's panel."""
    items = list(tree.interface.items_tree)
    raw = []
    for item in items:
        if item.item_type == "PANEL":
            raw.append(getattr(item, "persistent_uid", None))  # 4.3+; see _assign_uids
        else:
            m = SOCKET_ID.match(item.identifier)
            raw.append(int(m[1]) if m else None)  # None: a legacy Input_N/Output_N identifier
    uids = _assign_uids(raw)
    by_index = {item.index: uid for item, uid in zip(items, uids, strict=True)}
    out = []
    for item, uid in zip(items, uids, strict=True):
        parent = item.parent if item.parent is not None and item.parent.index >= 0 else None
        entry = {"item_type": item.item_type, "name": item.name, "uid": uid, "position": item.position,
                 "parent": by_index[parent.index] if parent is not None else None}
        if item.item_type == "SOCKET":
            entry["in_out"] = item.in_out
            entry["socket_type"] = item.socket_type
        props = {}
        for p in item.bl_rna.properties:
            if p.identifier in SKIP_INTERFACE_PROPS or p.is_readonly or p.type == "COLLECTION":
                continue
            value = value_of(p, getattr(item, p.identifier))
            if p.type == "ENUM" and value == "":
                continue  # no items in this context: cannot be set
            props[p.identifier] = value
        entry["props"] = props
        out.append(entry)
    return out


SOCKET_ID = re.compile(r"^Socket_(\d+)$")


def _assign_uids(raw: list[int | None]) -> list[int]:
    """Unique uids for interface items, keeping every known one (the first, if two claim one).

    Unknown ones get the ids nothing uses, lowest first: Blender 4.2 does not expose a panel's uid
    though panels take ids from the sockets' counter (a socket made after a panel skips one), so
    the gaps below the last socket's id are theirs; and files from before 4.0 name sockets
    ``Input_N``/``Output_N`` with counters of their own, which the API cannot recreate: they
    become ``Socket_<free id>``. Neither a panel's id nor a legacy socket's number is referenced
    by anything the rebuilt tree can keep.
    """
    seen: set[int] = set()
    known = []
    for uid in raw:
        known.append(uid if uid is not None and uid not in seen else None)
        if uid is not None:
            seen.add(uid)
    free = (uid for uid in itertools.count() if uid not in seen)
    return [uid if uid is not None else next(free) for uid in known]


def describe_tree_props(tree, scratch: _Scratch) -> dict:
    fresh = scratch.tree(tree.bl_idname)
    out = {}
    for p in tree.bl_rna.properties:
        if p.identifier in SKIP_TREE_PROPS or p.is_readonly or p.type == "COLLECTION":
            continue
        mine = value_of(p, getattr(tree, p.identifier))
        if mine != value_of(p, getattr(fresh, p.identifier)):
            out[p.identifier] = mine
    return out


def _link_order(tree) -> list:
    """Links in creation order that reproduces them: multi-input links by their sort id."""
    plain, multi = [], []
    for link in tree.links:
        (multi if link.to_socket.is_multi_input else plain).append(link)
    multi.sort(key=lambda lk: (lk.to_node.name, lk.to_socket.identifier, lk.multi_input_sort_id))
    return plain + multi


def describe_links(tree) -> list[tuple]:
    out = []
    for link in _link_order(tree):
        from_index = next(i for i, s in enumerate(link.from_node.outputs) if s == link.from_socket)
        to_index = next(i for i, s in enumerate(link.to_node.inputs) if s == link.to_socket)
        out.append((link.from_node.name, from_index, link.to_node.name, to_index, bool(link.is_muted)))
    return out


def _order_nodes(nodes: list[NodeDesc]) -> list[NodeDesc]:
    """Frames before their children, zone outputs before their inputs, else original order."""
    by_name = {n.name: n for n in nodes}

    def depth(n):
        d = 0
        while n.parent is not None and n.parent in by_name:
            n = by_name[n.parent]
            d += 1
        return d

    zone_outputs = {n.pair_with for n in nodes if n.pair_with}
    return sorted(nodes, key=lambda n: (n.type != "NodeFrame", depth(n) if n.type == "NodeFrame" else 0,
                                        0 if n.name in zone_outputs else 1))


def prune(tree, desc: TreeDesc) -> None:
    """Drop nodes from which no output node can be reached (frames kept only if non-empty)."""
    outputs = {n.name for n in tree.nodes if _is_output(n)}
    upstream: dict[str, set[str]] = {}
    for f, _, t, _, _ in desc.links:
        upstream.setdefault(t, set()).add(f)
    keep, stack = set(outputs), list(outputs)
    pairs = {n.name: n.pair_with for n in desc.nodes if n.pair_with}
    pairs.update({v: k for k, v in list(pairs.items())})
    while stack:
        name = stack.pop()
        for up in upstream.get(name, set()) | ({pairs[name]} if name in pairs else set()):
            if up not in keep:
                keep.add(up)
                stack.append(up)
    parents = {n.parent for n in desc.nodes if n.name in keep and n.parent}
    while True:
        more = {n.parent for n in desc.nodes if n.name in parents and n.parent} - parents
        if not more:
            break
        parents |= more
    keep |= parents
    desc.nodes = [n for n in desc.nodes if n.name in keep]
    desc.links = [lk for lk in desc.links if lk[0] in keep and lk[2] in keep]


def _is_output(node) -> bool:
    if node.bl_idname in ("NodeGroupOutput", "CompositorNodeComposite", "CompositorNodeViewer",
                          "CompositorNodeOutputFile", "GeometryNodeViewer", "CompositorNodeSplitViewer"):
        return True
    return node.bl_idname.startswith("ShaderNodeOutput")


def describe_tree(tree, *, name: str | None = None, prune_unused: bool = False,
                  scratch: _Scratch | None = None) -> TreeDesc:
    """Describe one node tree (not its nested groups; see :func:`describe_with_groups`)."""
    own = scratch is None
    scratch = scratch or _Scratch()
    try:
        desc = TreeDesc(name=name or tree.name, type=tree.bl_idname)
        desc.props = describe_tree_props(tree, scratch)
        if tree.bl_idname in ("GeometryNodeTree", "ShaderNodeTree", "CompositorNodeTree") and not (
                tree.is_embedded_data):
            desc.interface = describe_interface(tree)
        desc.nodes = _order_nodes([describe_node(n, scratch, tree.bl_idname) for n in tree.nodes])
        desc.links = describe_links(tree)
        if prune_unused:
            prune(tree, desc)
        for n in desc.nodes:
            if n.node_tree and n.node_tree not in desc.groups:
                desc.groups.append(n.node_tree)
        return desc
    finally:
        if own:
            scratch.close()


def describe_with_groups(tree, prune_unused: bool = False) -> list[TreeDesc]:
    """``tree`` and every node group it uses, dependencies first (each group once)."""
    scratch = _Scratch()
    try:
        done: dict[str, TreeDesc] = {}
        order: list[TreeDesc] = []

        def visit(t, stack=()):
            if t.name in stack:
                raise TranspileError(f"node group {t.name!r} contains itself")
            d = describe_tree(t, prune_unused=prune_unused, scratch=scratch)
            for g in d.groups:
                if g not in done:
                    visit(bpy.data.node_groups[g], (*stack, t.name))
            if t.name not in done:
                done[t.name] = d
                order.append(d)
            return d

        visit(tree)
        return order
    finally:
        scratch.close()
