"""Sky and light: Blender's physical sky with a sun lamp that matches it in direction and colour,
an optional procedural cloud layer, or an overcast dome; AgX view transform and exposure.

Angles in degrees: elevation above the horizon, azimuth clockwise from +y (north) seen from above.
The sun lamp's colour is the direct-beam transmittance of the same atmosphere the sky texture
models (Rayleigh scattering by air, aerosol extinction, ozone absorption) along the Kasten-Young
air mass, so a low sun is orange in both. Clouds are drawn in the world shader (a noise layer
projected onto a plane at ``cloud_altitude_m``): they light the scene like sky and never touch
any ground-truth pass.
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass

import numpy as np

from ..params import check, param

#: Optical depths of a standard atmosphere at the zenith, at red/green/blue (680/550/440 nm):
#: Rayleigh (Bodhaine et al. 1999 fit), aerosol (Angstrom beta 0.05, alpha 1.3), ozone (Chappuis band).
RAYLEIGH_TAU = np.array([0.0401, 0.0937, 0.2286])
AEROSOL_TAU = np.array([0.0824, 0.1090, 0.1456])
OZONE_TAU = np.array([0.0150, 0.0300, 0.0050])
#: The physical sky at background strength 1 (Blender 5.0.1, standard air/aerosol/ozone, measured by
#: rendering the world alone: scripts in the issue-13 note): linear RGB radiance at the horizon and
#: irradiance on level ground, per sun elevation. Haze, clouds and exposure are balanced with it.
SKY_CALIBRATION_ELEVATIONS = np.array([8.0, 20.0, 40.0, 70.0])
SKY_HORIZON_RADIANCE = np.array([[8.80, 8.62, 7.27], [9.15, 11.29, 12.54], [8.75, 11.88, 14.56],
                                 [8.85, 12.24, 15.44]])
SKY_IRRADIANCE = np.array([[8.35, 12.94, 20.44], [12.11, 20.29, 34.72], [15.24, 26.13, 45.69],
                           [17.68, 30.69, 54.35]])
#: Ground irradiance (green, lamp units) at exposure 0 EV.
REFERENCE_IRRADIANCE = 5.5


@dataclass
class SkyParams:
    mode: str = param("physical", choices=("physical", "overcast"), doc="sky model")
    sun_elevation_deg: float = param(35.0, 1.0, 90.0, "deg", "sun height above the horizon")
    sun_azimuth_deg: float = param(120.0, 0.0, 360.0, "deg", "sun direction, clockwise from +y")
    sun_strength: float = param(4.0, 0.0, 50.0, "W/m^2", "sun irradiance before the atmosphere dims it")
    sun_angle_deg: float = param(0.5, 0.0, 10.0, "deg", "angular diameter (shadow softness)")
    air_density: float = param(1.0, 0.0, 10.0, "", "air (Rayleigh) density, 1 = standard")
    aerosol_density: float = param(1.0, 0.0, 10.0, "", "dust/haze density, 1 = standard")
    ozone_density: float = param(1.0, 0.0, 10.0, "", "ozone density, 1 = standard")
    sky_strength: float = param(0.035, 0.0, 10.0, "", "world background strength (at 0.035 the sky gives "
                                "about a fifth of a 45-degree sun's light on the ground)")
    overcast_hue: float = param(0.58, 0.0, 1.0, "", "overcast: hue of the cloud colour")
    overcast_value: float = param(0.75, 0.0, 1.0, "", "overcast: brightness of the cloud colour")
    cloud_coverage: float = param(0.0, 0.0, 1.0, "", "share of the sky under cloud (0 = clear)")
    cloud_scale_m: float = param(900.0, 50.0, 20000.0, "m", "size of cloud features on their plane")
    cloud_altitude_m: float = param(1500.0, 100.0, 20000.0, "m", "height of the cloud plane above the camera")
    cloud_softness: float = param(0.08, 0.005, 0.5, "", "width of cloud edges in noise units")
    cloud_seed: float = param(0.0, 0.0, 1000.0, "", "offset into the cloud noise")
    exposure_ev: float = param(0.0, -10.0, 10.0, "EV", "scene-type exposure before sun compensation")
    auto_exposure: bool = param(True, doc="compensate the exposure for the sun's irradiance on the ground")
    look: str = param("Medium High Contrast", choices=("None", "Base Contrast", "Medium Low Contrast",
                                                        "Medium Contrast", "Medium High Contrast",
                                                        "High Contrast", "Punchy"), doc="AgX look")


def sample_params(rng: np.random.Generator, overcast_probability: float = 0.1, cloud_probability: float = 0.5,
                  exposure_ev: float = 0.0) -> SkyParams:
    """Sun elevation uniform on the sphere between 8 and 90 degrees (P(el) ~ cos el), so low
    suns are common; clouds appear with ``cloud_probability``."""
    overcast = rng.random() < overcast_probability
    elevation = math.degrees(math.asin(rng.uniform(math.sin(math.radians(8.0)), 1.0)))
    cloudy = rng.random() < cloud_probability
    return SkyParams(
        mode="overcast" if overcast else "physical",
        sun_elevation_deg=float(elevation),
        sun_azimuth_deg=float(rng.uniform(0.0, 360.0)),
        sun_strength=float(rng.uniform(0.6, 1.2) if overcast else rng.uniform(3.5, 5.0)),
        sun_angle_deg=float(np.clip(rng.normal(0.5, 0.3), 0.25, 5.0)),
        air_density=float(np.clip(rng.normal(1.0, 0.2), 0.7, 1.3)),
        aerosol_density=float(np.clip(rng.normal(1.0, 1.0), 0.1, 2.0)),
        ozone_density=float(np.clip(rng.normal(1.0, 1.0), 0.1, 10.0)),
        sky_strength=float(rng.uniform(0.6, 1.0) if overcast else rng.uniform(0.025, 0.045)),
        overcast_hue=float(rng.uniform(0.52, 0.64)),
        overcast_value=float(rng.uniform(0.55, 0.9)),
        cloud_coverage=float(rng.uniform(0.15, 0.6) if cloudy else 0.0),
        cloud_scale_m=float(rng.uniform(500.0, 2000.0)),
        cloud_altitude_m=float(rng.uniform(1000.0, 3000.0)),
        cloud_softness=float(rng.uniform(0.04, 0.15)),
        cloud_seed=float(rng.uniform(0.0, 1000.0)),
        exposure_ev=float(exposure_ev),
    )


def sun_direction(params: SkyParams) -> np.ndarray:
    """Unit vector from the ground towards the sun (world axes, z up)."""
    el, az = math.radians(params.sun_elevation_deg), math.radians(params.sun_azimuth_deg)
    return np.array([math.sin(az) * math.cos(el), math.cos(az) * math.cos(el), math.sin(el)])


def air_mass(elevation_deg: float) -> float:
    """Relative optical path through the atmosphere (Kasten & Young 1989); 1 at the zenith, ~38 at 0."""
    el = max(elevation_deg, 0.0)
    return 1.0 / (math.sin(math.radians(el)) + 0.50572 * (el + 6.07995) ** -1.6364)


def sun_transmittance(params: SkyParams) -> np.ndarray:
    """Direct-beam transmittance (linear RGB, each in (0, 1]) of the sky's atmosphere towards the sun."""
    tau = (params.air_density * RAYLEIGH_TAU + params.aerosol_density * AEROSOL_TAU
           + params.ozone_density * OZONE_TAU)
    return np.exp(-air_mass(params.sun_elevation_deg) * tau)


def _calibrated(table: np.ndarray, elevation_deg: float) -> np.ndarray:
    return np.array([np.interp(elevation_deg, SKY_CALIBRATION_ELEVATIONS, table[:, c]) for c in range(3)])


def horizon_radiance(params: SkyParams) -> np.ndarray:
    """Linear RGB radiance of the sky just above the horizon, as rendered (strength included): the
    colour distant terrain fades into through haze."""
    if params.mode == "overcast":
        return 0.6 * np.array(colorsys.hsv_to_rgb(params.overcast_hue, 0.08, params.overcast_value)) * \
            params.sky_strength
    return _calibrated(SKY_HORIZON_RADIANCE, params.sun_elevation_deg) * params.sky_strength


def sky_irradiance(params: SkyParams) -> np.ndarray:
    """Linear RGB irradiance the sky (without the sun lamp) puts on level ground."""
    if params.mode == "overcast":
        return math.pi * 0.8 * np.array(colorsys.hsv_to_rgb(params.overcast_hue, 0.08, params.overcast_value)) * \
            params.sky_strength
    return _calibrated(SKY_IRRADIANCE, params.sun_elevation_deg) * params.sky_strength


def lighting(params: SkyParams) -> dict:
    """What the sky's parameters imply for the lamp and the camera (recorded in scene.json).

    sun_color: the lamp's linear RGB (max channel 1); sun_energy: its strength (W/m^2), so that
    colour x energy is the transmitted irradiance. exposure_ev: the exposure set on the scene.
    """
    check(params)
    if params.mode == "physical":
        t = sun_transmittance(params)
        color, energy = t / t.max(), params.sun_strength * float(t.max())
    else:
        color, energy = np.ones(3), params.sun_strength
    sun_ground = float((color * energy)[1]) * math.sin(math.radians(params.sun_elevation_deg))
    sky_ground = float(sky_irradiance(params)[1])
    exposure = params.exposure_ev
    if params.auto_exposure:
        # A low sun dims the ground: open the exposure by the irradiance ratio (bounded).
        exposure += float(np.clip(math.log2(REFERENCE_IRRADIANCE / max(sun_ground + sky_ground, 1e-3)), -1.5, 2.5))
    return {"sun_color": [float(c) for c in color], "sun_energy": float(energy), "exposure_ev": float(exposure),
            "sun_to_sky_ratio": sun_ground / max(sky_ground, 1e-9),
            "horizon_radiance": [float(c) for c in horizon_radiance(params)],
            "view_transform": "AgX", "look": params.look}


def build(params: SkyParams, scene=None):
    """Set ``scene``'s world, colour management and a sun lamp; returns (world, sun object)."""
    import bpy
    from mathutils import Vector

    from .. import compat
    from ..nodes import NodeWrangler

    light = lighting(params)
    scene = scene or bpy.context.scene
    world = bpy.data.worlds.new("sky")
    compat.node_tree(world).nodes.clear()
    nw = NodeWrangler(world)
    if params.mode == "physical":
        color = nw.new_node("sky", attrs={
            "sky_type": compat.physical_sky_type(),
            "sun_elevation": math.radians(params.sun_elevation_deg),
            # Blender's sun_rotation turns counter-clockwise from +x; convert from our azimuth.
            "sun_rotation": math.radians((90.0 - params.sun_azimuth_deg) % 360.0),
            "air_density": params.air_density, compat.sky_aerosol_attr(): params.aerosol_density,
            "ozone_density": params.ozone_density,
            # The lamp is the sun; a disc in the sky too would light the scene twice.
            "sun_disc": False})
        if params.cloud_coverage > 0:
            color = _clouds(nw, params, color, light)
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
    sun_data.energy = light["sun_energy"]
    sun_data.color = light["sun_color"]
    sun_data.angle = math.radians(params.sun_angle_deg if params.mode == "physical" else 8.0)
    sun = bpy.data.objects.new("sun", sun_data)
    # A sun lamp shines along its local -z: point that away from the sun direction.
    sun.rotation_mode = "QUATERNION"
    sun.rotation_quaternion = Vector(sun_direction(params)).to_track_quat("Z", "Y")
    scene.collection.objects.link(sun)
    compat.set_agx(scene.view_settings, params.look)
    scene.view_settings.exposure = light["exposure_ev"]
    return world, sun


def _clouds(nw, params: SkyParams, sky_color, light: dict):
    """Mix a cloud layer over ``sky_color``: noise on the plane z = cloud_altitude_m, seen along the
    view direction, faded towards the horizon where the layer's projection stretches."""
    d = nw.new_node("tex_coord").outputs["Generated"]
    xyz = nw.new_node("separate_xyz", [d])
    dz = nw.math("MAXIMUM", xyz.outputs["Z"], 0.02)
    reach = nw.math("DIVIDE", params.cloud_altitude_m / params.cloud_scale_m, dz)
    plane = nw.new_node("combine_xyz", [nw.math("MULTIPLY", xyz.outputs["X"], reach),
                                        nw.math("MULTIPLY", xyz.outputs["Y"], reach), params.cloud_seed])
    noise = nw.new_node("noise", input_kwargs={"Vector": plane, "Scale": 1.0, "Detail": 6.0, "Roughness": 0.55},
                        attrs={"noise_dimensions": "3D"})
    # Noise Fac is about N(0.5, 0.1): the threshold that leaves ``coverage`` of the sky under cloud.
    threshold = 0.5 + 0.12 * (1.0 - 2.0 * params.cloud_coverage)
    cover = nw.new_node("map_range", input_kwargs={
        "Value": noise.outputs["Fac"], "From Min": threshold - params.cloud_softness,
        "From Max": threshold + params.cloud_softness}, attrs={"interpolation_type": "SMOOTHSTEP"})
    fade = nw.new_node("map_range", input_kwargs={"Value": xyz.outputs["Z"], "From Min": 0.0, "From Max": 0.12},
                       attrs={"interpolation_type": "SMOOTHSTEP"})
    alpha = nw.math("MULTIPLY", cover, fade)
    # Cloud radiance ~ a white diffuser lit by the sun and the sky, then divided by the background
    # strength, which the world node multiplies both sky and clouds by.
    sun_rgb = np.array(light["sun_color"]) * light["sun_energy"]
    lit = 0.55 * (sun_rgb * (0.4 + 0.6 * math.sin(math.radians(params.sun_elevation_deg)))
                  + sky_irradiance(params)) / math.pi
    lit = lit / max(params.sky_strength, 1e-6)
    shade = 0.5 * lit
    # Thicker cores are darker underneath: blend lit -> shaded with the noise past the edge.
    core = nw.new_node("map_range", input_kwargs={"Value": noise.outputs["Fac"], "From Min": threshold,
                                                  "From Max": threshold + 0.15})
    cloud = nw.new_node("mix", attrs={"data_type": "RGBA"}, input_kwargs={
        "Factor": core, 6: (*lit, 1.0), 7: (*shade, 1.0)})
    return nw.new_node("mix", attrs={"data_type": "RGBA"}, input_kwargs={
        "Factor": alpha, 6: sky_color, 7: (cloud, 2)})
