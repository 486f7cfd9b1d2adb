"""NodeWrangler: build shader, geometry-node and compositor trees in a few lines.

    nw = NodeWrangler(material.node_tree)
    noise = nw.new_node("noise", input_kwargs={"Scale": 4.0})
    bump = nw.new_node("bump", input_kwargs={"Height": noise, "Strength": 0.3})

Anything that can feed a socket is accepted wherever an input is given: a node (its first
enabled output), a socket, a ``(node, output name or index)`` pair, a plain value (set as
the socket's default), or a list of those for a multi-input socket. The transpiler's output
uses the same class, with exact indices instead of names.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Sequence

import bpy

from .. import compat
from . import aliases

GROUP_NODE_TYPES = {
    "ShaderNodeTree": "ShaderNodeGroup",
    "GeometryNodeTree": "GeometryNodeGroup",
    "CompositorNodeTree": "CompositorNodeGroup",
}


class NodeWranglerError(ValueError):
    pass


class MissingReferenceWarning(UserWarning):
    """An image/object/... the tree refers to is not in this file; a placeholder stands in."""


def _enabled(sockets):
    return [s for s in sockets if getattr(s, "enabled", True) and getattr(s, "is_icon_visible", True)]


def find_socket(sockets, key):
    """A socket by index (all sockets, as ``node.inputs[i]``), name or identifier.

    Names prefer enabled sockets, so ``"Value"`` on a Math node is its first visible input.
    """
    if isinstance(key, int):
        return sockets[key]
    for s in _enabled(sockets):
        if s.name == key or s.identifier == key:
            return s
    for s in sockets:
        if s.identifier == key or s.name == key:
            return s
    names = ", ".join(repr(s.name) for s in _enabled(sockets))
    raise NodeWranglerError(f"no socket {key!r}; available: {names}")


def ref(collection: str, name: str | None):
    """``bpy.data.<collection>[name]``, or a named placeholder (with a warning) when missing.

    Placeholders: images become 1x1 generated images, objects empties, and materials,
    collections, textures, texts and node groups new empty datablocks of that name.
    """
    if name is None:
        return None
    data = getattr(bpy.data, collection)
    found = data.get(name)
    if found is not None:
        return found
    warnings.warn(f"{collection[:-1]} {name!r} is not in this file; using an empty placeholder of that name",
                  MissingReferenceWarning, stacklevel=2)
    if collection == "images":
        return data.new(name, 1, 1)
    if collection == "objects":
        return data.new(name, None)
    if collection == "textures":
        return data.new(name, "NONE")
    if collection in ("materials", "collections", "texts", "worlds"):
        return data.new(name)
    if collection == "node_groups":
        return data.new(name, "GeometryNodeTree")
    warnings.warn(f"cannot make a placeholder in bpy.data.{collection}; leaving {name!r} unset",
                  MissingReferenceWarning, stacklevel=2)
    return None


def apply_props(struct, props: dict) -> None:
    """Set RNA properties from a dict. Nested dicts set properties of sub-structs (for example
    an image texture's ``image_user``); colour ramps and curve mappings take the layouts of
    :func:`set_color_ramp` and :func:`set_curve_mapping`."""
    for key, value in props.items():
        if key not in struct.bl_rna.properties:
            raise NodeWranglerError(f"{_describe(struct)} has no property {key!r} on Blender "
                                    f"{bpy.app.version_string}")
        if isinstance(value, dict):
            sub = getattr(struct, key)
            if sub is None:
                continue  # an optional sub-struct this context does not have
            if type(sub).__name__ == "ColorRamp":
                set_color_ramp(sub, **value)
            elif type(sub).__name__ == "CurveMapping":
                set_curve_mapping(sub, **value)
            else:
                apply_props(sub, value)
        else:
            if isinstance(value, list) and struct.bl_rna.properties[key].type == "ENUM":
                value = set(value)
            try:
                setattr(struct, key, value)
            except (TypeError, ValueError, AttributeError) as exc:
                # An enum item or value range newer than this Blender, most often.
                raise NodeWranglerError(f"{_describe(struct)}: cannot set {key!r} to {value!r} on Blender "
                                        f"{bpy.app.version_string}: {exc}") from None


def _set_menu_or_defer(socket, value, deferred: list) -> None:
    """Set a menu socket's value, or queue it when the socket lists no such item yet: a menu gets
    its items from the Menu Switch it feeds, so only once that link exists (RNA's static
    ``enum_items`` are always empty for menus, so trying is the only test)."""
    try:
        socket.default_value = value
    except TypeError:
        deferred.append((socket, "default_value", value))


def _dimensions_first(props: dict) -> dict:
    """A vector socket's default has as many components as its ``dimensions``: set that first."""
    return dict(sorted(props.items(), key=lambda kv: kv[0] != "dimensions"))


def _describe(struct) -> str:
    """'node 'Sky Texture' (ShaderNodeTexSky)' or the struct's type name, for error messages."""
    if isinstance(struct, bpy.types.Node):
        return f"node {struct.name!r} ({struct.bl_idname})"
    return type(struct).__name__


def set_color_ramp(ramp, elements: Sequence[tuple[float, Sequence[float]]] = (), **props) -> None:
    """Replace ``ramp``'s stops with ``(position, rgba)`` pairs; other kwargs are ramp props."""
    for key, value in props.items():
        setattr(ramp, key, value)
    if not elements:
        return
    els = ramp.elements
    while len(els) > len(elements):
        els.remove(els[-1])
    while len(els) < len(elements):
        els.new(0.0)
    # Positions are kept sorted by Blender; assign in order so each stop lands where it should.
    for el, (pos, color) in zip(els, sorted(elements, key=lambda e: e[0]), strict=True):
        el.position = pos
        el.color = tuple(color)


def set_curve_mapping(mapping, curves: Sequence[Sequence[tuple]] = (), **props) -> None:
    """Set a CurveMapping: ``curves[i]`` is a list of ``(x, y)`` or ``(x, y, handle_type)``."""
    for key, value in props.items():
        if isinstance(value, dict):
            apply_props(getattr(mapping, key), value)
        else:
            setattr(mapping, key, value)
    for curve, points in zip(mapping.curves, curves, strict=False):
        pts = curve.points
        while len(pts) > max(len(points), 2):
            pts.remove(pts[-1])
        while len(pts) < len(points):
            pts.new(0.0, 0.0)
        for p, spec in zip(pts, points, strict=False):
            p.location = (spec[0], spec[1])
            if len(spec) > 2:
                p.handle_type = spec[2]
    mapping.update()


#: (tree type, node type) -> whether a node of that type can be created in such a tree.
_CREATABLE: dict[tuple[str, str], bool] = {}


class NodeWrangler:
    """Builds nodes and links in one node tree (a material's, world's, or a node group)."""

    def __init__(self, tree: bpy.types.NodeTree):
        if isinstance(tree, (bpy.types.Material, bpy.types.World)):
            tree = compat.node_tree(tree)
        self.tree = tree
        self.nodes = tree.nodes
        self.links = tree.links
        #: (struct, property, value) set by :meth:`finish`: menu values whose items exist only once
        #: the links that feed the menu are made.
        self._deferred: list[tuple] = []

    # -- nodes --------------------------------------------------------------------------------
    def _available(self, node_type: str) -> bool:
        """Whether this Blender can put a ``node_type`` node in this kind of tree. Knowing the type
        is not enough: 4.x compositor ids exist everywhere but fit only compositor trees, and which
        shared (Shader*) nodes a compositor takes changed in 4.5 and 5.0. Tried once per tree type."""
        key = (self.tree.bl_idname, node_type)
        if key not in _CREATABLE:
            cls = getattr(bpy.types, node_type, None)
            ok = cls is not None and isinstance(cls, type) and issubclass(cls, bpy.types.Node)
            if ok:
                try:
                    self.nodes.remove(self.nodes.new(node_type))
                except RuntimeError:
                    ok = False
            _CREATABLE[key] = ok
        return _CREATABLE[key]

    @property
    def _compositor(self) -> bool:
        return self.tree.bl_idname == "CompositorNodeTree"

    def new_node(self, node_type: str, input_args: Sequence | None = None, attrs: dict | None = None,
                 input_kwargs: dict | None = None, label: str | None = None, *, name: str | None = None,
                 location: tuple[float, float] | None = None, parent=None, items: dict | None = None,
                 pair_with=None, node_tree=None, outputs: dict | None = None, expose_input=None,
                 sockets: dict | None = None, **node_props):
        """Create a node and wire its inputs.

        node_type: a ``bl_idname`` or an alias from :data:`aliases.ALIASES`; 4.x ids renamed in
        5.0 are translated. attrs: node properties, set in order before any input (they decide
        which sockets exist). items: dynamic socket lists (``{"repeat_items": [{"socket_type":
        "FLOAT", "name": "x"}, ...]}``). pair_with: the output node of a zone. input_args /
        input_kwargs: inputs by position (enabled sockets) or by name/identifier/index.
        outputs: default values of output sockets (Value, RGB nodes). expose_input: on a
        Group Input node, ``[(socket_type, name, default), ...]`` added to the interface.
        sockets: socket properties by side and index, ``{"inputs": {2: {"hide": True}}}``.
        """
        resolved = aliases.resolve(node_type, self._available, self._compositor)
        try:
            node = self.nodes.new(resolved)
        except RuntimeError as exc:
            what = f"node {name!r} of type {node_type!r}" if name else f"node type {node_type!r}"
            why = "" if self._available(resolved) else (
                " (this Blender does not know that type: was the tree made with a newer Blender?)")
            raise NodeWranglerError(f"{what} cannot be created in a {self.tree.bl_idname} on Blender "
                                    f"{bpy.app.version_string}{why}") from exc
        if name is not None:
            node.name = name
        if label is not None:
            node.label = label
        if parent is not None:
            node.parent = parent
        if location is not None:
            node.location = location
        if node_tree is not None:
            node.node_tree = node_tree
        apply_props(node, node_props)
        apply_props(node, attrs or {})
        for coll_name, specs in (items or {}).items():
            set_items(getattr(node, coll_name), specs, node)
        if pair_with is not None:
            node.pair_with_output(pair_with)
        if expose_input:
            for socket_type, sock_name, default in expose_input:
                self.expose_input(sock_name, socket_type, default)
        if input_args:
            enabled = _enabled(node.inputs)
            for i, value in enumerate(input_args):
                if value is not None:
                    self.set_input(enabled[i], value)
        for key, value in (input_kwargs or {}).items():
            if value is not None:
                self.set_input(find_socket(node.inputs, key), value)
        for key, value in (outputs or {}).items():
            socket = find_socket(node.outputs, key)
            if socket.bl_idname == "NodeSocketMenu":  # a Group Input's menu
                _set_menu_or_defer(socket, value, self._deferred)
            else:
                socket.default_value = value
        for side, by_index in (sockets or {}).items():
            collection = getattr(node, side)
            for index, props in by_index.items():
                if index >= len(collection):
                    raise NodeWranglerError(f"{_describe(node)} has no {side[:-1]} {index} on Blender "
                                            f"{bpy.app.version_string} (it has {len(collection)})")
                apply_props(collection[index], props)
        return node

    # -- links and values ----------------------------------------------------------------------
    def output_socket(self, source):
        """The output socket meant by ``source`` (node, socket or (node, key))."""
        if isinstance(source, bpy.types.NodeSocket):
            return source
        if isinstance(source, tuple) and len(source) == 2 and isinstance(source[0], bpy.types.Node):
            return find_socket(source[0].outputs, source[1])
        if isinstance(source, bpy.types.Node):
            enabled = _enabled(source.outputs)
            if not enabled:
                raise NodeWranglerError(f"node {source.name!r} has no output to connect")
            return enabled[0]
        raise NodeWranglerError(f"cannot connect from {source!r}")

    def connect(self, source, target):
        """Link ``source`` (node, socket or (node, key)) into the input socket ``target``."""
        link = self.links.new(self.output_socket(source), target)
        self._retry_deferred()
        return link

    def link(self, from_node, from_index: int, to_node, to_index: int, muted: bool = False):
        """Exact link by socket indices (what the transpiler emits)."""
        for node, side, sockets, index in ((from_node, "output", from_node.outputs, from_index),
                                           (to_node, "input", to_node.inputs, to_index)):
            if index >= len(sockets):
                raise NodeWranglerError(f"{_describe(node)} has no {side} {index} on Blender "
                                        f"{bpy.app.version_string} (it has {len(sockets)})")
        link = self.links.new(from_node.outputs[from_index], to_node.inputs[to_index])
        if muted:
            link.is_muted = True
        self._retry_deferred()
        return link

    def _retry_deferred(self) -> None:
        # A new link may be the one that gives a waiting menu its items.
        if self._deferred:
            waiting, self._deferred = self._deferred, []
            for struct, _key, value in waiting:
                _set_menu_or_defer(struct, value, self._deferred)

    def set_input(self, socket, value):
        """Link or set ``socket`` from a node/socket/pair, a list (multi-input), or a value."""
        if isinstance(value, list) and socket.is_multi_input:
            for v in value:
                self.set_input(socket, v)
        elif isinstance(value, (bpy.types.Node, bpy.types.NodeSocket)) or (
                isinstance(value, tuple) and value and isinstance(value[0], bpy.types.Node)):
            self.connect(value, socket)
        elif socket.bl_idname == "NodeSocketMenu":
            _set_menu_or_defer(socket, value, self._deferred)
        else:
            socket.default_value = value

    def finish(self) -> None:
        """Set what had to wait for the tree's links: menu sockets take their items from the Menu
        Switch they feed, so their values can be set only once it is linked. Links retry them as
        they are made; this (called last by transpiled code) sets the rest or raises
        NodeWranglerError naming the value no menu offers."""
        deferred, self._deferred = self._deferred, []
        if not deferred:
            return
        self.tree.interface_update(bpy.context)
        for struct, key, value in deferred:
            apply_props(struct, {key: value})

    def set_inputs(self, node, values: dict) -> None:
        for key, value in values.items():
            self.set_input(find_socket(node.inputs, key), value)

    # -- group interfaces ---------------------------------------------------------------------
    def expose_input(self, name: str, socket_type: str = "NodeSocketFloat", default=None, *, min=None,
                     max=None, description: str = ""):
        """Add an input to this group's interface (once) and return the Group Input's socket."""
        iface = self.tree.interface
        item = next((i for i in iface.items_tree if getattr(i, "in_out", None) == "INPUT" and i.name == name), None)
        if item is None:
            item = iface.new_socket(name, in_out="INPUT", socket_type=socket_type, description=description)
            if default is not None:
                item.default_value = default
            if min is not None:
                item.min_value = min
            if max is not None:
                item.max_value = max
        group_input = next((n for n in self.nodes if n.bl_idname == "NodeGroupInput"), None) \
            or self.nodes.new("NodeGroupInput")
        return find_socket(group_input.outputs, item.identifier)

    def build_interface(self, items: Sequence[dict]) -> None:
        """Recreate a group interface from its description (what the transpiler emits).

        ``items`` are in ``interface.items_tree`` order, each with item_type (SOCKET/PANEL),
        name, uid, parent (the panel's uid), position, in_out and socket_type (sockets) and props.
        Items are created in uid order, burning unused ids, so socket identifiers
        (``Socket_<uid>``) equal the original's; then each is moved to its place.
        """
        iface = self.tree.interface
        iface.clear()
        made: dict[int, object] = {}
        next_uid = 0
        for spec in sorted(items, key=lambda s: s["uid"]):
            while next_uid < spec["uid"]:
                iface.remove(iface.new_socket("_", in_out="INPUT", socket_type="NodeSocketFloat"))
                next_uid += 1
            if spec["item_type"] == "PANEL":
                made[spec["uid"]] = iface.new_panel(spec["name"])
            else:
                try:
                    item = iface.new_socket(spec["name"], in_out=spec["in_out"], socket_type=spec["socket_type"])
                except (TypeError, RuntimeError) as exc:
                    raise NodeWranglerError(f"interface socket {spec['name']!r}: socket type "
                                            f"{spec['socket_type']!r} does not exist on Blender "
                                            f"{bpy.app.version_string} ({exc})") from None
                dimensions = spec.get("props", {}).get("dimensions")
                # (Code from 5.0 on a Blender without 2-D vectors: apply_props names the property.)
                if dimensions is not None and hasattr(item, "dimensions") and dimensions != item.dimensions:
                    # A 2-D vector is another RNA type (…SocketVector2D): fetch the item again.
                    item.dimensions = dimensions
                    item = iface.items_tree[item.index]
                made[spec["uid"]] = item
            next_uid = spec["uid"] + 1
        # ``parent`` is the panel's uid (code from before 2026-12 named the panel). Panels are
        # filled first, deepest first, so that each level holds only its own items when it is
        # ordered (Blender keeps outputs before inputs in a level, so an output still waiting to go
        # into a panel blocks an input from moving up), and each level is filled in ascending
        # position, so every move goes up (moving an item down counts its old place).
        panels = {s["name"]: made[s["uid"]] for s in items if s["item_type"] == "PANEL"}
        uid_of = {s["name"]: s["uid"] for s in items if s["item_type"] == "PANEL"}
        parent_of = {s["uid"]: (uid_of[s["parent"]] if isinstance(s["parent"], str) else s["parent"]) for s in items}

        def depth(key):
            key = uid_of[key] if isinstance(key, str) else key
            d = 0
            while key is not None:
                key, d = parent_of[key], d + 1
            return d

        levels: dict = {}
        for spec in items:
            levels.setdefault(spec["parent"], []).append(spec)
        for parent_key in sorted(levels, key=depth, reverse=True):  # the top level last
            parent = None if parent_key is None else (
                panels[parent_key] if isinstance(parent_key, str) else made[parent_key])
            for spec in sorted(levels[parent_key], key=lambda s: s["position"]):
                if parent is None:
                    iface.move(made[spec["uid"]], spec["position"])
                else:
                    iface.move_to_parent(made[spec["uid"]], parent, spec["position"])
        for spec in items:
            props = dict(spec.get("props", {}))
            if spec.get("socket_type") == "NodeSocketMenu" and "default_value" in props:
                _set_menu_or_defer(made[spec["uid"]], props.pop("default_value"), self._deferred)
            apply_props(made[spec["uid"]], _dimensions_first(props))

    # -- helpers ------------------------------------------------------------------------------
    def math(self, operation: str, *args, use_clamp: bool = False):
        return self.new_node("ShaderNodeMath", list(args), {"operation": operation, "use_clamp": use_clamp})

    def vector_math(self, operation: str, *args):
        return self.new_node("ShaderNodeVectorMath", list(args), {"operation": operation})

    def scalar_add(self, *args):
        return self.math("ADD", *args)

    def scalar_multiply(self, *args):
        return self.math("MULTIPLY", *args)

    def compare(self, operation: str, a, b, data_type: str = "FLOAT"):
        node = self.new_node("FunctionNodeCompare", attrs={"data_type": data_type, "operation": operation})
        enabled = _enabled(node.inputs)
        self.set_input(enabled[0], a)
        self.set_input(enabled[1], b)
        return node

    def switch(self, pred, false, true, input_type: str = "FLOAT"):
        """Geometry-nodes Switch: ``true`` where ``pred`` else ``false``."""
        return self.new_node("GeometryNodeSwitch", attrs={"input_type": input_type},
                             input_kwargs={"Switch": pred, "False": false, "True": true})

    def capture(self, geometry, fields: dict, domain: str = "POINT"):
        """Capture Attribute of each ``{name: (data_type, field)}`` on ``domain``; returns the node."""
        items = [{"socket_type": data_type, "name": name} for name, (data_type, _) in fields.items()]
        node = self.new_node("GeometryNodeCaptureAttribute", attrs={"domain": domain},
                             items={"capture_items": items}, input_kwargs={"Geometry": geometry})
        for name, (_, field) in fields.items():
            self.set_input(find_socket(node.inputs, name), field)
        return node

    def color_ramp(self, fac, points: Sequence[tuple[float, Sequence[float]]], interpolation: str = "LINEAR"):
        node = self.new_node("ShaderNodeValToRGB", input_kwargs={"Fac": fac})
        set_color_ramp(node.color_ramp, points, interpolation=interpolation)
        return node

    def float_curve(self, value, points: Sequence[tuple], factor=None):
        node = self.new_node("ShaderNodeFloatCurve", input_kwargs={"Value": value, "Factor": factor})
        set_curve_mapping(node.mapping, [points])
        return node

    def group(self, group, input_kwargs: dict | None = None, **kwargs):
        """A group node for ``group`` (a node tree, or a :func:`node_group` function)."""
        tree = group() if callable(group) else group
        node = self.new_node(GROUP_NODE_TYPES[self.tree.bl_idname], node_tree=tree, **kwargs)
        self.set_inputs(node, input_kwargs or {})
        return node


#: Attribute data type -> the socket type that carries it (for items created by socket type).
SOCKET_OF_DATA_TYPE = {"FLOAT_VECTOR": "VECTOR", "FLOAT2": "VECTOR", "FLOAT_COLOR": "RGBA", "BYTE_COLOR": "RGBA",
                       "QUATERNION": "ROTATION", "FLOAT4X4": "MATRIX", "INT8": "INT", "INT16_2D": "INT",
                       "INT32_2D": "INT"}


#: Spec key holding the identifier of an item's socket (``Item_3``, ``Value_1``): items get numbered
#: sockets from a per-node counter that only ever rises, so matching the original needs the same
#: history, replayed by :func:`set_items`.
SOCKET_ID_KEY = "_socket_id"


def item_socket_ids(node, coll_name: str, probe_tree=None) -> list[str]:
    """Identifiers of the sockets that ``node.<coll_name>``'s items make, in item order (their
    inputs, else their outputs): the node's sockets that a node of its type without items lacks
    (a probe node is made in ``probe_tree``, by default the node's own tree, and removed)."""
    return _item_ids(node, _static_ids(node, coll_name, probe_tree))


def _static_ids(node, coll_name: str, probe_tree=None) -> set[str]:
    tree = probe_tree if probe_tree is not None else node.id_data
    scratch = tree.nodes.new(node.bl_idname)
    try:
        getattr(scratch, coll_name).clear()
        return {s.identifier for s in (*scratch.inputs, *scratch.outputs)}
    finally:
        tree.nodes.remove(scratch)


def _item_ids(node, static: set[str]) -> list[str]:
    for side in (node.inputs, node.outputs):
        ids = [s.identifier for s in side if s.identifier not in static]
        if ids:
            return ids
    return []


def _id_number(identifier: str) -> int:
    """``Item_3`` -> 3, ``Value`` -> 0 (the first of a name has no suffix)."""
    m = re.search(r"_(\d+)$", identifier)
    return int(m[1]) if m else 0


def set_items(collection, specs: Sequence[dict], node=None) -> None:
    """Make a dynamic-socket collection (repeat_items, capture_items, enum_items, ...) hold
    exactly ``specs``: each a dict of the item's properties. ``new()`` gets the ones it takes.
    With ``node`` (the collection's node) and ``SOCKET_ID_KEY`` in the specs, the items' sockets
    get the same identifiers as the original's, so links and values keyed by identifier match."""
    new = collection.bl_rna.functions["new"]
    params = [p.identifier for p in new.parameters if not p.is_output]
    specs = [_creatable(dict(spec), params) for spec in specs]
    wanted = [spec.pop(SOCKET_ID_KEY, None) for spec in specs]
    if node is not None and all(wanted) and specs:
        _replay_identifiers(node, collection, specs, wanted, params)
    # Items already there are updated in place, so their socket identifiers stay stable.
    while len(collection) > len(specs):
        collection.remove(collection[len(collection) - 1])
    for i, spec in enumerate(specs):
        if i < len(collection):
            item = collection[i]
            props = {k: v for k, v in spec.items()
                     if k in item.bl_rna.properties and not item.bl_rna.properties[k].is_readonly}
        else:
            item = _new_item(collection, spec, params)
            props = {k: v for k, v in spec.items() if k not in params
                     and not (k in item.bl_rna.properties and item.bl_rna.properties[k].is_readonly)}
        apply_props(item, props)


def _creatable(spec: dict, params: list[str]) -> dict:
    if "socket_type" in params and "socket_type" not in spec and "data_type" in spec:
        # Capture items store an attribute data type (FLOAT_VECTOR, FLOAT4X4, ...) but new()
        # takes the socket type that carries it; data_type is then set exactly.
        spec["socket_type"] = SOCKET_OF_DATA_TYPE.get(spec["data_type"], spec["data_type"])
    return spec


def _new_item(collection, spec: dict, params: list[str]):
    try:
        return collection.new(**{k: spec[k] for k in params if k in spec})
    except (TypeError, RuntimeError) as exc:
        raise NodeWranglerError(f"cannot add {spec} to {collection.bl_rna.identifier} on Blender "
                                f"{bpy.app.version_string}: {exc}") from None


def _replay_identifiers(node, collection, specs, wanted: list[str], params) -> None:
    """Leave ``collection`` with one item per wanted socket identifier, in order: keep the items
    whose sockets already have a wanted identifier, drop the rest, and create the missing ones,
    creating and dropping items in between to advance the node's counter to each wanted number.
    A number the counter has passed cannot be made again; that item keeps the next one."""
    static = _static_ids(node, collection.path_from_id().rpartition(".")[2])

    def ids():
        return _item_ids(node, static)

    current = ids()
    for i in reversed(range(len(current))):
        if current[i] not in wanted:
            collection.remove(collection[i])
    have = set(ids())
    for spec, ident in sorted(zip(specs, wanted, strict=True), key=lambda sw: _id_number(sw[1])):
        if ident in have:
            continue
        for _ in range(1000):
            before = set(ids())
            _new_item(collection, spec, params)
            made = [x for x in ids() if x not in before]
            if not made or _id_number(made[0]) >= _id_number(ident):
                break
            collection.remove(collection[len(collection) - 1])
        have = set(ids())
    # Into the original order (moves go up, so each one lands where asked).
    for target, ident in enumerate(wanted):
        now = ids()
        if ident in now and now.index(ident) != target:
            collection.move(now.index(ident), target)


def node_group(name: str | None = None, tree_type: str = "GeometryNodeTree", modifier: bool = False) -> Callable:
    """Decorator: ``fn(nw)`` builds a node group's contents; calling the result returns the
    group (built once per file, then reused by name). ``modifier``: a geometry-nodes modifier
    group, created with its Geometry input and output."""

    def wrap(fn):
        group_name = name or fn.__name__

        def get():
            tree = bpy.data.node_groups.get(group_name)
            if tree is None or tree.bl_idname != tree_type:
                tree = bpy.data.node_groups.new(group_name, tree_type)
                if modifier:
                    tree.is_modifier = True
                    tree.interface.new_socket("Geometry", in_out="INPUT", socket_type="NodeSocketGeometry")
                    tree.interface.new_socket("Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
                fn(NodeWrangler(tree))
            return tree

        get.__name__ = fn.__name__
        get.__doc__ = fn.__doc__
        return get

    return wrap
