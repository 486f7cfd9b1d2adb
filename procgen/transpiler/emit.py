"""Tree descriptions -> Python source that rebuilds them with NodeWrangler.

Floats are written with ``repr``, so every value survives exactly. Randomisation hooks in
node labels (``U(a, b)``, ``N(mu, sigma)``, ``R(lo, hi)``, ``choice(a, b, ...)``, optionally
prefixed by an input name as ``Scale: U(1, 4)``) turn the targeted value into a parameter
drawn in the emitted ``sample_params(rng)``.
"""

from __future__ import annotations

import ast
import keyword
import re
from dataclasses import dataclass

import bpy

from .serialize import IdRef, NodeDesc, TranspileError, TreeDesc

HOOK_RE = re.compile(r"^\s*(?:(?P<socket>[^:=()]+?)\s*[:=]\s*)?(?P<fn>U|N|R|choice)\((?P<args>.*)\)\s*$")

_DRAW = {
    "U": "float(rng.uniform({0}, {1}))",
    "N": "float(rng.normal({0}, {1}))",
    "R": "int(rng.integers({0}, {1}, endpoint=True))",
}


@dataclass
class Hook:
    key: str  # params key
    node: str
    target: tuple  # ("input", index) | ("output", index) | ("prop", name)
    fn: str
    args: list
    default: object


def literal(value) -> str:
    """Python source for a described value (exact for floats)."""
    if isinstance(value, IdRef):
        return f"ref({value.collection!r}, {value.name!r})"
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return f"float({str(value)!r})"
        return repr(value)
    if isinstance(value, tuple):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _ident(name: str, taken: set[str], prefix: str = "n_") -> str:
    base = prefix + (re.sub(r"\W+", "_", name).strip("_").lower() or "node")
    if keyword.iskeyword(base) or not base.isidentifier():
        base = prefix + "node"
    ident, i = base, 1
    while ident in taken:
        i += 1
        ident = f"{base}_{i}"
    taken.add(ident)
    return ident


def _parse_args(text: str, fn: str) -> list:
    if fn == "choice":
        out = []
        for part in (p.strip() for p in text.split(",")):
            try:
                out.append(ast.literal_eval(part))
            except (ValueError, SyntaxError):
                out.append(part)  # a bare identifier: an enum item such as MULTIPLY
        return out
    try:
        args = ast.literal_eval(f"({text},)")
    except (ValueError, SyntaxError) as exc:
        raise TranspileError(f"randomisation hook {fn}({text}) needs numeric arguments") from exc
    if len(args) != 2 or not all(isinstance(a, (int, float)) for a in args):
        raise TranspileError(f"randomisation hook {fn}({text}) needs two numbers")
    return list(args)


def find_hooks(tree: TreeDesc, prefix: str, live_tree=None) -> dict[str, Hook]:
    """Hooks by node name. ``live_tree`` (the bpy tree) resolves socket names and defaults."""
    hooks = {}
    for n in tree.nodes:
        label = n.layout.get("label", "")
        m = HOOK_RE.match(label) if label else None
        if not m:
            continue
        fn, args = m["fn"], _parse_args(m["args"], m["fn"])
        target, default = _hook_target(n, m["socket"], fn, args, live_tree)
        key = f"{prefix}{n.name}" + (f":{m['socket'].strip()}" if m["socket"] else "")
        hooks[n.name] = Hook(key, n.name, target, fn, args, default)
    return hooks


def _hook_target(n: NodeDesc, socket: str | None, fn: str, args: list, live_tree):
    node = live_tree.nodes[n.name] if live_tree is not None else None
    if fn == "choice" and args and all(isinstance(a, str) for a in args) and socket is None:
        enum_props = [p.identifier for p in node.bl_rna.properties
                      if p.type == "ENUM" and not p.is_readonly and not p.identifier.startswith("bl_")
                      and any(a in {i.identifier for i in p.enum_items} for a in args)] if node else []
        if not enum_props:
            raise TranspileError(f"node {n.name!r}: choice({', '.join(args)}) matches no property of the node")
        return ("prop", enum_props[0]), getattr(node, enum_props[0])
    if node is None:
        raise TranspileError("hooks need the live tree")
    if socket:
        for i, s in enumerate(node.inputs):
            if s.name == socket.strip() and hasattr(s, "default_value") and not s.is_linked:
                return ("input", i), _plain(s.default_value)
        raise TranspileError(f"node {n.name!r}: hook names input {socket.strip()!r}, which it has not (unlinked)")
    if n.type in ("ShaderNodeValue",):
        return ("output", 0), _plain(node.outputs[0].default_value)
    if n.type == "FunctionNodeInputInt":
        return ("prop", "integer"), node.integer
    for i, s in enumerate(node.inputs):
        if s.enabled and not s.is_linked and isinstance(getattr(s, "default_value", None), (int, float)) \
                and not isinstance(s.default_value, bool):
            return ("input", i), _plain(s.default_value)
    raise TranspileError(f"node {n.name!r}: label {n.layout.get('label')!r} is a hook but the node has no "
                         "unlinked numeric input")


def _plain(v):
    return v if isinstance(v, (int, float, str)) else tuple(v)


def _draw(h: Hook) -> str:
    if h.fn == "choice":
        return f"{literal(h.args)}[int(rng.integers({len(h.args)}))]"
    return _DRAW[h.fn].format(*(literal(a) for a in h.args))


class Emitter:
    def __init__(self, trees: list[TreeDesc], hooks: dict[str, dict[str, Hook]]):
        self.trees = trees
        self.hooks = hooks  # tree name -> node name -> Hook
        self.fill_names = {t.name: _ident(t.name, set(), "_fill_") for t in trees}
        self.group_funcs: dict[str, str] = {}
        taken: set[str] = set()
        for t in trees[:-1]:
            self.group_funcs[t.name] = _ident(t.name, taken, "group_")

    def all_hooks(self) -> list[Hook]:
        return [h for t in self.trees for h in self.hooks.get(t.name, {}).values()]

    def tree_function(self, t: TreeDesc) -> list[str]:
        lines = [f"def {self.fill_names[t.name]}(tree, params, built):",
                 f"    \"\"\"Fill the empty {t.type} ``tree`` with {t.name!r}.\"\"\"",
                 "    nw = NodeWrangler(tree)"]
        if t.props:
            lines.append(f"    apply_props(tree, {literal(t.props)})")
        lines += self._interface(t)
        taken: set[str] = {"nw", "tree", "params", "built", "iface"}
        var = {n.name: _ident(n.name, taken) for n in t.nodes}
        hooks = self.hooks.get(t.name, {})
        for n in t.nodes:
            lines.append(f"    {var[n.name]} = " + self._node_call(n, var, hooks.get(n.name)))
        for f, fi, to, ti, muted in t.links:
            lines.append(f"    nw.link({var[f]}, {fi}, {var[to]}, {ti}" + (", muted=True)" if muted else ")"))
        lines.append("    nw.finish()")
        lines.append("    return tree")
        return lines

    def _interface(self, t: TreeDesc) -> list[str]:
        if not t.interface:
            return []
        return [f"    nw.build_interface({literal(t.interface)})"]

    def _node_call(self, n: NodeDesc, var: dict, hook: Hook | None) -> str:
        args = [repr(n.type), f"name={n.name!r}"]
        if n.parent is not None and n.parent in var:
            args.append(f"parent={var[n.parent]}")
        if n.location_absolute is not None:
            args.append(f"location_absolute={literal(n.location_absolute)}")
        else:
            args.append(f"location={literal(n.location)}")
        if n.node_tree is not None:
            func = self.group_funcs.get(n.node_tree)
            args.append(f"node_tree={func}(built, params)" if func else f"node_tree=ref('node_groups', {n.node_tree!r})")
        props = dict(n.props)
        inputs, outputs = dict(n.inputs), dict(n.outputs)
        if hook is not None:
            kind, key = hook.target
            expr = _Raw(f"params[{hook.key!r}]")
            {"input": inputs, "output": outputs, "prop": props}[kind][key] = expr
        for k, v in n.layout.items():
            args.append(f"{k}={literal(v)}")
        if props:
            args.append(f"attrs={_lit(props)}")
        if n.items:
            args.append(f"items={literal(n.items)}")
        if n.pair_with is not None and n.pair_with in var:
            args.append(f"pair_with={var[n.pair_with]}")
        if inputs:
            args.append(f"input_kwargs={_lit(inputs)}")
        if outputs:
            args.append(f"outputs={_lit(outputs)}")
        if n.sockets:
            args.append(f"sockets={literal(n.sockets)}")
        return f"nw.new_node({', '.join(args)})"

    def source(self, header: str, main: list[str]) -> str:
        hooks = self.all_hooks()
        out = [f'"""{header}"""', "", "import sys", "", "import bpy", "", "",
               "def _procdream_nodes():",
               "    # ProcDream imports as `procdream` from a venv, as `bl_ext.<repo>.procdream` in Blender.",
               "    try:",
               "        from procdream.procgen import nodes",
               "    except ImportError:",
               "        import importlib",
               "",
               "        found = [m for m in sys.modules if m.startswith('bl_ext.') and m.endswith('.procdream')]",
               "        if not found:",
               "            raise ImportError('ProcDream is needed: enable the extension or pip install procdream') "
               "from None",
               "        nodes = importlib.import_module(found[0] + '.procgen.nodes')",
               "    return nodes",
               "", "",
               "_nodes = _procdream_nodes()",
               "NodeWrangler, apply_props, ref = _nodes.NodeWrangler, _nodes.apply_props, _nodes.ref",
               "",
               "#: The Blender this code was generated on. Older ones may lack node types or properties.",
               f"EMITTED_ON = {tuple(bpy.app.version)!r}",
               "",
               "#: Values of the randomised parameters in the original tree.",
               "PARAMS = {" + ", ".join(f"{h.key!r}: {literal(h.default)}" for h in hooks) + "}",
               "", "",
               "def sample_params(rng):",
               '    """Draw every randomised parameter from ``rng`` (a numpy.random.Generator)."""',
               "    return {"]
        out += [f"        {h.key!r}: {_draw(h)}," for h in hooks]
        out += ["    }", "", ""]
        for t in self.trees[:-1]:
            f = self.group_funcs[t.name]
            out += [f"def {f}(built, params=None):",
                    f'    """Node group {t.name!r} ({t.type}), created once per build."""',
                    f"    if {t.name!r} not in built:",
                    f"        tree = bpy.data.node_groups.new({t.name!r}, {t.type!r})",
                    f"        built[{t.name!r}] = tree",
                    f"        {self.fill_names[t.name]}(tree, {{**PARAMS, **(params or {{}})}}, built)",
                    f"    return built[{t.name!r}]", "", ""]
        for t in self.trees:
            out += self.tree_function(t) + ["", ""]
        root = self.trees[-1]
        out += ["def build(tree, params=None):",
                f'    """Rebuild {root.name!r} into ``tree``, an empty {root.type}. ``params``: see sample_params."""',
                "    params = {**PARAMS, **(params or {})}",
                "    built = {}",
                "    for key in params:",
                "        if key not in PARAMS:",
                "            raise KeyError(f'unknown parameter {key!r}; known: {sorted(PARAMS)}')",
                "    try:",
                f"        return {self.fill_names[root.name]}(tree, params, built)",
                "    except _nodes.NodeWranglerError as exc:",
                "        if tuple(bpy.app.version) >= EMITTED_ON:",
                "            raise",
                "        emitted = '.'.join(map(str, EMITTED_ON))",
                "        raise _nodes.NodeWranglerError(",
                "            f'{exc}. This code was generated on Blender {emitted}; run it there or on a newer '",
                "            'Blender, or transpile the tree again on this one') from None", "", "",
                'if __name__ == "__main__":'] + main
        return "\n".join(out) + "\n"


class _Raw(str):
    """Source text to emit as is (a params lookup)."""


def _lit(d: dict) -> str:
    return "{" + ", ".join(f"{literal(k)}: {v if isinstance(v, _Raw) else literal(v)}" for k, v in d.items()) + "}"
