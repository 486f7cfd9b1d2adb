"""Short names for node type ids, and node types renamed between Blender 4.2 and 5.0."""

from __future__ import annotations

#: Short aliases accepted by :meth:`NodeWrangler.new_node`. Full ``bl_idname``s always work.
ALIASES: dict[str, str] = {
    # shared (shader, geometry and, in 5.0, compositor trees)
    "math": "ShaderNodeMath",
    "vector_math": "ShaderNodeVectorMath",
    "map_range": "ShaderNodeMapRange",
    "clamp": "ShaderNodeClamp",
    "mix": "ShaderNodeMix",
    "color_ramp": "ShaderNodeValToRGB",
    "float_curve": "ShaderNodeFloatCurve",
    "rgb_curve": "ShaderNodeRGBCurve",
    "value": "ShaderNodeValue",
    "combine_xyz": "ShaderNodeCombineXYZ",
    "separate_xyz": "ShaderNodeSeparateXYZ",
    "noise": "ShaderNodeTexNoise",
    "voronoi": "ShaderNodeTexVoronoi",
    "wave": "ShaderNodeTexWave",
    "musgrave": "ShaderNodeTexNoise",
    "group": "ShaderNodeGroup",
    "group_input": "NodeGroupInput",
    "group_output": "NodeGroupOutput",
    "frame": "NodeFrame",
    "reroute": "NodeReroute",
    # shader
    "principled": "ShaderNodeBsdfPrincipled",
    "diffuse": "ShaderNodeBsdfDiffuse",
    "emission": "ShaderNodeEmission",
    "material_output": "ShaderNodeOutputMaterial",
    "world_output": "ShaderNodeOutputWorld",
    "background": "ShaderNodeBackground",
    "sky": "ShaderNodeTexSky",
    "tex_coord": "ShaderNodeTexCoord",
    "mapping": "ShaderNodeMapping",
    "bump": "ShaderNodeBump",
    "displacement": "ShaderNodeDisplacement",
    "attribute": "ShaderNodeAttribute",
    "image_texture": "ShaderNodeTexImage",
    "mix_shader": "ShaderNodeMixShader",
    "hsv": "ShaderNodeHueSaturation",
    # geometry
    "set_position": "GeometryNodeSetPosition",
    "position": "GeometryNodeInputPosition",
    "normal": "GeometryNodeInputNormal",
    "index": "GeometryNodeInputIndex",
    "instance_on_points": "GeometryNodeInstanceOnPoints",
    "distribute_points": "GeometryNodeDistributePointsOnFaces",
    "object_info": "GeometryNodeObjectInfo",
    "collection_info": "GeometryNodeCollectionInfo",
    "join_geometry": "GeometryNodeJoinGeometry",
    "realize_instances": "GeometryNodeRealizeInstances",
    "store_attribute": "GeometryNodeStoreNamedAttribute",
    "named_attribute": "GeometryNodeInputNamedAttribute",
    "capture_attribute": "GeometryNodeCaptureAttribute",
    "switch": "GeometryNodeSwitch",
    "compare": "FunctionNodeCompare",
    "random_value": "FunctionNodeRandomValue",
    "set_material": "GeometryNodeSetMaterial",
    "transform": "GeometryNodeTransform",
    "delete_geometry": "GeometryNodeDeleteGeometry",
    "repeat_input": "GeometryNodeRepeatInput",
    "repeat_output": "GeometryNodeRepeatOutput",
    # compositor
    "render_layers": "CompositorNodeRLayers",
    "viewer": "CompositorNodeViewer",
    "file_output": "CompositorNodeOutputFile",
}

#: Node types of Blender 4.2-4.5 that Blender 5.0 replaced. Used when building trees and when
#: reading transpiled code written on an older Blender.
RENAMED_IN_5_0: dict[str, str] = {
    "CompositorNodeMixRGB": "ShaderNodeMix",
    "CompositorNodeMath": "ShaderNodeMath",
    "CompositorNodeValToRGB": "ShaderNodeValToRGB",
    "CompositorNodeCombineXYZ": "ShaderNodeCombineXYZ",
    "CompositorNodeSeparateXYZ": "ShaderNodeSeparateXYZ",
    "CompositorNodeMapRange": "ShaderNodeMapRange",
    "CompositorNodeCurveVec": "ShaderNodeVectorCurve",
    "CompositorNodeValue": "ShaderNodeValue",
    "CompositorNodeComposite": "NodeGroupOutput",
    "ShaderNodeTexMusgrave": "ShaderNodeTexNoise",
}


#: 5.0 ids whose 4.x compositor trees need the old compositor node (Composite stays forward-only:
#: a group output is never a Composite node).
_COMPOSITOR_ON_4X = {new: old for old, new in RENAMED_IN_5_0.items() if old.startswith("CompositorNode")
                     and new != "NodeGroupOutput"}


def resolve(node_type: str, available, compositor: bool = False) -> str:
    """The ``bl_idname`` to create for ``node_type`` (an alias, a 5.0 id or a 4.x id).

    ``available(id) -> bool`` says whether the running Blender can put a type in the tree being
    built; ``compositor`` says whether that tree is a compositor tree. 4.2's compositor has its
    own Math, Mix, ... nodes where 5.0 shares the shader ones (4.5 takes some of both), and a 4.x
    ``CompositorNodeMath`` exists but cannot go in a geometry or shader tree: the id asked for is
    kept when the tree takes it, else the other version's id is tried.
    """
    node_type = ALIASES.get(node_type, node_type)
    if compositor and node_type in _COMPOSITOR_ON_4X and not available(node_type) \
            and available(_COMPOSITOR_ON_4X[node_type]):
        return _COMPOSITOR_ON_4X[node_type]
    if not available(node_type) and node_type in RENAMED_IN_5_0:
        renamed = RENAMED_IN_5_0[node_type]
        if available(renamed):
            return renamed
    return node_type
