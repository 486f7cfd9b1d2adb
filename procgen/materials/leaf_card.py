"""A leaf or petal drawn on a card's UVs: an alpha outline, a midrib and side veins."""

from __future__ import annotations

import math
from typing import NamedTuple

from ..nodes import NodeWrangler
from .surface_layers import Layers, mix
from .surface_params import RGB, LeafShape

#: Exponent on the side-vein cosine: higher gives thinner veins.
VEIN_SHARPNESS = 12.0
#: Bump height of a vein, in fine-detail height units.
VEIN_HEIGHT = 0.5


class LeafCard(NamedTuple):
    """alpha: 1 inside the blade; veins: 0..1 vein mask; along: V clamped to 0..1 (stem to tip)."""

    alpha: object
    veins: object
    along: object


def _peak(a: float, b: float) -> float:
    """Maximum of v**a * (1 - v)**b on [0, 1], so the outline's widest point is exactly ``width``."""
    v = a / (a + b)
    return v ** a * (1.0 - v) ** b


def add_leaf_card(nw: NodeWrangler, uv, leaf: LeafShape) -> LeafCard:
    sep = nw.new_node("separate_xyz", input_kwargs={"Vector": uv})
    along = nw.new_node("clamp", input_kwargs={"Value": (sep, "Y")})
    across = nw.math("ABSOLUTE", nw.math("SUBTRACT", (sep, "X"), 0.5))  # UV distance from the midrib
    profile = nw.math("MULTIPLY", nw.math("POWER", along, leaf.base_taper),
                      nw.math("POWER", nw.math("SUBTRACT", 1.0, along), leaf.tip_taper))
    half_width = nw.math("MULTIPLY", profile, leaf.width / _peak(leaf.base_taper, leaf.tip_taper))
    alpha = nw.new_node("map_range", attrs={"clamp": True}, input_kwargs={
        "Value": across, "From Min": nw.math("SUBTRACT", half_width, leaf.edge_softness),
        "From Max": half_width, "To Min": 1.0, "To Max": 0.0})
    return LeafCard(alpha, _veins(nw, along, across, leaf), along)


def _veins(nw: NodeWrangler, along, across, leaf: LeafShape):
    rib = nw.new_node("map_range", attrs={"interpolation_type": "SMOOTHSTEP", "clamp": True}, input_kwargs={
        "Value": across, "From Min": 0.0, "From Max": max(leaf.rib_width, 1e-4), "To Min": 1.0, "To Max": 0.0})
    if leaf.vein_density == 0.0:
        return rib
    # Side veins are cosine ridges along lines v = c + vein_angle * |u - 0.5|, slanting to the tip.
    phase = nw.math("MULTIPLY_ADD", across, -leaf.vein_angle, along)
    wave = nw.math("COSINE", nw.math("MULTIPLY", phase, 2.0 * math.pi * leaf.vein_density))
    side = nw.math("POWER", nw.math("MULTIPLY_ADD", wave, 0.5, 0.5), VEIN_SHARPNESS)
    return nw.math("MAXIMUM", rib, side)


def add_veins(nw: NodeWrangler, layers: Layers, card: LeafCard, leaf: LeafShape, vein_color: RGB) -> Layers:
    """Veins pull the colour toward ``vein_color`` and stand slightly proud of the blade."""
    strength = nw.math("MULTIPLY", card.veins, leaf.vein_strength)
    return layers._replace(
        color=mix(nw, strength, layers.color, (*vein_color, 1.0), "RGBA"),
        fine=nw.math("MULTIPLY_ADD", strength, VEIN_HEIGHT, layers.fine),
    )
