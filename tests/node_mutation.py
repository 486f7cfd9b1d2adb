"""Build one-node test graphs with every property and input set away from its default, and
compare two trees property by property through RNA (independently of the transpiler's own
serializer, so a property the serializer forgot shows up as a difference)."""

from __future__ import annotations

import re

import bpy

TREE_TYPES = ("ShaderNodeTree", "GeometryNodeTree", "CompositorNodeTree")
#: UI state and derived values: not part of what a tree computes or how it is laid out.
UI_STATE = {"rna_type", "select", "dimensions", "location_absolute", "active_index", "active_item",
            "active_input_index", "active_output_index", "active_main_index", "active_generation_index",
            "frame_current", "width_hidden", "height", "is_active_output",
            # Read-only drawing state: whether the node editor draws a socket as an icon. All a
            # socket stores can match while this differs (a compositor menu in Chromatic Aberration).
            "is_icon_visible"}
ZONES = {
    "GeometryNodeRepeatInput": "GeometryNodeRepeatOutput",
    "GeometryNodeSimulationInput": "GeometryNodeSimulationOutput",
    "GeometryNodeForeachGeometryElementInput": "GeometryNodeForeachGeometryElementOutput",
    "NodeClosureInput": "NodeClosureOutput",
}
#: Blender 4.5 ships bundle and closure nodes behind Preferences > Experimental (5.0 made them
#: NodeClosure*, NodeCombineBundle, ... and stable). Experimental nodes are not a supported
#: target: pairing a 4.5 closure zone from Python crashes Blender.
EXPERIMENTAL_4_5 = {"GeometryNodeClosureInput", "GeometryNodeClosureOutput", "GeometryNodeEvaluateClosure",
                    "GeometryNodeCombineBundle", "GeometryNodeSeparateBundle"}
ZONE_OUTPUTS = set(ZONES.values())


def node_types() -> list[str]:
    return sorted(n for n in dir(bpy.types) if isinstance(getattr(bpy.types, n), type)
                  and issubclass(getattr(bpy.types, n), bpy.types.Node))


def creatable(tree_type: str) -> list[str]:
    tree = bpy.data.node_groups.new("probe", tree_type)
    out = []
    for t in node_types():
        if t in ZONE_OUTPUTS or t in EXPERIMENTAL_4_5:  # zone outputs: tested through their input
            continue
        try:
            tree.nodes.new(t)
        except RuntimeError:
            continue
        out.append(t)
    bpy.data.node_groups.remove(tree)
    return out


def _datablock(fixed_type):
    name = fixed_type.identifier
    if name == "Image":
        return bpy.data.images.new("img", 2, 2)
    if name == "Object":
        return bpy.data.objects.get("obj") or bpy.data.objects.new("obj", None)
    if name == "Material":
        return bpy.data.materials.get("mat") or bpy.data.materials.new("mat")
    if name == "Collection":
        return bpy.data.collections.get("col") or bpy.data.collections.new("col")
    if name == "Texture":
        return bpy.data.textures.get("tex") or bpy.data.textures.new("tex", "CLOUDS")
    if name == "Text":
        return bpy.data.texts.get("txt") or bpy.data.texts.new("txt")
    if name == "Scene":
        return bpy.context.scene
    return None


def _nudge(p, value):
    """A value of RNA property ``p`` different from ``value``, inside its range, or None."""
    if p.type == "BOOLEAN":
        return [not v for v in value] if p.is_array else not value
    if p.type in ("INT", "FLOAT"):
        lo, hi = p.soft_min, p.soft_max
        step = 1 if p.type == "INT" else 0.3125

        def bump(v):
            for cand in (v + step, v - step, lo, hi):
                if lo <= cand <= hi and cand != v:
                    return cand
            return None

        if p.is_array:
            vals = list(_flat(value))
            b = bump(vals[0])
            if b is None:
                return None
            vals[0] = b
            return vals
        return bump(value)
    if p.type == "STRING":
        return (value or "") + "x" if p.subtype not in ("FILE_PATH", "DIR_PATH") else "//missing.png"
    return None


def _flat(v):
    try:
        for x in v:
            yield from _flat(x)
    except TypeError:
        yield v


def mutate_props(struct, depth=0, skip=()):
    """Set every writable property of ``struct`` away from its value. Returns names that took."""
    changed = []
    for p in struct.bl_rna.properties:
        ident = p.identifier
        if ident in UI_STATE or ident in skip or ident.startswith("bl_") or ident in (
                "name", "label", "location", "parent", "node_tree", "inputs", "outputs", "color_tag"):
            continue
        try:
            value = getattr(struct, ident)
        except AttributeError:
            continue
        if p.type == "POINTER":
            if p.is_readonly:
                if value is not None and not isinstance(value, bpy.types.ID) and depth < 2:
                    _mutate_struct(value, depth)
                continue
            new = _datablock(p.fixed_type)
            if new is not None and new != value:
                try:
                    setattr(struct, ident, new)
                    changed.append(ident)
                except (TypeError, AttributeError, ValueError, RuntimeError):
                    pass
            continue
        if p.is_readonly or p.type == "COLLECTION":
            continue
        if p.type == "ENUM":
            items = [i.identifier for i in p.enum_items]
            if p.is_enum_flag:
                cands = [set(items[:1]) if value != set(items[:1]) else set()]
            else:
                cands = [i for i in reversed(items) if i != value]
            for cand in cands:
                try:
                    setattr(struct, ident, cand)
                    changed.append(ident)
                    break
                except (TypeError, ValueError):
                    continue
            continue
        new = _nudge(p, value)
        if new is not None:
            try:
                setattr(struct, ident, new)
                changed.append(ident)
            except (TypeError, ValueError, AttributeError):
                pass
    return changed


def _mutate_struct(struct, depth):
    kind = type(struct).__name__
    if kind == "ColorRamp":
        struct.elements.new(0.42)
        struct.elements[0].color = (0.1, 0.2, 0.3, 1.0)
        struct.interpolation = "EASE"
        return
    if kind == "CurveMapping":
        struct.curves[0].points.new(0.3, 0.6)
        struct.update()
        return
    mutate_props(struct, depth + 1)


def mutate_items(node):
    for p in node.bl_rna.properties:
        if p.type != "COLLECTION" or p.identifier in ("inputs", "outputs", "internal_links"):
            continue
        coll = getattr(node, p.identifier)
        rna = getattr(coll, "bl_rna", None)
        new = rna.functions.get("new") if rna is not None else None
        if new is None:
            continue
        params = [q.identifier for q in new.parameters if not q.is_output]
        kwargs = {k: v for k, v in (("socket_type", "FLOAT"), ("name", "extra")) if k in params}
        try:
            coll.new(**kwargs)
        except (TypeError, RuntimeError):
            if "socket_type" in kwargs:
                try:
                    coll.new(**{**kwargs, "socket_type": "INT"})
                except (TypeError, RuntimeError):
                    pass


def mutate_inputs(node):
    for s in node.inputs:
        if s.is_linked or not hasattr(s, "default_value"):
            continue
        p = s.bl_rna.properties["default_value"]
        if p.is_readonly:
            continue
        if p.type == "POINTER":
            new = _datablock(p.fixed_type)
            if new is not None:
                s.default_value = new
            continue
        if p.type == "ENUM":
            items = [i.identifier for i in p.enum_items]
            for cand in reversed(items):
                if cand != s.default_value:
                    try:
                        s.default_value = cand
                        break
                    except TypeError:
                        continue
            continue
        new = _nudge(p, s.default_value)
        if new is not None:
            try:
                s.default_value = new
            except (TypeError, ValueError):
                pass
    for s in node.outputs:  # Value / RGB nodes keep their value on the output
        if hasattr(s, "default_value"):
            p = s.bl_rna.properties["default_value"]
            new = None if p.is_readonly else _nudge(p, s.default_value)
            if new is not None:
                try:
                    s.default_value = new
                except (TypeError, ValueError):
                    pass


def one_node_graph(tree_type: str, node_type: str):
    """A node group with ``node_type`` mutated everywhere and linked in and out."""
    tree = bpy.data.node_groups.new(f"rt_{node_type}", tree_type)
    frame = tree.nodes.new("NodeFrame")
    frame.label = "frame"
    node = tree.nodes.new(node_type)
    nodes = [node]
    if node_type in ZONES:
        out = tree.nodes.new(ZONES[node_type])
        out.location = (300.0, 0.0)
        node.pair_with_output(out)
        nodes.append(out)
    for n in nodes:
        mutate_props(n)
        mutate_items(n)
        mutate_inputs(n)
        n.parent = frame
    node.location = (10.5, -20.25)
    node.label = "node label"
    # A small graph around it: a Group Input feeding its first input, a reroute after it.
    iface_in = next((s for s in node.inputs if s.enabled and s.bl_idname != "NodeSocketVirtual"), None)
    if iface_in is not None:
        item = tree.interface.new_socket("In", in_out="INPUT", socket_type=_base_socket(iface_in))
        item.description = "an input"
        gin = tree.nodes.new("NodeGroupInput")
        gin.location = (-300.0, 0.0)
        try:
            tree.links.new(gin.outputs[0], iface_in)
        except RuntimeError:
            pass
    out_sock = next((s for s in nodes[-1].outputs if s.enabled and s.bl_idname != "NodeSocketVirtual"), None)
    if out_sock is not None:
        reroute = tree.nodes.new("NodeReroute")
        reroute.location = (600.0, 0.0)
        tree.links.new(out_sock, reroute.inputs[0])
    return tree


def _base_socket(socket) -> str:
    name = socket.bl_idname
    for base in ("Float", "Int", "Bool", "Vector", "Color", "String", "Rotation", "Matrix", "Geometry",
                 "Shader", "Object", "Image", "Material", "Collection", "Texture", "Menu", "Bundle", "Closure"):
        if name.startswith("NodeSocket" + base):
            return "NodeSocket" + base
    return "NodeSocketFloat"


def _plain(v):
    if isinstance(v, bpy.types.ID):
        return ("ID", v.name)
    if hasattr(v, "bl_rna"):
        return None
    if isinstance(v, (str, int, float, bool, type(None), set)):
        return v
    try:
        return tuple(_plain(x) for x in v)
    except TypeError:
        return str(v)


LEGACY_ID = re.compile(r"^(?:Input|Output)_(\d+)$")


def _legacy(value):
    """Files from before Blender 4.0 keep interface identifiers ``Input_N``/``Output_N``, which the
    Python API cannot create (new items are always ``Socket_N``, and old inputs and outputs count
    separately, so ``Input_1`` and ``Output_1`` cannot both become ``Socket_1``): a legacy
    identifier equals any ``Socket_N``, and links are compared by socket position."""
    if isinstance(value, str) and (LEGACY_ID.match(value) or re.match(r"^Socket_\d+$", value)):
        return "Socket_N"
    return value


def rna_diff(a, b, path="", depth=0, legacy_identifiers=False) -> list[str]:
    """Every RNA property of ``a`` that differs in ``b`` (recursing into structs and items)."""
    out = []
    for p in a.bl_rna.properties:
        ident = p.identifier
        if ident in UI_STATE or ident.startswith("bl_") or ident in ("internal_links", "interface_items"):
            continue
        if ident == "width" and getattr(a, "bl_idname", "") == "NodeReroute":
            # A reroute is drawn as a dot: its width is never used, and RNA clamps it to the
            # node-width range, so the 16-22 px that old files store cannot be set from Python.
            continue
        va, vb = getattr(a, ident, None), getattr(b, ident, None)
        where = f"{path}.{ident}"
        if p.type == "COLLECTION":
            la, lb = list(va), list(vb)
            if len(la) != len(lb):
                out.append(f"{where}: {len(la)} items vs {len(lb)}")
            elif depth < 3:
                for i, (x, y) in enumerate(zip(la, lb, strict=True)):
                    if hasattr(x, "bl_rna") and not isinstance(x, bpy.types.ID):
                        out += rna_diff(x, y, f"{where}[{i}]", depth + 1, legacy_identifiers)
            continue
        if p.type == "POINTER" and va is not None and not isinstance(va, bpy.types.ID):
            if ident in ("parent", "id_data", "node", "paired_output") or depth >= 3:
                if ident == "parent" and (va.name if va else None) != (vb.name if vb else None):
                    out.append(f"{where}: parent {va.name if va else None} vs {vb.name if vb else None}")
                continue
            if vb is None:
                out.append(f"{where}: missing")
            else:
                out += rna_diff(va, vb, where, depth + 1, legacy_identifiers)
            continue
        if legacy_identifiers and ident == "identifier" and isinstance(va, str) and LEGACY_ID.match(va):
            va, vb = _legacy(va), _legacy(vb)
        if _plain(va) != _plain(vb):
            out.append(f"{where}: {_plain(va)!r} vs {_plain(vb)!r}")
    return out


def _sort_id(link) -> int:
    """A link's place among a multi-input socket's links. Other sockets take one link, and files
    keep whatever number an earlier edit left there (links.new always makes 0): not compared."""
    return link.multi_input_sort_id if link.to_socket.is_multi_input else 0


def _index(sockets, socket) -> int:
    return next(i for i, s in enumerate(sockets) if s == socket)


def tree_diff(a, b, legacy_identifiers=False) -> list[str]:
    """Differences of tree ``b`` from ``a``: nodes (every RNA property, sockets included), links,
    interface. ``legacy_identifiers``: ``a`` may come from a pre-4.0 file (see :func:`_legacy`)."""
    out = []
    if sorted(n.name for n in a.nodes) != sorted(n.name for n in b.nodes):
        return [f"nodes {sorted(n.name for n in a.nodes)} vs {sorted(n.name for n in b.nodes)}"]
    for n in a.nodes:
        m = b.nodes[n.name]
        if n.bl_idname != m.bl_idname:
            out.append(f"{n.name}: type {n.bl_idname} vs {m.bl_idname}")
            continue
        out += [f"{n.name}{d}" for d in rna_diff(n, m, legacy_identifiers=legacy_identifiers)]
    if legacy_identifiers:
        def key(lk):
            return (lk.from_node.name, _index(lk.from_node.outputs, lk.from_socket), lk.to_node.name,
                    _index(lk.to_node.inputs, lk.to_socket), _sort_id(lk), lk.is_muted)
    else:
        def key(lk):
            return (lk.from_node.name, lk.from_socket.identifier, lk.to_node.name, lk.to_socket.identifier,
                    _sort_id(lk), lk.is_muted)
    la, lb = sorted(key(lk) for lk in a.links), sorted(key(lk) for lk in b.links)
    if la != lb:
        out.append(f"links {la} vs {lb}")
    ia = [(i.item_type, i.name, getattr(i, "in_out", None), getattr(i, "socket_type", None))
          for i in a.interface.items_tree]
    ib = [(i.item_type, i.name, getattr(i, "in_out", None), getattr(i, "socket_type", None))
          for i in b.interface.items_tree]
    if ia != ib:
        out.append(f"interface {ia} vs {ib}")
    else:
        for x, y in zip(a.interface.items_tree, b.interface.items_tree, strict=True):
            out += [f"interface {x.name}{d}" for d in rna_diff(x, y, legacy_identifiers=legacy_identifiers)
                    if not d.startswith((".index", ".position"))]
    return out
