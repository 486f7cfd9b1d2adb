"""procdream.copy_as_python: the node tree being edited (or a named one) as Python source."""

from __future__ import annotations

import bpy

from ...procgen.transpiler import TranspileError, transpile

SOURCES = (
    ("EDITOR", "Node editor", "The tree shown in the active node editor"),
    ("MATERIAL", "Material", "A material's shader nodes"),
    ("WORLD", "World", "A world's shader nodes"),
    ("NODE_GROUP", "Node group", "A node group"),
    ("OBJECT", "Object", "An object's geometry-nodes modifier"),
    ("COMPOSITOR", "Compositor", "A scene's compositor"),
)


def _target(context, source: str, name: str):
    if source == "EDITOR":
        space = context.space_data
        if space is None or space.type != "NODE_EDITOR" or space.edit_tree is None:
            raise TranspileError("no node tree is open in this editor; set source and name to pick one")
        tree = space.edit_tree
        owner = space.id if space.id is not None and tree == getattr(space.id, "node_tree", None) else None
        if isinstance(owner, (bpy.types.Material, bpy.types.World)):
            return owner
        return tree
    collection = {"MATERIAL": bpy.data.materials, "WORLD": bpy.data.worlds, "NODE_GROUP": bpy.data.node_groups,
                  "OBJECT": bpy.data.objects, "COMPOSITOR": bpy.data.scenes}[source]
    found = collection.get(name)
    if found is None:
        raise TranspileError(f"no {source.lower().replace('_', ' ')} named {name!r}; available: "
                             f"{sorted(x.name for x in collection)}")
    return found


class PROCDREAM_OT_copy_as_python(bpy.types.Operator):
    """Turn a node tree into Python that rebuilds it exactly (clipboard, or a text block in background mode)"""

    bl_idname = "procdream.copy_as_python"
    bl_label = "Copy as Python"

    source: bpy.props.EnumProperty(name="Source", items=SOURCES, default="EDITOR")
    name: bpy.props.StringProperty(name="Name", description="Datablock name when source is not the editor")
    prune: bpy.props.BoolProperty(name="Prune", description="Leave out nodes not connected to an output")

    def execute(self, context):
        try:
            target = _target(context, self.source, self.name)
            source = transpile(target, prune=self.prune)
        except TranspileError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        if bpy.app.background:
            text = bpy.data.texts.new(f"{target.name}.py")
            text.write(source)
            self.report({"INFO"}, f"Python source in text block {text.name!r} ({len(source.splitlines())} lines)")
        else:
            context.window_manager.clipboard = source
            self.report({"INFO"}, f"Copied {len(source.splitlines())} lines of Python for {target.name!r}")
        return {"FINISHED"}
