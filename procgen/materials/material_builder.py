"""``build(params)``: the one shared, deterministic graph builder behind every material kind."""

from __future__ import annotations

import bpy

from ..nodes import NodeWrangler
from ..params import check
from .layout import arrange_columns
from .leaf_card import add_leaf_card, add_veins
from .patterns import add_pattern
from .shading import shade
from .surface_layers import base_layers, cover_with_patches, mix
from .surface_params import SurfaceParams


def build_material(params: SurfaceParams) -> bpy.types.Material:
    """A new material named ``params.kind`` (Blender suffixes repeats); draws no random numbers.

    Patterns use object-space metres, except leaf cards, which are drawn in UV space.
    Raises ParamError naming the first field outside its documented range.
    """
    check(params)
    material = bpy.data.materials.new(params.kind)
    nw = NodeWrangler(material)
    coords = nw.new_node("tex_coord")
    vector = (coords, "UV" if params.leaf is not None else "Object")
    macro = add_pattern(nw, vector, params.macro)
    micro = add_pattern(nw, vector, params.micro)
    card = None if params.leaf is None else add_leaf_card(nw, (coords, "UV"), params.leaf)
    tone = macro.tone if card is None else mix(nw, params.leaf.gradient, macro.tone, card.along)
    layers = base_layers(nw, tone, macro, micro, params.palette, params.optics, params.relief)
    if params.patches is not None:
        layers = cover_with_patches(nw, vector, layers, params.patches)
    if card is not None:
        layers = add_veins(nw, layers, card, params.leaf, params.palette.high)
    shade(nw, material, layers, params.optics, params.relief, alpha=None if card is None else card.alpha)
    arrange_columns(material.node_tree)
    # Solid-mode viewport colour, so unrendered views still look like the material.
    material.diffuse_color = (*params.palette.mid, 1.0)
    material.roughness = sum(params.optics.roughness) / 2.0
    return material
