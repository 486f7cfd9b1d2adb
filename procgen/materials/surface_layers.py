"""The per-point surface description (colour, roughness, heights) and the layers that edit it."""

from __future__ import annotations

from typing import NamedTuple

from ..nodes import NodeWrangler
from .patterns import PatternOut, add_pattern
from .surface_params import Optics, Palette, Patches, Relief

#: fBm tone (Blender's normalised noise) that a coverage of 0 and of 1 put the patch border at;
#: the noise rarely leaves this band, so coverage maps to roughly the covered fraction.
PATCH_THRESHOLD_AT_NO_COVER = 0.68
PATCH_THRESHOLD_AT_FULL_COVER = 0.32


class Layers(NamedTuple):
    """What the shading stage consumes; each field is a socket, node or plain value.

    coarse: height in macro units that may move geometry; fine: height for bump shading only.
    """

    color: object
    roughness: object
    coarse: object
    fine: object


def mix(nw: NodeWrangler, factor, a, b, data_type: str = "FLOAT"):
    """``a`` where factor is 0, ``b`` where it is 1 (floats, or colours with data_type RGBA)."""
    return nw.new_node("mix", attrs={"data_type": data_type}, input_kwargs={"Factor": factor, "A": a, "B": b})


def _rgba(rgb) -> tuple[float, float, float, float]:
    return (*rgb, 1.0)


def base_layers(nw: NodeWrangler, tone, macro: PatternOut, micro: PatternOut, palette: Palette,
                optics: Optics, relief: Relief) -> Layers:
    """Colour and roughness follow ``tone``; fine detail tints the colour and roughens the bump."""
    lo = max(0.0, palette.mid_position - palette.spread)
    hi = min(1.0, palette.mid_position + palette.spread)
    ramp = nw.color_ramp(tone, [(lo, _rgba(palette.low)), (palette.mid_position, _rgba(palette.mid)),
                                (hi, _rgba(palette.high))])
    color = nw.new_node("mix", attrs={"data_type": "RGBA", "blend_type": "OVERLAY"}, input_kwargs={
        "Factor": palette.micro_tint, "A": (ramp, "Color"), "B": micro.height})
    roughness = nw.new_node("map_range", attrs={"clamp": True}, input_kwargs={
        "Value": tone, "To Min": optics.roughness[0], "To Max": optics.roughness[1]})
    coarse = nw.math("MULTIPLY", macro.height, relief.macro_weight)
    fine = nw.math("MULTIPLY", micro.height, relief.micro_weight)
    return Layers(color, roughness, coarse, fine)


def cover_with_patches(nw: NodeWrangler, vector, layers: Layers, patches: Patches) -> Layers:
    """Blend a second surface in where the patch pattern is high."""
    shape = add_pattern(nw, vector, patches.pattern)
    t = PATCH_THRESHOLD_AT_NO_COVER + patches.coverage * (PATCH_THRESHOLD_AT_FULL_COVER
                                                          - PATCH_THRESHOLD_AT_NO_COVER)
    mask = nw.new_node("map_range", attrs={"interpolation_type": "SMOOTHSTEP", "clamp": True}, input_kwargs={
        "Value": shape.height, "From Min": t - patches.softness, "From Max": t + patches.softness})
    return Layers(
        color=mix(nw, mask, layers.color, _rgba(patches.color), "RGBA"),
        roughness=mix(nw, mask, layers.roughness, patches.roughness),
        coarse=nw.math("MULTIPLY_ADD", mask, patches.height, layers.coarse),
        fine=layers.fine,
    )
