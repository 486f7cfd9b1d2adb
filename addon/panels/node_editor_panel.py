"""The node editor's "ProcDream" sidebar tab: Copy as Python."""

import bpy


class PROCDREAM_PT_node_tools(bpy.types.Panel):
    bl_idname = "PROCDREAM_PT_node_tools"
    bl_label = "ProcDream"
    bl_space_type = "NODE_EDITOR"
    bl_region_type = "UI"
    bl_category = "ProcDream"

    @classmethod
    def poll(cls, context):
        return context.space_data is not None and getattr(context.space_data, "edit_tree", None) is not None

    def draw(self, context):
        col = self.layout.column()
        op = col.operator("procdream.copy_as_python", icon="COPYDOWN")
        op.source = "EDITOR"
        pruned = col.operator("procdream.copy_as_python", text="Copy as Python (pruned)")
        pruned.source, pruned.prune = "EDITOR", True
