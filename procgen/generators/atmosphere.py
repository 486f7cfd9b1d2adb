"""Haze: a height-limited volume of air over the whole world, for aerial perspective.

A box spans the world horizontally and rises ``height_m`` above the near terrain's lowest point,
so distant ground fades and far peaks stand out of it. Density is an extinction coefficient per
metre: at 0.006 /m about 5% of light survives 500 m. The volume absorbs and emits the sky's
horizon radiance instead of scattering: radiance along a ray tends to the horizon sky's colour
exactly as single scattering of a uniform sky would, with no sampling noise and at the cost of a
homogeneous volume (measured in the issue-13 note; a scattering volume was noisy at 16 spp).
The box is marked as atmosphere (:func:`render_gt.labels.set_atmosphere`): it has no instance
id, and the ground-truth render hides it, so depth, normals, flow and ids stay those of the first
surface.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import compat
from ..params import check, param


@dataclass
class HazeParams:
    density_per_m: float = param(0.002, 0.0, 0.05, "1/m", "extinction coefficient (0 = no haze)")
    height_m: float = param(130.0, 1.0, 5000.0, "m", "top of the haze above the near terrain's lowest point")
    tint_value: float = param(0.95, 0.0, 1.0, "", "albedo of the haze (near-white)")
    tint_hue: float = param(0.6, 0.0, 1.0, "", "hue of the albedo's faint tint")


def sample_params(rng: np.random.Generator, density_range=(0.0, 0.006)) -> HazeParams:
    lo, hi = density_range
    return HazeParams(density_per_m=float(rng.uniform(lo, hi)), height_m=float(rng.uniform(90.0, 170.0)),
                      tint_value=float(rng.uniform(0.9, 1.0)),
                      tint_hue=float(rng.uniform(0.55, 0.65)))


def build(params: HazeParams, half_extent_m: float, floor_m: float, radiance, collection=None):
    """The haze box (or None when density is 0) over [-half, half]^2 from ``floor_m`` - 10 m up.

    ``radiance``: linear RGB the haze converges to (the sky's horizon radiance, strength included).
    """
    import colorsys

    import bpy

    from ...render_gt.labels import set_atmosphere
    from ..nodes import NodeWrangler

    check(params)
    if params.density_per_m <= 0.0:
        return None
    bottom, top = floor_m - 10.0, floor_m + params.height_m
    mesh = bpy.data.meshes.new("haze")
    h = half_extent_m
    verts = [(x, y, z) for z in (bottom, top) for y in (-h, h) for x in (-h, h)]
    faces = [(0, 2, 3, 1), (4, 5, 7, 6), (0, 1, 5, 4), (1, 3, 7, 5), (3, 2, 6, 7), (2, 0, 4, 6)]
    mesh.from_pydata(verts, [], faces)
    mesh.validate()
    material = bpy.data.materials.new("haze")
    compat.node_tree(material).nodes.clear()
    nw = NodeWrangler(material)
    tint = np.array(colorsys.hsv_to_rgb(params.tint_hue, 0.04, params.tint_value))
    glow = np.asarray(radiance, float) * tint
    absorb = nw.new_node("ShaderNodeVolumeAbsorption", input_kwargs={"Color": (0.0, 0.0, 0.0, 1.0),
                                                                     "Density": params.density_per_m})
    # Emission per metre = density x radiance, so the ray's radiance converges to ``glow``.
    emit = nw.new_node("ShaderNodeEmission", input_kwargs={"Color": (*glow, 1.0), "Strength": params.density_per_m})
    volume = nw.new_node("ShaderNodeAddShader", [absorb, emit])
    nw.connect(volume, nw.new_node("ShaderNodeOutputMaterial").inputs["Volume"])
    mesh.materials.append(material)
    obj = bpy.data.objects.new("haze", mesh)
    (collection or bpy.context.scene.collection).objects.link(obj)
    set_atmosphere(obj)
    return obj
