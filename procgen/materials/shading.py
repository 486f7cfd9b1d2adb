"""From :class:`Layers` to the Material Output: Principled BSDF, bump or displacement, extra lobes."""

from __future__ import annotations

import bpy

from ...render_gt.labels import ALPHA_NODE, set_max_displacement
from ..nodes import NodeWrangler
from .surface_layers import Layers
from .surface_params import Optics, Relief

#: Camera distances (m) over which bump shading fades to flat.
BUMP_FADE_M = (25.0, 120.0)
#: Float point attribute: the share of the material's displacement a vertex must not receive
#: (1 = none). Where two objects meet edge to edge (the terrain's near grid and far field), both
#: carry 1 along the seam, so neither side moves and no crack opens. Absent = 0 (full displacement).
UNDISPLACED_ATTRIBUTE = "procdream_undisplaced"


def _node(nw: NodeWrangler, bl_idname: str):
    """The material's own node of a type (a new material has one BSDF and one output), else a new one."""
    found = next((n for n in nw.nodes if n.bl_idname == bl_idname), None)
    return found if found is not None else nw.new_node(bl_idname)


def relief_normal(nw: NodeWrangler, material: bpy.types.Material, output, layers: Layers, relief: Relief):
    """The shading normal. With displacement, coarse height moves the geometry and only fine
    detail is bumped; without, both are bumped."""
    if relief.displacement > 0.0:
        held = nw.new_node("ShaderNodeAttribute", attrs={"attribute_type": "GEOMETRY",
                                                         "attribute_name": UNDISPLACED_ATTRIBUTE})
        scale = nw.math("MULTIPLY", relief.displacement, nw.math("SUBTRACT", 1.0, held.outputs["Fac"]))
        displace = nw.new_node("displacement", input_kwargs={
            "Height": layers.coarse, "Midlevel": 0.5 * relief.macro_weight, "Scale": scale})
        nw.connect(displace, output.inputs["Displacement"])
        # BOTH: real displacement where the mesh is dense enough, bump for what it cannot resolve.
        material.displacement_method = "BOTH"
        # Coarse height is macro (in [0, 1]) plus patch heights (in [-1, 1]), midlevel in [0, 0.5]:
        # |height - midlevel| <= 2, so the surface moves at most twice Scale.
        set_max_displacement(material, 2.0 * relief.displacement)
        height = layers.fine
    else:
        material.displacement_method = "BUMP"
        height = nw.math("ADD", layers.coarse, layers.fine)
    # Bump detail is millimetres to centimetres: beyond tens of metres a pixel spans many of its
    # periods and point-sampled normals turn into sparkling grazing-angle glints (seen on the far
    # field), so the bump fades out between BUMP_FADE_M[0] and [1] metres from the camera.
    distance = nw.new_node("ShaderNodeCameraData").outputs["View Distance"]
    fade = nw.new_node("map_range", attrs={"interpolation_type": "SMOOTHSTEP", "clamp": True}, input_kwargs={
        "Value": distance, "From Min": BUMP_FADE_M[0], "From Max": BUMP_FADE_M[1],
        "To Min": relief.bump_strength, "To Max": 0.0})
    return nw.new_node("bump", input_kwargs={"Strength": fade, "Distance": relief.bump_distance, "Height": height})


def shade(nw: NodeWrangler, material: bpy.types.Material, layers: Layers, optics: Optics, relief: Relief,
          alpha=None) -> None:
    """Wire the surface (and, for absorbing media, the volume) into the Material Output."""
    output = _node(nw, "ShaderNodeOutputMaterial")
    bsdf = _node(nw, "ShaderNodeBsdfPrincipled")
    normal = relief_normal(nw, material, output, layers, relief)
    nw.set_inputs(bsdf, {
        "Base Color": layers.color, "Roughness": layers.roughness, "Normal": normal,
        "IOR": optics.ior, "Specular IOR Level": optics.specular,
        "Transmission Weight": optics.transmission,
        "Subsurface Weight": optics.subsurface, "Subsurface Radius": optics.subsurface_radius,
        "Subsurface Scale": optics.subsurface_scale,
        # Velvet (moss, petals) scatters its own colour; Blender's white default turns whole
        # hillsides milky at grazing angles (seen on the far field).
        "Sheen Weight": optics.sheen, "Sheen Tint": layers.color,
        "Coat Weight": optics.coat, "Coat Normal": normal,
    })
    surface = bsdf
    if optics.translucency > 0.0:
        translucent = nw.new_node("ShaderNodeBsdfTranslucent", input_kwargs={"Color": layers.color, "Normal": normal})
        surface = nw.new_node("mix_shader", input_kwargs={"Fac": optics.translucency, 1: surface, 2: translucent})
    if alpha is not None:
        # A Transparent BSDF mix cuts every lobe (translucency too), unlike the Principled Alpha input.
        clear = nw.new_node("ShaderNodeBsdfTransparent")
        surface = nw.new_node("mix_shader", input_kwargs={"Fac": alpha, 1: clear, 2: surface})
        surface.name = ALPHA_NODE  # the ground truth reads the opacity here (render_gt.instances)
    nw.connect(surface, output.inputs["Surface"])
    if optics.absorption_density > 0.0:
        volume = nw.new_node("ShaderNodeVolumeAbsorption", input_kwargs={
            "Color": (*optics.absorption_color, 1.0), "Density": optics.absorption_density})
        nw.connect(volume, output.inputs["Volume"])
