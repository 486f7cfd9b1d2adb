"""Sky and lighting: Blender's physical sky texture with a matching sun, or an HDRI-free overcast sky.

Angles in degrees: elevation above the horizon, azimuth clockwise from +y (north) seen from above.
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass

import numpy as np

from ..params import check, param


@dataclass
class SkyParams:
    mode: str = param("physical", choices=("physical", "overcast"), doc="sky model")
    sun_elevation_deg: float = param(35.0, 1.0, 90.0, "deg", "sun height above the horizon")
    sun_azimuth_deg: float = param(120.0, 0.0, 360.0, "deg", "sun direction, clockwise from +y")
    sun_strength: float = param(3.0, 0.0, 20.0, "W/m^2", "sun lamp irradiance")
    sun_angle_deg: float = param(0.6, 0.0, 10.0, "deg", "angular diameter (soft shadows)")
    air_density: float = param(1.0, 0.0, 10.0, "", "physical sky: air (Rayleigh) density")
    aerosol_density: float = param(1.0, 0.0, 10.0, "", "physical sky: dust/haze density")
    sky_strength: float = param(1.0, 0.0, 10.0, "", "world background strength")
    overcast_hue: float = param(0.58, 0.0, 1.0, "", "overcast: hue of the cloud colour")
    overcast_value: float = param(0.75, 0.0, 1.0, "", "overcast: brightness of the cloud colour")


def sample_params(rng: np.random.Generator, overcast_probability: float = 0.2) -> SkyParams:
    overcast = rng.random() < overcast_probability
    return SkyParams(
        mode="overcast" if overcast else "physical",
        sun_elevation_deg=float(rng.uniform(12.0, 70.0)),
        sun_azimuth_deg=float(rng.uniform(0.0, 360.0)),
        sun_strength=float(rng.uniform(0.6, 1.5) if overcast else rng.uniform(2.5, 5.0)),
        air_density=float(rng.uniform(0.7, 1.6)),
        aerosol_density=float(rng.uniform(0.5, 3.0)),
        # The physical sky is in absolute units; at strength 1 it outshines a 3-5 W/m^2 sun.
        sky_strength=float(rng.uniform(0.6, 1.0) if overcast else rng.uniform(0.15, 0.35)),
        overcast_hue=float(rng.uniform(0.52, 0.64)),
        overcast_value=float(rng.uniform(0.55, 0.9)),
    )


def sun_direction(params: SkyParams) -> np.ndarray:
    """Unit vector from the ground towards the sun (world axes, z up)."""
    el, az = math.radians(params.sun_elevation_deg), math.radians(params.sun_azimuth_deg)
    return np.array([math.sin(az) * math.cos(el), math.cos(az) * math.cos(el), math.sin(el)])


def build(params: SkyParams, scene=None):
    """Set ``scene``'s world and add a sun lamp; returns (world, sun object)."""
    import bpy

    from ..nodes import NodeWrangler

    check(params)
    scene = scene or bpy.context.scene
    world = bpy.data.worlds.new("sky")
    if world.node_tree is None:  # Blender < 5.0
        world.use_nodes = True
    nodes = world.node_tree.nodes
    nodes.clear()
    nw = NodeWrangler(world)
    if params.mode == "physical":
        sky = nw.new_node("sky", attrs={
            "sky_type": _physical_sky_type(),
            "sun_elevation": math.radians(params.sun_elevation_deg),
            # Blender's sun_rotation turns counter-clockwise from +x; convert from our azimuth.
            "sun_rotation": math.radians((90.0 - params.sun_azimuth_deg) % 360.0),
            "air_density": params.air_density, "aerosol_density": params.aerosol_density,
            "sun_disc": False})
        color = sky
    else:
        rgb = colorsys.hsv_to_rgb(params.overcast_hue, 0.08, params.overcast_value)
        # Brighter towards the zenith, as under a cloud deck; the world's "Generated" coordinate
        # is the view direction, so its z is the elevation's sine.
        up = nw.new_node("separate_xyz", [nw.new_node("tex_coord").outputs["Generated"]]).outputs["Z"]
        color = nw.color_ramp(up, [(0.0, (*[c * 0.6 for c in rgb], 1.0)), (1.0, (*rgb, 1.0))])
    background = nw.new_node("background", input_kwargs={"Color": color, "Strength": params.sky_strength})
    nw.connect(background, nw.new_node("world_output").inputs["Surface"])
    scene.world = world

    sun_data = bpy.data.lights.new("sun", "SUN")
    sun_data.energy = params.sun_strength
    sun_data.angle = math.radians(params.sun_angle_deg if params.mode == "physical" else 8.0)
    sun = bpy.data.objects.new("sun", sun_data)
    d = sun_direction(params)
    # A sun lamp shines along its local -z: point that away from the sun direction.
    sun.rotation_mode = "QUATERNION"
    from mathutils import Vector

    sun.rotation_quaternion = Vector(d).to_track_quat("Z", "Y")
    scene.collection.objects.link(sun)
    return world, sun


def _physical_sky_type() -> str:
    """Blender 5.0 renamed the Nishita sky to MULTIPLE_SCATTERING."""
    import bpy

    items = {i.identifier for i in bpy.types.ShaderNodeTexSky.bl_rna.properties["sky_type"].enum_items}
    return "MULTIPLE_SCATTERING" if "MULTIPLE_SCATTERING" in items else "NISHITA"
