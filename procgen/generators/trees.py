"""Trees and shrubs: a recursively branched skeleton swept into tapered tubes, with instanced
leaf cards.

The skeleton is a list of polylines with a radius per point (metres). Stems grow from the
origin; each branch of level ``i`` spawns ``branches_per_level[i]`` children along its length,
bending towards +z by ``gravitropism`` and randomly by ``wobble_deg``. The skeleton is then
scaled (positions only, radii kept) so the highest point sits half a leaf below ``height_m``:
with its leaves the tree is then about ``height_m`` tall.
The tubes are CURVE objects (one per level, so trunks get rounder cross-sections than twigs)
with per-point radius, converted to one mesh. Leaves are cards instanced on points along the
outermost branches (see :mod:`.leaf_instances`).

Objects: origin at the base of the trunk (local z = 0 is the ground), z up. The leaf
instancer and the leaf card are parented to the trunk object, so moving it moves the tree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import bpy

# bmesh exists only once bpy has started Blender, so it is imported second.
# isort: split
import bmesh
import numpy as np

from ...render_gt.labels import set_label
from ..params import ParamError, check, param
from .leaf_instances import (
    LeafOutline,
    card_prototype,
    euler_to_quaternion,
    leaf_mesh_prototype,
    point_instancer,
)
from .mesh_utils import link

SPECIES = ("conifer", "broadleaf", "shrub", "dead")
CROWN_SHAPES = ("conical", "spherical", "cylindrical", "umbrella")
MAX_LEVELS = 4

# Stem-child length factor by normalised height within the crown (0 = crown base, 1 = top).
_CROWN = {
    "conical": lambda t: 1.0 - 0.85 * t,
    "spherical": lambda t: 0.3 + 0.7 * math.sin(math.pi * t),
    "cylindrical": lambda t: 1.0 - 0.3 * t,
    "umbrella": lambda t: 0.4 + 0.6 * t,
}
_SEGMENTS = (12, 6, 4, 3)  # polyline segments per branch, by level
# Tube cross-sections have 4 + 2 * resolution sides: trunks are seen up close, twigs are pixels wide.
_BEVEL_RESOLUTION = (3, 1, 0, 0)
_TIP_RATIO = (0.15, 0.3, 0.4, 0.5)  # tip radius / base radius, by level
_MIN_RADIUS_M = 0.002
_MIN_LENGTH_M = 0.02
_GOLDEN_ANGLE = math.pi * (3.0 - math.sqrt(5.0))
_LEAF_FREE_BASE = 0.25  # fraction of a leaf-bearing branch, from its base, that carries no leaves


@dataclass
class TreeParams:
    """Shape parameters; lengths in metres, angles in degrees."""

    species: str = param("broadleaf", choices=SPECIES, doc="preset family; 'dead' trees have no leaves")
    height_m: float = param(8.0, 0.2, 60.0, unit="m", doc="height of the finished tree, leaves included")
    trunk_radius_m: float = param(0.15, 0.003, 2.0, unit="m", doc="radius of each stem at its base")
    n_stems: int = param(1, 1, 12, doc="stems rising from the base (shrubs have several)")
    trunk_fraction: float = param(0.6, 0.1, 1.0, doc="stem length / height, before the skeleton is fitted "
                                                     "to height_m (lower: the crown is made of branches)")
    levels: int = param(3, 1, MAX_LEVELS, doc="branching depth; 1 = stems only")
    branches_per_level: tuple[int, int, int] = param(
        (6, 4, 3), 0, 60, doc=f"children per branch of level 0 (stems) .. {MAX_LEVELS - 2}")
    branch_angle_deg: float = param(45.0, 5.0, 120.0, unit="deg", doc="angle between a stem and its children")
    twig_angle_deg: float = param(40.0, 5.0, 120.0, unit="deg",
                                  doc="angle between a branch and its children (deeper levels)")
    length_ratio: float = param(0.6, 0.05, 1.0, doc="child length / parent length, before the crown shape")
    radius_ratio: float = param(0.6, 0.1, 1.0, doc="child base radius / parent radius where it branches off")
    crown_base: float = param(0.35, 0.0, 0.95, doc="fraction of a stem, from the ground, without branches")
    crown_shape: str = param("spherical", choices=CROWN_SHAPES,
                             doc="how the length of a stem's branches varies with height")
    gravitropism: float = param(0.2, -1.0, 1.0, doc="z gained by a branch's direction over its length: "
                                                    ">0 curves up, <0 droops")
    wobble_deg: float = param(10.0, 0.0, 40.0, unit="deg", doc="largest random bend per segment")
    breakage: float = param(0.0, 0.0, 1.0, doc="probability that a branch is broken off short")
    leaf_density: float = param(15.0, 0.0, 400.0, unit="1/m",
                                doc="leaf cards per metre of leaf-bearing branch")
    leaf_levels: int = param(1, 1, MAX_LEVELS, doc="outermost branch levels that carry leaves "
                                                   "(childless branches always do)")
    leaf_size_m: float = param(0.2, 0.01, 2.0, unit="m", doc="leaf card length")
    leaf_aspect: float = param(0.55, 0.05, 1.0, doc="leaf card width / length")
    noise_seed: int = param(0, 0, 2**31 - 1, doc="seed of the random numbers used while building")


# Per-species sampling ranges: (lo, hi) floats are uniform, (lo, hi) ints uniform inclusive,
# tuples of those are drawn element-wise, anything else is used as is. The trunk radius is
# drawn as a fraction of the height.
_PRESETS: dict[str, dict] = {
    "conifer": dict(
        height_m=(5.0, 20.0), trunk_radius_ratio=(0.012, 0.02), n_stems=1, trunk_fraction=1.0, levels=3,
        branches_per_level=((26, 36), (3, 5), 0), branch_angle_deg=(70.0, 95.0), twig_angle_deg=(40.0, 60.0),
        length_ratio=(0.3, 0.4), radius_ratio=(0.3, 0.45), crown_base=(0.05, 0.25), crown_shape="conical",
        gravitropism=(-0.2, 0.3), wobble_deg=(3.0, 8.0), breakage=0.0, leaf_density=(14.0, 20.0),
        leaf_levels=2, leaf_size_m=(0.3, 0.45), leaf_aspect=(0.45, 0.6)),
    "broadleaf": dict(
        height_m=(5.0, 16.0), trunk_radius_ratio=(0.015, 0.025), n_stems=1, trunk_fraction=(0.45, 0.7),
        levels=4, branches_per_level=((5, 8), (3, 5), (2, 4)), branch_angle_deg=(35.0, 55.0),
        twig_angle_deg=(30.0, 50.0), length_ratio=(0.55, 0.75), radius_ratio=(0.5, 0.7),
        crown_base=(0.3, 0.5), crown_shape="spherical", gravitropism=(0.1, 0.5), wobble_deg=(8.0, 15.0),
        breakage=0.0, leaf_density=(16.0, 26.0), leaf_levels=2, leaf_size_m=(0.22, 0.38),
        leaf_aspect=(0.55, 0.8)),
    "shrub": dict(
        height_m=(0.5, 2.5), trunk_radius_ratio=(0.01, 0.02), n_stems=(3, 6), trunk_fraction=(0.7, 0.9),
        levels=3, branches_per_level=((4, 6), (2, 3), 0), branch_angle_deg=(30.0, 50.0),
        twig_angle_deg=(30.0, 50.0), length_ratio=(0.4, 0.6), radius_ratio=(0.6, 0.8),
        crown_base=(0.15, 0.35), crown_shape="cylindrical", gravitropism=(0.0, 0.4), wobble_deg=(8.0, 15.0),
        breakage=0.0, leaf_density=(35.0, 55.0), leaf_levels=2, leaf_size_m=(0.05, 0.1),
        leaf_aspect=(0.5, 0.8)),
    "dead": dict(
        height_m=(4.0, 14.0), trunk_radius_ratio=(0.015, 0.025), n_stems=1, trunk_fraction=(0.6, 0.9),
        levels=3, branches_per_level=((5, 9), (2, 4), 0), branch_angle_deg=(40.0, 70.0),
        twig_angle_deg=(30.0, 55.0), length_ratio=(0.4, 0.6), radius_ratio=(0.5, 0.7),
        crown_base=(0.2, 0.45), crown_shape="spherical", gravitropism=(-0.4, 0.2), wobble_deg=(10.0, 20.0),
        breakage=(0.3, 0.6), leaf_density=0.0, leaf_levels=1, leaf_size_m=0.1, leaf_aspect=0.5),
}


def _draw(rng: np.random.Generator, spec):
    if isinstance(spec, tuple) and len(spec) == 2 and all(isinstance(v, float) for v in spec):
        return float(rng.uniform(*spec))
    if isinstance(spec, tuple) and len(spec) == 2 and all(isinstance(v, int) for v in spec):
        return int(rng.integers(spec[0], spec[1] + 1))
    if isinstance(spec, tuple):
        return tuple(_draw(rng, s) for s in spec)
    return spec


def sample_params(rng: np.random.Generator, species: str | None = None) -> TreeParams:
    """Random parameters of ``species`` (one of :data:`SPECIES`, uniformly chosen when None)."""
    if species is None:
        species = SPECIES[int(rng.integers(len(SPECIES)))]
    if species not in _PRESETS:
        raise ParamError(f"TreeParams.species = {species!r} is not one of {list(SPECIES)}")
    values = {key: _draw(rng, spec) for key, spec in _PRESETS[species].items()}
    values["trunk_radius_m"] = values["height_m"] * values.pop("trunk_radius_ratio")
    return TreeParams(species=species, noise_seed=int(rng.integers(0, 2**31 - 1)), **values)


#: Typical width (m) of a patch where one species of a stand grows.
STAND_PATCH_M = 25.0


@dataclass
class Stand:
    """Which species grows where: patches (Voronoi cells around ``centres``, (n, 2) m) each of one
    of the stand's 1-3 ``species``; ``patch_species`` (n,) indexes ``species``."""

    species: tuple[str, ...]
    centres: np.ndarray
    patch_species: np.ndarray

    def species_at(self, x: float, y: float) -> str:
        d = np.hypot(self.centres[:, 0] - x, self.centres[:, 1] - y)
        return self.species[int(self.patch_species[int(np.argmin(d))])]


def sample_stand(rng: np.random.Generator, candidates, extent_m: float,
                 patch_m: float = STAND_PATCH_M) -> Stand:
    """1-3 species drawn from ``candidates`` (repeats weight a species), in patches of about
    ``patch_m`` over a square of side ``extent_m`` centred on the origin."""
    names, counts = np.unique(np.asarray(list(candidates), dtype=str), return_counts=True)
    unknown = sorted(set(names) - set(SPECIES))
    if unknown or len(names) == 0:
        raise ParamError(f"tree species {unknown or list(candidates)!r} are not in {list(SPECIES)}")
    weights = counts / counts.sum()
    n = int(rng.integers(1, min(3, len(names)) + 1))
    chosen = rng.choice(len(names), size=n, replace=False, p=weights)
    n_patches = max(1, int(round((extent_m / patch_m) ** 2)))
    centres = rng.uniform(-extent_m / 2, extent_m / 2, size=(n_patches, 2))
    local = weights[chosen] / weights[chosen].sum()
    patch_species = rng.choice(n, size=n_patches, p=local)
    return Stand(tuple(str(names[i]) for i in chosen), centres, patch_species)


@dataclass
class Tree:
    """The built objects. ``leaves`` and ``leaf_card`` are None for leafless (dead) trees."""

    trunk: bpy.types.Object
    leaves: bpy.types.Object | None = None
    leaf_card: bpy.types.Object | None = None

    @property
    def objects(self) -> list[bpy.types.Object]:
        return [o for o in (self.trunk, self.leaves, self.leaf_card) if o is not None]


# -- skeleton ------------------------------------------------------------------------------------
@dataclass
class _Branch:
    points: np.ndarray  # (n, 3) m
    radii: np.ndarray  # (n,) m
    level: int
    children: list = field(default_factory=list)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _walk(start: np.ndarray, direction: np.ndarray, length: float, level: int, p: TreeParams,
          rng: np.random.Generator) -> np.ndarray:
    """Polyline points of one branch, bending up/down (gravitropism) and randomly (wobble)."""
    n_seg = _SEGMENTS[level]
    seg = length / n_seg
    # Stems barely wobble and ignore gravitropism: it shapes the branches, not the trunk.
    wobble = math.tan(math.radians(p.wobble_deg * (0.3 if level == 0 else 1.0)))
    lift = 0.0 if level == 0 else p.gravitropism / n_seg
    d = _unit(direction)
    pts = [start]
    for i in range(n_seg):
        if i > 0:
            side = rng.normal(size=3)
            side -= side.dot(d) * d
            d = _unit(d + lift * np.array([0.0, 0.0, 1.0]) + wobble * rng.uniform() * _unit(side))
        if pts[-1][2] + d[2] * seg < 0.0:
            d[2] = -d[2]  # branches do not grow into the ground
        pts.append(pts[-1] + d * seg)
    return np.array(pts)


def _along(points: np.ndarray, radii: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Position, unit tangent and radius at fraction ``t`` of the polyline's length."""
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    s = t * seg.sum()
    i = min(int(np.searchsorted(np.cumsum(seg), s)), len(seg) - 1)
    u = (s - seg[:i].sum()) / seg[i]
    return (points[i] + u * (points[i + 1] - points[i]), _unit(points[i + 1] - points[i]),
            float(radii[i] + u * (radii[i + 1] - radii[i])))


def _child_direction(parent: np.ndarray, level: int, k: int, angle: float,
                     rng: np.random.Generator) -> np.ndarray:
    """Stems place children in a golden-angle spiral; branches alternate them left and right
    in a roughly horizontal spray (distichous), as most twigs do."""
    if level == 0:
        ref = np.array([1.0, 0.0, 0.0]) if abs(parent[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
        azimuth = k * _GOLDEN_ANGLE + rng.uniform(-0.3, 0.3)
    else:
        ref = np.cross([0.0, 0.0, 1.0], parent)
        if np.linalg.norm(ref) < 1e-6:
            ref = np.array([1.0, 0.0, 0.0])
        azimuth = math.pi * (k % 2) + rng.uniform(-0.5, 0.5)
    u = _unit(ref - ref.dot(parent) * parent)
    side = math.cos(azimuth) * u + math.sin(azimuth) * np.cross(parent, u)
    return math.cos(angle) * parent + math.sin(angle) * side


def _grow(out: list[_Branch], start, direction, length: float, radius: float, level: int, p: TreeParams,
          rng: np.random.Generator, broken: bool = False) -> _Branch:
    points = _walk(np.asarray(start, float), np.asarray(direction, float), length, level, p, rng)
    tip = max(_MIN_RADIUS_M, radius * (0.8 if broken else _TIP_RATIO[level]))  # broken ends stay thick
    branch = _Branch(points, np.linspace(radius, tip, len(points)), level)
    out.append(branch)
    if level + 1 >= p.levels:
        return branch
    n = p.branches_per_level[level]
    t0 = p.crown_base if level == 0 else 0.2
    angle = math.radians(p.branch_angle_deg if level == 0 else p.twig_angle_deg)
    for k in range(n):
        t = t0 + (0.97 - t0) * (k + rng.uniform(0.2, 0.8)) / n  # stratified along the parent
        pos, tangent, r_here = _along(points, branch.radii, t)
        shape = _CROWN[p.crown_shape]((t - t0) / (0.97 - t0)) if level == 0 else 1.0 - 0.5 * t
        child_len = length * p.length_ratio * shape
        child_broken = rng.uniform() < p.breakage
        if child_broken:
            child_len *= rng.uniform(0.15, 0.6)
        child_r = max(_MIN_RADIUS_M, r_here * p.radius_ratio)
        if child_len < max(_MIN_LENGTH_M, 4.0 * child_r):
            continue  # a stub shorter than it is thick reads as a wart, not a branch
        d = _child_direction(tangent, level, k, angle * rng.uniform(0.85, 1.15), rng)
        branch.children.append(_grow(out, pos, d, child_len, child_r, level + 1, p, rng, child_broken))
    return branch


def _skeleton(p: TreeParams, rng: np.random.Generator) -> list[_Branch]:
    branches: list[_Branch] = []
    for s in range(p.n_stems):
        azimuth = 2.0 * math.pi * s / p.n_stems + rng.uniform(-0.5, 0.5)
        if p.n_stems == 1:
            tilt, offset, length = rng.uniform(0.0, 3.0), 0.0, 1.0
        else:  # a clump: stems fan out from a small base
            tilt, offset, length = rng.uniform(10.0, 35.0), 1.5 * p.trunk_radius_m, rng.uniform(0.7, 1.0)
        out = np.array([math.cos(azimuth), math.sin(azimuth), 0.0])
        direction = math.sin(math.radians(tilt)) * out + np.array([0.0, 0.0, math.cos(math.radians(tilt))])
        _grow(branches, offset * out, direction, length * p.height_m * p.trunk_fraction, p.trunk_radius_m,
              0, p, rng)
    return branches


def _fit_height(branches: list[_Branch], top_m: float) -> None:
    """Scale positions (not radii) about the origin so the highest skeleton point is at ``top_m``."""
    scale = top_m / max(b.points[:, 2].max() for b in branches)
    for b in branches:
        b.points *= scale


# -- meshes --------------------------------------------------------------------------------------
def _tube_mesh(branches: list[_Branch], name: str) -> bpy.types.Mesh:
    """One mesh of all branches, swept as tapered tubes by curve objects (one per level)."""
    bm = bmesh.new()
    for level in sorted({b.level for b in branches}):
        curve = bpy.data.curves.new(f"{name}_level{level}", "CURVE")
        curve.dimensions = "3D"
        curve.bevel_depth = 1.0  # so each point's radius is the tube radius in metres
        curve.bevel_resolution = _BEVEL_RESOLUTION[level]
        curve.use_fill_caps = True
        for b in (b for b in branches if b.level == level):
            spline = curve.splines.new("POLY")
            spline.points.add(len(b.points) - 1)
            homogeneous = np.hstack([b.points, np.ones((len(b.points), 1))])
            spline.points.foreach_set("co", homogeneous.astype(np.float32).ravel())
            spline.points.foreach_set("radius", b.radii.astype(np.float32))
            spline.use_smooth = True
        obj = bpy.data.objects.new(curve.name, curve)
        # An original (unlinked) curve object is evaluated on a temporary copy: no scene update needed.
        tube = bpy.data.meshes.new_from_object(obj)
        bm.from_mesh(tube)
        bpy.data.objects.remove(obj)
        bpy.data.curves.remove(curve)
        bpy.data.meshes.remove(tube)
    mesh = bpy.data.meshes.new(name)
    bm.to_mesh(mesh)
    bm.free()
    return mesh


def _leaf_points(branches: list[_Branch], p: TreeParams, rng: np.random.Generator):
    """Positions (n, 3), quaternions (n, 4) and scales (n,) of leaves along the outermost
    ``leaf_levels`` levels and any childless branch, skipping the base of each."""
    starts, ends = [], []
    for b in branches:
        if b.level >= p.levels - p.leaf_levels or not b.children:
            first = int(len(b.points) * _LEAF_FREE_BASE)
            starts.append(b.points[first:-1])
            ends.append(b.points[first + 1:])
    a, b = np.concatenate(starts), np.concatenate(ends)
    seg = np.linalg.norm(b - a, axis=1)
    n = int(round(p.leaf_density * seg.sum()))
    idx = np.minimum(np.searchsorted(np.cumsum(seg), rng.uniform(0.0, seg.sum(), n)), len(seg) - 1)
    positions = a[idx] + rng.uniform(size=(n, 1)) * (b[idx] - a[idx])
    tangent = b[idx] - a[idx]
    # The card's +x (midrib) points roughly along the branch, to either side, drooping a little.
    yaw = np.arctan2(tangent[:, 1], tangent[:, 0]) + rng.uniform(-0.5 * math.pi, 0.5 * math.pi, n)
    pitch = rng.uniform(math.radians(-20.0), math.radians(50.0), n)
    roll = rng.uniform(math.radians(-45.0), math.radians(45.0), n)
    rotations = euler_to_quaternion(np.stack([roll, pitch, yaw], axis=1))
    return positions, rotations, rng.uniform(0.75, 1.25, n)


def build(params: TreeParams, name: str = "tree", collection: bpy.types.Collection | None = None,
          mesh_leaves: LeafOutline | None = None) -> Tree:
    """Build the tree: trunk/branch mesh ``name``, leaf instancer ``name_leaves`` and leaf prototype
    ``name_leaf_card`` (labelled "tree", or "plant" for shrubs). The prototype is a flat card with the
    leaf drawn by the material's alpha, or, given ``mesh_leaves`` (the material's outline), a leaf
    modelled in 3-D: what a tree near the camera needs. Same skeleton and leaf points either way."""
    check(params)
    p = params
    if len(p.branches_per_level) != MAX_LEVELS - 1:
        raise ParamError(f"TreeParams.branches_per_level = {p.branches_per_level!r} must have "
                         f"{MAX_LEVELS - 1} entries")
    rng = np.random.default_rng(p.noise_seed)
    has_leaves = p.species != "dead" and p.leaf_density > 0.0
    branches = _skeleton(p, rng)
    leaf_margin = 0.5 * p.leaf_size_m if has_leaves else 0.0  # cards reach about this far above their point
    _fit_height(branches, max(p.height_m - leaf_margin, 0.5 * p.height_m))
    category = "plant" if p.species == "shrub" else "tree"

    trunk = link(bpy.data.objects.new(name, _tube_mesh(branches, name)), collection)
    set_label(trunk, category)
    tree = Tree(trunk)
    if has_leaves:
        positions, rotations, scales = _leaf_points(branches, p, rng)
        if mesh_leaves is None:
            tree.leaf_card = card_prototype(f"{name}_leaf_card", p.leaf_size_m, p.leaf_size_m * p.leaf_aspect,
                                            collection=collection)
        else:
            tree.leaf_card = leaf_mesh_prototype(f"{name}_leaf_card", p.leaf_size_m, p.leaf_size_m * p.leaf_aspect,
                                                 mesh_leaves, collection=collection)
        tree.leaves = point_instancer(f"{name}_leaves", positions, rotations, scales, tree.leaf_card,
                                      collection)
        for obj in (tree.leaf_card, tree.leaves):
            obj.parent = trunk
            set_label(obj, category)
    return tree
