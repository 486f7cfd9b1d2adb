"""Node tree -> Python source that rebuilds it exactly, with NodeWrangler.

``transpile(target)`` accepts a material, a world, a node group, an object (its first
geometry-nodes modifier, or ``modifier=`` by name) or a scene (its compositor). The CLI is
``python -m procdream.procgen.transpiler``; the add-on's "Copy as Python" uses the same call.
"""

from __future__ import annotations

import bpy

from .emit import Emitter, find_hooks
from .serialize import TranspileError, TreeDesc, describe_tree, describe_with_groups

__all__ = ["TranspileError", "TreeDesc", "describe_tree", "describe_with_groups", "resolve_target", "transpile"]


def resolve_target(target, modifier: str | None = None):
    """(node tree, kind, name, extra) for a transpile target; TranspileError when it has none."""
    if isinstance(target, bpy.types.Material):
        if target.node_tree is None:
            raise TranspileError(f"material {target.name!r} has no node tree")
        return target.node_tree, "material", target.name, {}
    if isinstance(target, bpy.types.World):
        if target.node_tree is None:
            raise TranspileError(f"world {target.name!r} has no node tree")
        return target.node_tree, "world", target.name, {}
    if isinstance(target, bpy.types.NodeTree):
        kind = "compositor" if target.bl_idname == "CompositorNodeTree" else "node_group"
        return target, kind, target.name, {}
    if isinstance(target, bpy.types.Object):
        mods = [m for m in target.modifiers if m.type == "NODES" and (modifier is None or m.name == modifier)]
        if not mods or mods[0].node_group is None:
            names = [m.name for m in target.modifiers if m.type == "NODES"]
            raise TranspileError(f"object {target.name!r} has no geometry-nodes modifier"
                                 + (f" named {modifier!r}" if modifier else "") + f"; it has: {names}")
        return mods[0].node_group, "modifier", mods[0].node_group.name, {
            "object": target.name, "modifier": mods[0].name}
    if isinstance(target, bpy.types.Scene):
        # 5.0 points the scene at a compositor node group; 4.x embeds the tree in the scene.
        tree = getattr(target, "compositing_node_group", None) or getattr(target, "node_tree", None)
        if tree is None:
            raise TranspileError(f"scene {target.name!r} has no compositor node tree")
        return tree, "compositor", tree.name, {"scene": target.name}
    raise TranspileError(f"cannot transpile a {type(target).__name__}")


def _main_block(kind: str, name: str, tree_type: str, extra: dict) -> list[str]:
    """The ``if __name__ == "__main__"`` body: recreate under the original name."""
    if kind in ("material", "world"):
        coll = "materials" if kind == "material" else "worlds"
        return [f"    block = bpy.data.{coll}.new({name!r})",
                "    if block.node_tree is None:  # Blender < 5.0",
                "        block.use_nodes = True",
                "    block.node_tree.nodes.clear()",
                "    build(block.node_tree)",
                f"    print(f'built {kind} {{block.name!r}}')"]
    if kind == "compositor" and "scene" in extra:
        # 5.0: the compositor is a node group the scene points at; 4.x: the scene's own tree.
        return ["    scene = bpy.context.scene",
                "    if hasattr(scene, 'compositing_node_group'):",
                f"        tree = build(bpy.data.node_groups.new({name!r}, {tree_type!r}))",
                "        scene.compositing_node_group = tree",
                "    else:",
                "        scene.use_nodes = True",
                "        tree = scene.node_tree",
                "        tree.nodes.clear()",
                "        build(tree)",
                f"    print(f'built {kind} {{tree.name!r}}')"]
    lines = [f"    tree = build(bpy.data.node_groups.new({name!r}, {tree_type!r}))"]
    if kind == "modifier":
        lines += [f"    obj_name = {extra['object']!r}",
                  "    obj = bpy.data.objects.get(obj_name)",
                  "    if obj is None:",
                  "        sys.exit(f'object {obj_name!r} is not in this file; node group {tree.name!r} "
                  "was built without a modifier')",
                  f"    obj.modifiers.new({extra['modifier']!r}, 'NODES').node_group = tree"]
    lines.append(f"    print(f'built {kind} {{tree.name!r}}')")
    return lines


def transpile(target, *, prune: bool = False, modifier: str | None = None) -> str:
    """Python source whose ``build(tree)`` rebuilds ``target``'s node tree exactly.

    Nested node groups become functions, emitted once, dependencies first. Nodes not
    connected to an output are kept unless ``prune``.
    """
    tree, kind, name, extra = resolve_target(target, modifier)
    trees = describe_with_groups(tree, prune_unused=prune)
    trees[-1].name = name
    live = {t.name: bpy.data.node_groups[t.name] for t in trees[:-1]}
    live[name] = tree
    hooks = {t.name: find_hooks(t, "" if t is trees[-1] else f"{t.name}/", live[t.name]) for t in trees}
    header = (f"Rebuilds {kind} {name!r} (generated by ProcDream's node transpiler on Blender "
              f"{bpy.app.version_string}).\n\nRun it as a script (``python out.py`` with bpy, or "
              "``blender -b -P out.py``) to add it to the open file,\nor import it and call "
              "``build(tree, sample_params(rng))``.\n")
    return Emitter(trees, hooks).source(header, _main_block(kind, name, tree.bl_idname, extra))
