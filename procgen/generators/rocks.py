"""Rocks and boulders: an icosphere grown by random face-region extrusions, then displaced.

Stages: a unit icosphere; a smooth radial displacement (the overall lumpy shape); rounds of
face-region extrusion along the region's normal (ledges and knobs); Laplacian smoothing;
elongation; planar fracture facets; fine noise along the normals; a flattened base; and a
final uniform scale so the largest bounding-box extent is exactly ``size_m``.

The object's origin is at the centre of its base: the lowest vertex lies on local z = 0 and
the bounding box is centred on x = y = 0. Extrusions go outwards (a round that would break
manifoldness is undone) and the later stages only move vertices, flattening by squashing
rather than clamping, so the mesh stays closed and 2-manifold with no zero-area faces.

Sizes: :func:`sample_params` draws ``size_m`` from a lognormal with median
:data:`ROCK_SIZE_MEDIAN_M` and log-space standard deviation :data:`ROCK_SIZE_SIGMA`, clipped
to :data:`ROCK_SIZE_RANGE_M`; :func:`sample_boulder_params` uses the ``BOULDER_*`` values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import bpy

# bmesh exists only once bpy has started Blender, so it is imported second.
# isort: split
import bmesh
import numpy as np
from mathutils import Vector

from ...render_gt.labels import set_label
from ..params import check, param
from .mesh_utils import (
    canonical_bmesh,
    link,
    set_vertex_positions,
    smooth_noise,
    squash_halfspace,
    vertex_normals,
    vertex_positions,
)

ROCK_SIZE_MEDIAN_M = 0.5
ROCK_SIZE_SIGMA = 0.6
ROCK_SIZE_RANGE_M = (0.05, 3.0)
BOULDER_SIZE_MEDIAN_M = 2.0
BOULDER_SIZE_SIGMA = 0.35
BOULDER_SIZE_RANGE_M = (1.0, 8.0)

# How much of the distance beyond a facet or base plane survives squashing: small enough to
# read as flat, non-zero so no face collapses.
_SQUASH_KEEP = 0.1


@dataclass
class RockParams:
    """Shape parameters. Lengths marked "x radius" are fractions of the unit base sphere's
    radius (the rock is scaled to ``size_m`` only at the end)."""

    size_m: float = param(0.5, 0.02, 20.0, unit="m", doc="largest bounding-box extent of the finished rock")
    elongation: tuple[float, float, float] = param(
        (1.0, 0.8, 0.6), 0.2, 1.0, doc="relative x, y, z scale of the shape before it is scaled to size_m")
    subdivisions: int = param(4, 1, 6,
                              doc="icosphere subdivision level of the base mesh: 20 * 4**(n-1) triangles")
    displacement: float = param(0.2, 0.0, 0.6, unit="x radius",
                                doc="amplitude of the smooth low-frequency radial displacement")
    n_extrusions: int = param(6, 0, 30, doc="rounds of face-region extrusion")
    extrusion_depth: float = param(0.08, 0.005, 0.5, unit="x radius",
                                   doc="mean extrusion depth; each round draws 0.5-1.5 times this")
    extrusion_radius_deg: float = param(25.0, 5.0, 60.0, unit="deg",
                                        doc="mean angular radius of an extruded region, seen from the centre")
    smoothing: int = param(2, 0, 10, doc="Laplacian smoothing passes after extrusion (rounds the ledges)")
    n_facets: int = param(3, 0, 12, doc="planar fracture facets")
    roughness: float = param(0.02, 0.0, 0.1, unit="x radius",
                             doc="amplitude of the fine noise displacement along vertex normals")
    flatten_bottom: float = param(0.15, 0.0, 0.5, doc="fraction of the height squashed flat at the base")
    noise_seed: int = param(0, 0, 2**31 - 1, doc="seed of the random numbers used while building")


def _lognormal(rng: np.random.Generator, median: float, sigma: float, bounds: tuple[float, float]) -> float:
    return float(np.clip(rng.lognormal(math.log(median), sigma), *bounds))


def _sample_shape(rng: np.random.Generator, size_m: float, **overrides) -> RockParams:
    shape = dict(
        size_m=size_m,
        elongation=(1.0, float(rng.uniform(0.55, 1.0)), float(rng.uniform(0.35, 0.8))),
        subdivisions=4,
        displacement=float(rng.uniform(0.05, 0.3)),
        n_extrusions=int(rng.integers(2, 10)),
        extrusion_depth=float(rng.uniform(0.03, 0.12)),
        extrusion_radius_deg=float(rng.uniform(15.0, 35.0)),
        smoothing=int(rng.integers(0, 4)),
        n_facets=int(rng.integers(1, 6)),
        roughness=float(rng.uniform(0.005, 0.03)),
        flatten_bottom=float(rng.uniform(0.05, 0.3)),
        noise_seed=int(rng.integers(0, 2**31 - 1)),
    )
    shape.update(overrides)
    return RockParams(**shape)


def sample_params(rng: np.random.Generator) -> RockParams:
    """A rock of lognormal size (median 0.5 m, sigma 0.6, clipped to 0.05-3 m)."""
    size = _lognormal(rng, ROCK_SIZE_MEDIAN_M, ROCK_SIZE_SIGMA, ROCK_SIZE_RANGE_M)
    return _sample_shape(rng, size)


def sample_boulder_params(rng: np.random.Generator) -> RockParams:
    """A boulder (median 2 m, sigma 0.35, clipped to 1-8 m): rounder, with finer base mesh."""
    size = _lognormal(rng, BOULDER_SIZE_MEDIAN_M, BOULDER_SIZE_SIGMA, BOULDER_SIZE_RANGE_M)
    return _sample_shape(rng, size, subdivisions=5, smoothing=int(rng.integers(2, 5)),
                         elongation=(1.0, float(rng.uniform(0.7, 1.0)), float(rng.uniform(0.5, 0.85))))


def _is_manifold(bm: bmesh.types.BMesh) -> bool:
    return all(e.is_manifold for e in bm.edges) and all(v.is_manifold for v in bm.verts)


def _region_around(seed: bmesh.types.BMFace, cos_max: float) -> list:
    """Edge-connected faces around ``seed`` whose centres lie within a cone about its centre."""
    axis = seed.calc_center_median().normalized()
    region, todo = {seed}, [seed]
    while todo:
        face = todo.pop()
        for edge in face.edges:
            for other in edge.link_faces:
                if other not in region and other.calc_center_median().normalized().dot(axis) >= cos_max:
                    region.add(other)
                    todo.append(other)
    return sorted(region, key=lambda f: f.index)


def _extrude_random_region(bm: bmesh.types.BMesh, rng: np.random.Generator,
                           p: RockParams) -> bmesh.types.BMesh:
    """Extrude one random face region of ``bm`` in place and return it; if the result is not
    manifold (the region touched itself only at a vertex), free it and return an unchanged copy."""
    bm.normal_update()
    bm.faces.ensure_lookup_table()
    bm.faces.index_update()
    seed = bm.faces[int(rng.integers(len(bm.faces)))]
    radius = math.radians(p.extrusion_radius_deg * rng.uniform(0.5, 1.5))
    depth = p.extrusion_depth * rng.uniform(0.5, 1.5)
    taper = rng.uniform(0.6, 1.0)  # the extruded cap shrinks a little, like a worn ledge
    region = _region_around(seed, math.cos(radius))
    normal = sum((f.normal * f.calc_area() for f in region), start=seed.normal * 0.0)
    if normal.length < 1e-9:
        return bm
    normal.normalize()
    backup = bm.copy()
    geom = bmesh.ops.extrude_face_region(bm, geom=region)["geom"]
    bmesh.ops.delete(bm, geom=region, context="FACES")  # the op keeps the faces it extruded from
    verts = [g for g in geom if isinstance(g, bmesh.types.BMVert)]
    # Summed in position order: the operator's output order is not reproducible.
    centre = Vector(np.array(sorted(tuple(v.co) for v in verts)).mean(axis=0))
    for v in verts:
        v.co = centre + (v.co - centre) * taper + normal * depth
    if _is_manifold(bm):
        backup.free()
        return bm
    bm.free()
    return backup


def build(params: RockParams, name: str = "rock",
          collection: bpy.types.Collection | None = None) -> bpy.types.Object:
    """A closed manifold rock mesh object, labelled "rock", origin at the centre of its base."""
    check(params)
    p = params
    rng = np.random.default_rng(p.noise_seed)

    bm = bmesh.new()
    bmesh.ops.create_icosphere(bm, subdivisions=p.subdivisions, radius=1.0)
    dirs = np.array([v.co for v in bm.verts])
    radial = 1.0 + p.displacement * smooth_noise(dirs, rng, frequency=0.35, octaves=2)
    for v, r in zip(bm.verts, np.maximum(radial, 0.3), strict=True):
        v.co *= r
    for _ in range(p.n_extrusions):
        bm = canonical_bmesh(_extrude_random_region(bm, rng, p))
    for _ in range(p.smoothing):
        bmesh.ops.smooth_vert(bm, verts=bm.verts, factor=0.5,
                              use_axis_x=True, use_axis_y=True, use_axis_z=True)
    mesh = bpy.data.meshes.new(name)
    bm.to_mesh(mesh)
    bm.free()

    co = vertex_positions(mesh) * np.asarray(p.elongation)
    for _ in range(p.n_facets):
        normal = rng.normal(size=3)
        along = co @ (normal / np.linalg.norm(normal))
        co = squash_halfspace(co, normal, float(np.quantile(along, rng.uniform(0.8, 0.95))), _SQUASH_KEEP)
    set_vertex_positions(mesh, co)
    co += vertex_normals(mesh) * (p.roughness * smooth_noise(co, rng, frequency=1.5, octaves=3))[:, None]
    zmin, zmax = co[:, 2].min(), co[:, 2].max()
    co = squash_halfspace(co, (0.0, 0.0, -1.0), -(zmin + p.flatten_bottom * (zmax - zmin)), _SQUASH_KEEP)

    lo, hi = co.min(axis=0), co.max(axis=0)
    co -= np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2]])
    co *= p.size_m / (hi - lo).max()
    set_vertex_positions(mesh, co)

    obj = link(bpy.data.objects.new(name, mesh), collection)
    set_label(obj, "rock")
    return obj
