"""Compose a whole nature scene from a seed and a gin config.

Stages (each a gin configurable, each can be switched off or overridden):
``terrain``, ``water``, ``rocks``, ``trees``, ``ground_cover``, ``sky``, ``haze``, ``camera``,
``views`` (the framing rules cameras are chosen by).
A binding names a stage knob (``trees.density = 0``) or a field of the stage's sampled
parameters (``terrain.resolution = 128`` fixes TerrainParams.resolution). Scene types are
gin files in ``configs/`` (one per entry of :data:`SCENE_TYPES`) on top of ``base.gin``.

Everything is sampled and validated first, from child generators of one seeded
``numpy.random.Generator`` (one per stage, so switching a stage off does not change the
others), and only then built: bad input fails before any building starts.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

import gin
import numpy as np

from .configs import CONFIG_DIR
from .params import ParamError, check, replace_checked

SCENE_TYPES = ("forest", "mountain", "desert", "arctic", "meadow", "river", "coast", "plain", "canyon",
               "snowy_mountain", "lake")
# Appending keeps every earlier stage's random stream: stage i always gets child i of the seed.
STAGES = ("terrain", "water", "rocks", "trees", "ground_cover", "sky", "camera", "materials", "haze", "clutter")


class SceneConfigError(ValueError):
    """A scene type, gin file or binding that cannot be used; raised before building."""


# -- stage configurables ---------------------------------------------------------------------------
# Each returns its knobs plus the remaining bindings, which must be fields of the stage's Params.

@gin.configurable("terrain")
def terrain_stage(enabled=True, material="grass", shore_material=None, shore_band_m=0.6,
                  dicing_pixels=1.5, max_subdivisions=6, relief_height_range=(20.0, 80.0),
                  relief_wavelength_range=(300.0, 900.0), relief_ridged_range=(0.0, 0.4), **overrides):
    """``relief_*_range``: (lo, hi) the distant relief's height (m), wavelength (m) and ridging are drawn from.
    ``shore_material``: material of terrain faces from 1 m below to ``shore_band_m`` above the water.
    ``dicing_pixels``: Cycles subdivides the terrain at render time until an edge spans about this
    many pixels (at most ``max_subdivisions`` halvings of a grid cell), so the material's
    displacement is real geometry near the camera; 0 = no subdivision (bump and vertex
    displacement only)."""
    if not isinstance(shore_band_m, (int, float)) or not 0.0 <= shore_band_m <= 20.0:
        raise SceneConfigError(f"terrain.shore_band_m = {shore_band_m!r} must be in [0, 20] m")
    if isinstance(dicing_pixels, bool) or not isinstance(dicing_pixels, (int, float)) or \
            not (dicing_pixels == 0 or 0.5 <= dicing_pixels <= 100):
        raise SceneConfigError(f"terrain.dicing_pixels = {dicing_pixels!r} must be 0 (off) or in [0.5, 100] px")
    if isinstance(max_subdivisions, bool) or not isinstance(max_subdivisions, int) or not 0 <= max_subdivisions <= 10:
        raise SceneConfigError(f"terrain.max_subdivisions = {max_subdivisions!r} must be an integer in [0, 10]")
    return {"enabled": enabled, "material": material, "shore_material": shore_material,
            "shore_band_m": float(shore_band_m), "dicing_pixels": float(dicing_pixels),
            "max_subdivisions": max_subdivisions, "overrides": overrides,
            "relief": {"relief_height": _range("terrain.relief_height_range", relief_height_range, 0.0, 3000.0),
                       "relief_wavelength": _range("terrain.relief_wavelength_range", relief_wavelength_range,
                                                   50.0, 20000.0),
                       "relief_ridged": _range("terrain.relief_ridged_range", relief_ridged_range, 0.0, 1.0)}}


def _range(name: str, value, lo: float, hi: float) -> tuple[float, float]:
    """A (low, high) pair inside [lo, hi], or SceneConfigError naming the binding."""
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):
        raise SceneConfigError(f"{name} must be a pair (low, high), got {value!r}") from None
    if not (lo <= a <= hi and lo <= b <= hi):
        raise SceneConfigError(f"{name} = {value!r} is outside [{lo}, {hi}]")
    if a > b:
        raise SceneConfigError(f"{name} = {value!r}: the low end is above the high end")
    return a, b


def _probability(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise SceneConfigError(f"{name} = {value!r} must be a probability in [0, 1]")
    return float(value)


@gin.configurable("water")
def water_stage(enabled=False, level=0.25, material="water", category="water"):
    """A flat water (or ice) plane at ``level`` (fraction of the terrain's height range)."""
    return {"enabled": enabled, "level": level, "material": material, "category": category}


def _in_view(stage: str, fraction, distance_m) -> dict:
    """The share of a stage's objects placed where some frame looks, and how far out (m)."""
    fraction = _probability(f"{stage}.in_view_fraction", fraction)
    if isinstance(distance_m, bool) or not isinstance(distance_m, (int, float)) or not 5.0 <= distance_m <= 500.0:
        raise SceneConfigError(f"{stage}.in_view_distance_m = {distance_m!r} must be in [5, 500] m")
    return {"in_view_fraction": fraction, "in_view_distance_m": float(distance_m)}


@gin.configurable("rocks")
def rocks_stage(enabled=True, count=12, boulder_fraction=0.2, material="rock", max_slope_deg=45.0,
                in_view_fraction=0.5, in_view_distance_m=40.0, snow_material=None, **overrides):
    """``in_view_fraction`` of the rocks stand inside some frame's view, up to ``in_view_distance_m``;
    the rest anywhere on the near terrain. ``snow_material``: when set, each rock carries a snow
    cap (generators/snow_cover.py) of that material."""
    if not isinstance(count, int) or not 0 <= count <= 2000:
        raise SceneConfigError(f"rocks.count = {count!r} must be an integer in [0, 2000]")
    return {"enabled": enabled, "count": count, "boulder_fraction": boulder_fraction, "material": material,
            "max_slope_deg": max_slope_deg, "snow_material": snow_material, "overrides": overrides,
            **_in_view("rocks", in_view_fraction, in_view_distance_m)}


@gin.configurable("trees")
def trees_stage(enabled=True, density=0.6, species=("conifer", "broadleaf"), max_slope_deg=30.0,
                bark_material="bark", leaf_material="leaf", in_view_fraction=0.0, in_view_distance_m=60.0,
                snow_material=None, mesh_leaf_distance_m=20.0, **overrides):
    """``density``: trees per 100 square metres of terrain; ``in_view_fraction`` of them stand in
    some frame's view (up to ``in_view_distance_m``). ``snow_material``: snow on the branches.
    Trees within ``mesh_leaf_distance_m`` of a camera get leaves modelled in 3-D, the rest cards."""
    if isinstance(density, bool) or not isinstance(density, (int, float)) or not 0.0 <= density <= 20.0:
        raise SceneConfigError(f"trees.density = {density!r} must be in [0, 20] trees per 100 square metres")
    if not isinstance(mesh_leaf_distance_m, (int, float)) or not 0.0 <= mesh_leaf_distance_m <= 500.0:
        raise SceneConfigError(f"trees.mesh_leaf_distance_m = {mesh_leaf_distance_m!r} must be in [0, 500] m")
    return {"enabled": enabled, "density": density, "species": tuple(species), "max_slope_deg": max_slope_deg,
            "bark_material": bark_material, "leaf_material": leaf_material, "snow_material": snow_material,
            "mesh_leaf_distance_m": float(mesh_leaf_distance_m), "overrides": overrides, **_in_view("trees", in_view_fraction, in_view_distance_m)}


@gin.configurable("ground_cover")
def ground_cover_stage(enabled=True, density=1.0, **overrides):
    """``density`` scales every layer's instances per square metre."""
    return {"enabled": enabled, "density": density, "overrides": overrides}


@gin.configurable("clutter")
def clutter_stage(enabled=True, densities=None, materials=None, variants=4, **overrides):
    """Small and mid-sized assets scattered where the cameras look (generators/clutter.py).

    ``densities``: {family: instances per square metre before masking}; ``materials``: {family:
    material kind} over the family defaults; ``variants``: prototypes drawn per family.
    """
    from .generators import clutter

    densities = dict(densities or {})
    for name in [*densities, *(materials or {})]:
        if name not in clutter.FAMILIES:
            raise SceneConfigError(f"clutter: unknown asset family {name!r}; known: {', '.join(sorted(clutter.FAMILIES))}")
    for name, value in densities.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 400.0:
            raise SceneConfigError(f"clutter.densities[{name!r}] = {value!r} must be in [0, 400] per square metre")
    if not isinstance(variants, int) or not 1 <= variants <= 32:
        raise SceneConfigError(f"clutter.variants = {variants!r} must be an integer in [1, 32]")
    kinds = {name: clutter.DEFAULTS[name]["material"] for name in densities}
    kinds.update({k: v for k, v in (materials or {}).items() if k in densities})
    return {"enabled": enabled, "densities": densities, "materials": kinds, "variants": variants,
            "overrides": overrides}


@gin.configurable("sky")
def sky_stage(enabled=True, overcast_probability=0.1, cloud_probability=0.5, exposure=0.0, **overrides):
    """``exposure``: the scene type's exposure (EV) before the sun compensation."""
    return {"enabled": enabled,
            "overcast_probability": _probability("sky.overcast_probability", overcast_probability),
            "cloud_probability": _probability("sky.cloud_probability", cloud_probability),
            "exposure": exposure, "overrides": overrides}


@gin.configurable("haze")
def haze_stage(enabled=True, density_range=(0.0, 0.006), **overrides):
    """``density_range``: (lo, hi) extinction per metre the haze density is drawn from."""
    return {"enabled": enabled, "density_range": _range("haze.density_range", density_range, 0.0, 0.05),
            "overrides": overrides}


@gin.configurable("views")
def views_stage(**overrides):
    """Fields of generators.views.ViewRules (``views.candidates = 8``, ``views.max_sky_fraction = 0.4``)."""
    return {"overrides": overrides}


@gin.configurable("camera")
def camera_stage(trajectory=None, clearing_m=2.0, view_clearing_m=5.0, high_view_probability=0.05, **overrides):
    """``clearing_m``: no rock or tree closer than this to the camera path. ``view_clearing_m``: none
    this close in front of a camera (within 40 degrees of where it looks), so nothing blocks the view."""
    return {"trajectory": trajectory, "clearing_m": clearing_m, "view_clearing_m": view_clearing_m,
            "high_view_probability": _probability("camera.high_view_probability", high_view_probability),
            "overrides": overrides}


@gin.configurable("materials")
def materials_stage(grass="grass", petal="petal", leaf="leaf"):
    """Material kinds used by ground cover."""
    return {"grass": grass, "petal": petal, "leaf": leaf}


# -- configuration ----------------------------------------------------------------------------------

def configure(scene_type: str, gin_params=(), gin_files=()) -> dict:
    """Parse ``base.gin`` + the scene type's file + extra files + bindings; return every stage's config."""
    if scene_type not in SCENE_TYPES:
        raise SceneConfigError(f"unknown scene type {scene_type!r}; known: {', '.join(SCENE_TYPES)}")
    files = [CONFIG_DIR / "base.gin", CONFIG_DIR / f"{scene_type}.gin", *map(Path, gin_files)]
    for f in files:
        if not Path(f).is_file():
            raise SceneConfigError(f"gin file {f} does not exist")
    gin.clear_config()
    try:
        gin.parse_config_files_and_bindings([str(f) for f in files], list(gin_params))
    except (ValueError, KeyError, SyntaxError, TypeError) as exc:
        raise SceneConfigError(f"bad gin config: {_gin_message(exc)}") from None
    return {name: fn() for name, fn in (
        ("terrain", terrain_stage), ("water", water_stage), ("rocks", rocks_stage), ("trees", trees_stage),
        ("ground_cover", ground_cover_stage), ("sky", sky_stage), ("haze", haze_stage),
        ("camera", camera_stage), ("views", views_stage), ("materials", materials_stage),
        ("clutter", clutter_stage))}


def _gin_message(exc: Exception) -> str:
    msg = str(exc).strip().splitlines()
    return msg[0] if msg else type(exc).__name__


# -- the plan: everything sampled, nothing built ---------------------------------------------------------

@dataclass
class Placement:
    params: object
    location: tuple[float, float, float]
    yaw_deg: float
    #: SnowCoverParams of the snow lying on it, or None.
    snow: object = None


#: An object placed in view stands no farther than this many times its footprint radius.
_IN_VIEW_SIZES = 15.0


@dataclass
class ScenePlan:
    scene_type: str
    seed: int
    n_frames: int
    config: dict
    terrain: object = None
    sky: object = None
    haze: object = None
    #: {"level_m": absolute height of the water surface, "material", "category"} or None.
    water: dict | None = None
    camera: object = None
    #: How the camera was chosen: the framing rules, the kept candidate's judgement, rejections.
    camera_view: dict = field(default_factory=dict)
    ground_cover: object = None
    #: {family: {"layer": CoverLayer, "prototypes": [params], "material": kind}}
    clutter: dict = field(default_factory=dict)
    rocks: list = field(default_factory=list)
    trees: list = field(default_factory=list)
    #: The 1-3 tree species this scene's stand is made of (they grow in patches).
    tree_species: list = field(default_factory=list)
    material_params: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """The sampled parameters, JSON-ready (for scene.json)."""
        def conv(x):
            if dataclasses.is_dataclass(x):
                return {k: conv(v) for k, v in dataclasses.asdict(x).items()}
            if isinstance(x, dict):
                return {str(k): conv(v) for k, v in x.items()}
            if isinstance(x, (list, tuple)):
                return [conv(v) for v in x]
            if isinstance(x, (np.floating, np.integer)):
                return x.item()
            return x

        from .generators import sky

        lighting = sky.lighting(self.sky) if self.sky is not None and self.config["sky"]["enabled"] else None
        return conv({"scene_type": self.scene_type, "seed": self.seed, "terrain": self.terrain, "sky": self.sky,
                     "lighting": lighting, "haze": self.haze, "water": self.water, "camera": self.camera,
                     "camera_view": self.camera_view, "ground_cover": self.ground_cover,
                     "clutter": self.clutter, "rocks": self.rocks,
                     "trees": self.trees, "materials": self.material_params})


def _override(params, overrides: dict, stage: str):
    try:
        return replace_checked(params, **overrides)
    except ParamError as exc:
        raise SceneConfigError(f"{stage}: {exc}") from None


def plan(scene_type: str, seed: int, gin_params=(), n_frames: int = 1, gin_files=()) -> ScenePlan:
    """Sample every parameter of the scene and validate it. Builds nothing."""
    from . import materials
    from .generators import (
        atmosphere,
        cameras,
        clutter,
        ground_cover,
        rocks,
        sky,
        snow_cover,
        terrain,
        trees,
        views,
    )

    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SceneConfigError(f"seed must be a non-negative integer, got {seed!r}")
    if n_frames < 1:
        raise SceneConfigError(f"n_frames must be >= 1, got {n_frames}")
    cfg = configure(scene_type, gin_params, gin_files)
    stage_rngs = dict(zip(STAGES, np.random.default_rng(seed).spawn(len(STAGES)), strict=True))
    p = ScenePlan(scene_type, int(seed), n_frames, cfg)

    ter_cfg = cfg["terrain"]
    p.terrain = _override(terrain.sample_params(stage_rngs["terrain"], **ter_cfg["relief"]), ter_cfg["overrides"],
                          "terrain")
    if cfg["water"]["enabled"]:
        p.terrain = _override(p.terrain, {"water_level": cfg["water"]["level"]}, "water")
    try:
        sampler = terrain.world_sampler(p.terrain)
    except ParamError as exc:
        raise SceneConfigError(f"terrain: {exc}") from None
    if cfg["water"]["enabled"]:
        sampler.water_m = sampler.world.water_level_m  # cameras see (and stand above) the water
        p.water = {"level_m": sampler.water_m, "material": cfg["water"]["material"],
                   "category": cfg["water"]["category"]}

    cam_cfg = cfg["camera"]
    rules = _override(views.ViewRules(), cfg["views"]["overrides"], "views")
    p.camera, judgement, rejected = cameras.choose(
        stage_rngs["camera"], n_frames, sampler, rules, cam_cfg["trajectory"],
        overrides=lambda c: _override(c, cam_cfg["overrides"], "camera"),
        high_view_probability=cam_cfg["high_view_probability"])
    p.camera_view = {"rules": rules, "candidates": rules.candidates, "rejected": rejected,
                     "judgement": judgement.to_json()}
    path, targets = cameras.trajectory(p.camera, n_frames, sampler)
    view_cone = (path, targets, float(cam_cfg["view_clearing_m"]))

    sky_cfg = cfg["sky"]
    p.sky = _override(sky.sample_params(stage_rngs["sky"], sky_cfg["overcast_probability"],
                                        sky_cfg["cloud_probability"], sky_cfg["exposure"]),
                      sky_cfg["overrides"], "sky")
    haze_cfg = cfg["haze"]
    if haze_cfg["enabled"]:
        p.haze = _override(atmosphere.sample_params(stage_rngs["haze"], haze_cfg["density_range"]),
                           haze_cfg["overrides"], "haze")

    mat_rng = stage_rngs["materials"]
    kinds = {cfg["terrain"]["material"], cfg["rocks"]["material"], cfg["trees"]["bark_material"],
             cfg["trees"]["leaf_material"], *cfg["materials"].values()}
    if cfg["clutter"]["enabled"]:
        kinds |= set(cfg["clutter"]["materials"].values())
    kinds |= {cfg[stage]["snow_material"] for stage in ("rocks", "trees") if cfg[stage]["snow_material"]}
    if cfg["water"]["enabled"]:
        kinds.add(cfg["water"]["material"])
        if cfg["terrain"]["shore_material"]:
            kinds.add(cfg["terrain"]["shore_material"])
    for kind in sorted(kinds):
        if kind not in materials.MATERIALS:
            raise SceneConfigError(f"unknown material {kind!r}; known: {', '.join(sorted(materials.MATERIALS))}")
        p.material_params[kind] = materials.MATERIALS[kind].sample_params(mat_rng)

    taken: list[tuple[float, float, float]] = []  # (x, y, radius) of placed objects
    focal = p.camera.focal_mm
    rk = cfg["rocks"]
    if rk["enabled"]:
        rng = stage_rngs["rocks"]
        for _ in range(rk["count"]):
            big = rng.random() < rk["boulder_fraction"]
            params = (rocks.sample_boulder_params if big else rocks.sample_params)(rng)
            params = _override(params, rk["overrides"], "rocks")
            in_view = (focal, rk["in_view_distance_m"]) if rng.random() < rk["in_view_fraction"] else None
            spot = _spot(rng, sampler, view_cone, taken, _footprint(params), rk["max_slope_deg"],
                         cam_cfg["clearing_m"], in_view)
            if spot is not None:
                snow = snow_cover.sample_params(rng) if rk["snow_material"] else None
                p.rocks.append(Placement(params, spot, float(rng.uniform(0, 360)), snow))
    tr = cfg["trees"]
    if tr["enabled"] and tr["density"] > 0:
        rng = stage_rngs["trees"]
        area = p.terrain.extent_m ** 2
        stand = trees.sample_stand(rng, tr["species"], p.terrain.extent_m)
        p.tree_species = list(stand.species)
        half = p.terrain.extent_m / 2
        for _ in range(int(round(tr["density"] * area / 100.0))):
            # The species of a random point of the stand (so each is drawn in proportion to its
            # patches' area), then a spot inside one of its patches.
            species = stand.species_at(*rng.uniform(-half, half, size=2))
            params = _override(trees.sample_params(rng, species=species), tr["overrides"], "trees")
            in_view = (focal, tr["in_view_distance_m"]) if rng.random() < tr["in_view_fraction"] else None
            spot = _spot(rng, sampler, view_cone, taken, _footprint(params), tr["max_slope_deg"],
                         cam_cfg["clearing_m"], in_view,
                         accept=lambda x, y, s=species: stand.species_at(x, y) == s)
            if spot is not None:
                snow = snow_cover.sample_params(rng) if tr["snow_material"] else None
                p.trees.append(Placement(params, spot, float(rng.uniform(0, 360)), snow))
    gc = cfg["ground_cover"]
    if gc["enabled"] and gc["density"] > 0:
        p.ground_cover = _override(ground_cover.sample_params(stage_rngs["ground_cover"], gc["density"]),
                                   gc["overrides"], "ground_cover")
    cl = cfg["clutter"]
    if cl["enabled"]:
        rng = stage_rngs["clutter"]
        for family in sorted(cl["densities"]):
            sample, _, _ = clutter.FAMILIES[family]
            layer = clutter.sample_layer(rng, family, cl["densities"][family])
            layer = _override(layer, {k[len(family) + 1:]: v for k, v in cl["overrides"].items()
                                      if k.startswith(family + "_")}, "clutter")
            p.clutter[family] = {"layer": layer, "prototypes": [sample(rng) for _ in range(cl["variants"])],
                                 "material": cl["materials"][family]}
    for part in (p.terrain, p.camera, p.sky, p.haze, p.ground_cover,
                 *(c["layer"] for c in p.clutter.values())):
        if part is not None:
            check(part)
    return p


def _footprint(params) -> float:
    """Horizontal radius (m) an object needs, from its size parameters."""
    for name in ("crown_radius_m", "size_m"):
        if hasattr(params, name):
            return float(getattr(params, name))
    if hasattr(params, "height_m"):
        return 0.3 * float(params.height_m)
    return 1.0


def _spot(rng, sampler, view_cone, taken, radius, max_slope_deg, clearing_m, in_view=None, accept=None,
          tries: int = 30):
    """A free spot on walkable ground away from the camera path and out of the near view, or None.

    ``view_cone`` = (camera positions (n, 3), look targets (n, 3), distance m): nothing within that
    distance (plus its radius) of a camera and within 40 degrees of its view direction.
    ``in_view`` = (focal mm, distance m): the spot is drawn inside a random frame's horizontal field
    of view, beyond the clearing and up to that distance or ``_IN_VIEW_SIZES`` radii, and must be in
    the frustum (visibility.seen); None: anywhere on the near terrain. ``accept(x, y)``: a further
    condition on the spot (a tree species grows only in its patches).
    """
    from .generators import visibility

    path, targets, view_clearing = view_cone
    forward = targets[:, :2] - path[:, :2]
    forward /= np.maximum(np.linalg.norm(forward, axis=-1, keepdims=True), 1e-9)
    cos_cone = math.cos(math.radians(40.0))
    margin = radius + 0.5
    half = sampler.extent / 2 - margin
    min_nz = math.cos(math.radians(max_slope_deg))
    for _ in range(tries):
        if in_view is None:
            x, y = rng.uniform(-half, half, size=2)
        else:
            focal_mm, reach = in_view
            i = int(rng.integers(len(path)))
            near = view_clearing + radius + 0.5
            if near >= reach:
                return None
            # Uniform in distance (not area), and no farther than where the object still spans
            # about 4 degrees: a 0.5 m stone 40 m away is a few pixels, which nobody trains on.
            dist = rng.uniform(near, max(near + 1.0, min(reach, _IN_VIEW_SIZES * radius)))
            angle = math.atan2(forward[i, 1], forward[i, 0]) + rng.uniform(-1.0, 1.0) * math.atan(18.0 / focal_mm)
            x, y = path[i, 0] + dist * math.cos(angle), path[i, 1] + dist * math.sin(angle)
            if max(abs(x), abs(y)) > half:
                continue
            base = np.array([[x, y, float(sampler.height(x, y)) + 0.5 * radius]])
            if not visibility.seen(base, path[i:i + 1], targets[i:i + 1], focal_mm, reach + radius, radius)[0]:
                continue
        if accept is not None and not accept(x, y):
            continue
        if float(sampler.normal(x, y)[2]) < min_nz:
            continue
        if sampler.water_m is not None and float(sampler.height(x, y)) < sampler.water_m + 0.2:
            continue  # not in the water
        offset = np.array([x, y]) - path[:, :2]
        dist = np.linalg.norm(offset, axis=-1)
        if np.min(dist) < clearing_m + radius:
            continue
        ahead = np.einsum("ij,ij->i", offset, forward) > cos_cone * dist
        if np.any(ahead & (dist < view_clearing + radius)):
            continue
        if any(math.hypot(x - ox, y - oy) < radius + orad for ox, oy, orad in taken):
            continue
        taken.append((float(x), float(y), radius))
        return (float(x), float(y), float(sampler.height(x, y)))
    return None


# -- building --------------------------------------------------------------------------------------

@dataclass
class SceneResult:
    plan: ScenePlan
    objects: list
    camera: object
    sampler: object


def build(p: ScenePlan, scene=None) -> SceneResult:
    """Build a planned scene into ``scene`` (default: the context scene). Deterministic."""
    import bpy

    from ..render_gt.labels import set_label
    from . import compat, materials
    from .generators import (
        atmosphere,
        cameras,
        clutter,
        ground_cover,
        rocks,
        sky,
        snow_cover,
        terrain,
        trees,
        visibility,
    )

    scene = scene or bpy.context.scene
    mats = {kind: materials.MATERIALS[kind].build(params) for kind, params in p.material_params.items()}
    cfg = p.config
    objects = []
    ter, sampler = terrain.build(p.terrain)
    grounds = [o for o in (ter, terrain.far_object(ter)) if o is not None]
    for obj in grounds:
        obj.data.materials.append(mats[cfg["terrain"]["material"]])
    objects += grounds
    ground_kinds = [cfg["terrain"]["material"]]
    if cfg["water"]["enabled"] and cfg["terrain"]["shore_material"]:
        ground_kinds.append(cfg["terrain"]["shore_material"])
    displaced = any(p.material_params[k].relief.displacement > 0 for k in ground_kinds)
    if displaced and cfg["terrain"]["dicing_pixels"] > 0 and cfg["terrain"]["max_subdivisions"] > 0:
        compat.adaptive_subdivision(ter, scene, cfg["terrain"]["dicing_pixels"], cfg["terrain"]["max_subdivisions"])
    # Scatter only where some frame looks: view masks on the near grid (ground_cover.MASKS).
    positions, targets = cameras.trajectory(p.camera, p.n_frames, sampler)
    centres = terrain.near_face_centres(ter, p.terrain)
    for mask, distance in ground_cover.MASK_DISTANCE_M.items():
        terrain.set_face_mask(ter, ground_cover.MASKS[mask],
                              visibility.seen(centres, positions, targets, p.camera.focal_mm, distance))

    world_half = max(p.terrain.far_extent_m, p.terrain.extent_m / 2)
    if cfg["water"]["enabled"]:
        level = sampler.world.water_level_m
        sampler.water_m = level
        if cfg["terrain"]["shore_material"]:
            for obj in grounds:
                _paint_shore(obj, mats[cfg["terrain"]["shore_material"]], level, cfg["terrain"]["shore_band_m"])
        # A closed slab to the world's edge (so no view sees where it ends) and down below the
        # deepest ground: the water material's absorption needs a closed volume, and light then
        # crosses more water where it is deeper.
        bottom = min(float(sampler.h.min()), level - p.terrain.channel_depth_m - p.terrain.coast_drop_m) - 5.0
        bpy.ops.mesh.primitive_cube_add(size=1.0, location=(0.0, 0.0, (level + bottom) / 2))
        water = bpy.context.object
        water.scale = (2 * world_half, 2 * world_half, level - bottom)
        bpy.ops.object.transform_apply(location=False, rotation=False, scale=True)
        water.name = "water"
        water.data.materials.append(mats[cfg["water"]["material"]])
        set_label(water, cfg["water"]["category"])
        objects.append(water)

    obstacles = []
    for i, place in enumerate(p.rocks):
        obj = rocks.build(place.params, name=f"rock_{i:03d}")
        _place(obj, place)
        obj.data.materials.append(mats[cfg["rocks"]["material"]])
        objects.append(obj)
        obstacles.append(_aabb(obj))
        if place.snow is not None:
            cap = snow_cover.build(place.snow, obj, material=mats[cfg["rocks"]["snow_material"]])
            objects += [cap] if cap is not None else []
    outline = _leaf_outline(p.material_params.get(cfg["trees"]["leaf_material"]))
    for i, place in enumerate(p.trees):
        near = np.min(np.linalg.norm(positions[:, :2] - np.array(place.location[:2]), axis=1))
        built = trees.build(place.params, name=f"tree_{i:03d}",
                            mesh_leaves=outline if near <= cfg["trees"]["mesh_leaf_distance_m"] else None)
        parts = _tree_objects(built)
        for obj in parts["render"]:
            if obj.parent is None:  # children (leaf instancers) follow their parent
                _place(obj, place)
            objects.append(obj)
        trunk = parts["trunk"]
        if trunk is not None and not trunk.data.materials:
            trunk.data.materials.append(mats[cfg["trees"]["bark_material"]])
        card = parts["card"]
        if card is not None and not card.data.materials:
            card.data.materials.append(mats[cfg["trees"]["leaf_material"]])
        if trunk is not None:
            # The camera keeps clear of the stem, not of the crown's box: a broadleaf's box spans
            # metres beyond its crown_radius_m, and a camera inside it was lifted above the tree
            # (meadow seed 0 with 2 frames: 17 m up, a frame of far grass and sky).
            obstacles.append(_stem_box(place))
            if place.snow is not None:
                cap = snow_cover.build(place.snow, trunk, material=mats[cfg["trees"]["snow_material"]])
                objects += [cap] if cap is not None else []
    if p.ground_cover is not None:
        gm = cfg["materials"]
        objects += ground_cover.build(p.ground_cover, ter, {k: mats[v] for k, v in gm.items()})
    for family, spec in p.clutter.items():
        _, build_one, category = clutter.FAMILIES[family]
        protos = [build_one(params, name=f"{family}_{i}", material=mats[spec["material"]], collection=False)
                  for i, params in enumerate(spec["prototypes"])]
        objects.append(ground_cover.scatter_host(f"{family}_scatter", category, spec["layer"], protos, ter))
    if cfg["sky"]["enabled"]:
        sky.build(p.sky, scene)
    if p.haze is not None:
        atmosphere.build(p.haze, world_half, float(sampler.h.min()), sky.horizon_radiance(p.sky))
    cam = cameras.build(p.camera, p.n_frames, sampler, obstacles, scene)
    return SceneResult(p, objects, cam, sampler)


def _leaf_outline(material_params):
    """The leaf material's blade outline (for leaves modelled in 3-D), or the default outline."""
    from .generators.leaf_instances import LeafOutline

    shape = getattr(material_params, "leaf", None)
    if shape is None:
        return LeafOutline()
    return LeafOutline(shape.width, shape.base_taper, shape.tip_taper, shape.edge_softness)


def _paint_shore(terrain_obj, material, level: float, band_m: float) -> None:
    """Give terrain faces from 1 m under the water to ``band_m`` above it the shore material (slot 1).
    Same object, so the shore keeps the terrain's ids."""
    mesh = terrain_obj.data
    mesh.materials.append(material)
    centres = np.empty(len(mesh.polygons) * 3, np.float32)
    mesh.polygons.foreach_get("center", centres)
    z = centres.reshape(-1, 3)[:, 2]
    mesh.polygons.foreach_set("material_index", ((z > level - 1.0) & (z < level + band_m)).astype(np.int32))


def _place(obj, place: Placement) -> None:
    obj.location = place.location
    obj.rotation_euler[2] = math.radians(place.yaw_deg)


def _aabb(obj):
    import bpy
    from mathutils import Vector

    bpy.context.view_layer.update()
    corners = np.array([obj.matrix_world @ Vector(c) for c in obj.bound_box])
    return corners.min(axis=0), corners.max(axis=0)


def _stem_box(place: Placement):
    """World AABB (m) of a tree's stem column: trunk radius plus 0.2 m around, ground to top."""
    x, y, z = place.location
    half = float(getattr(place.params, "trunk_radius_m", 0.2)) + 0.2
    return np.array([x - half, y - half, z]), np.array([x + half, y + half, z + float(place.params.height_m)])


def _tree_objects(built) -> dict:
    """Normalise the trees generator's result: objects to place, the trunk, the leaf card."""
    get = built.get if isinstance(built, dict) else (lambda k, d=None: getattr(built, k, d))
    trunk = get("trunk") or get("branches") or get("mesh")
    leaves = get("leaves") or get("leaf_instancer")
    card = get("leaf_card") or get("card") or get("prototype")
    return {"render": [o for o in (trunk, leaves) if o is not None], "trunk": trunk, "card": card}


def compose(scene_type: str, seed: int, gin_params=(), n_frames: int = 1, gin_files=(), scene=None) -> SceneResult:
    """Plan and build a scene in one call (what the dataset and the add-on use)."""
    return build(plan(scene_type, seed, gin_params, n_frames, gin_files), scene)
