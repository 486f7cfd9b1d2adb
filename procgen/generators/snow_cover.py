"""Snow lying on another mesh: a closed shell over the host's upward-facing faces.

Snow settles where the surface faces the sky. The shell covers the host faces whose world-space
normal has ``z >= min_up``; its top is the host surface pushed out along the vertex normals by a
depth that grows with how flat the surface is (zero at ``min_up``, ``thickness_m`` on a level
top) and drifts with smooth noise; its bottom is the same surface pushed ``embed`` inwards, so the
seam with the host is hidden inside it and no two surfaces coincide (the ground truth sees one
surface per pixel). A rim joins top and bottom along the patch's boundary: the shell is a closed
2-manifold solid however ragged the patch is.

Units are metres; the shell is built in the host's object space (same transform, so it moves
with the host) and labelled ``snow``.
"""

from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np

from ...render_gt.labels import set_label
from ..params import check, param
from .mesh_utils import link, smooth_noise

#: The shell's thickness never exceeds this fraction of the host's largest extent, so a pebble
#: gets a dusting and a boulder a cap.
MAX_FRACTION_OF_HOST = 0.12
#: Thinnest snow kept at the patch's edge, as a fraction of the full depth: faces never collapse.
EDGE_DEPTH = 0.08


@dataclass
class SnowCoverParams:
    thickness_m: float = param(0.06, 0.003, 1.0, "m", "depth of the snow on a level top")
    min_up: float = param(0.45, 0.0, 0.95, "", "faces whose world normal z is below this stay bare")
    drift: float = param(0.4, 0.0, 0.9, "", "relative depth variation from wind drift (smooth noise)")
    drift_wavelength_m: float = param(0.6, 0.05, 20.0, "m", "size of the drifts")
    embed_m: float = param(0.01, 0.001, 0.2, "m", "how far the shell's underside sinks into the host")
    seed: int = param(0, 0, 2**31 - 1, "", "seed of the drift noise")


def sample_params(rng: np.random.Generator) -> SnowCoverParams:
    return SnowCoverParams(thickness_m=float(rng.uniform(0.03, 0.15)), min_up=float(rng.uniform(0.3, 0.6)),
                           drift=float(rng.uniform(0.2, 0.6)), drift_wavelength_m=float(rng.uniform(0.3, 1.5)),
                           seed=int(rng.integers(0, 2**31 - 1)))


def _mesh_arrays(mesh):
    co = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", co)
    sizes = np.empty(len(mesh.polygons), np.int32)
    mesh.polygons.foreach_get("loop_total", sizes)
    loops = np.empty(len(mesh.loops), np.int32)
    mesh.loops.foreach_get("vertex_index", loops)
    fn = np.empty(len(mesh.polygons) * 3, np.float32)
    mesh.polygons.foreach_get("normal", fn)
    vn = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertex_normals.foreach_get("vector", vn)
    faces = np.split(loops, np.cumsum(sizes)[:-1])
    return co.reshape(-1, 3).astype(float), faces, fn.reshape(-1, 3).astype(float), vn.reshape(-1, 3).astype(float)


def _world_up(normals: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """World z of unit object-space ``normals`` (n, 3) under the 3x3 ``rot`` (inverse transpose)."""
    world = normals @ np.linalg.inv(rot)
    return world[:, 2] / np.maximum(np.linalg.norm(world, axis=1), 1e-12)


def _boundary(faces) -> dict[tuple[int, int], int]:
    count: dict[tuple[int, int], int] = {}
    for f in faces:
        for a, b in zip(f, np.roll(f, -1), strict=True):
            key = (int(min(a, b)), int(max(a, b)))
            count[key] = count.get(key, 0) + 1
    return count


def _without_pinches(faces: list, rounds: int = 20) -> list:
    """Drop faces at vertices where the patch touches itself at a point (more than two boundary
    edges meet there): the shell's rim would share an edge four ways there, not two."""
    for _ in range(rounds):
        boundary_degree: dict[int, int] = {}
        for (a, b), n in _boundary(faces).items():
            if n == 1:
                boundary_degree[a] = boundary_degree.get(a, 0) + 1
                boundary_degree[b] = boundary_degree.get(b, 0) + 1
        pinched = {v for v, d in boundary_degree.items() if d > 2}
        if not pinched:
            return faces
        faces = [f for f in faces if not pinched.intersection(map(int, f))]
    return []


def build(params: SnowCoverParams, host: bpy.types.Object, name: str | None = None, material=None,
          collection: bpy.types.Collection | None = None) -> bpy.types.Object | None:
    """The snow shell on ``host`` (a mesh object), parented to it; None when no face is up enough."""
    check(params)
    p = params
    co, faces, face_normals, vertex_normals = _mesh_arrays(host.data)
    if not faces:
        return None
    rot = np.array(host.matrix_world.to_3x3())
    world_up = _world_up(face_normals, rot)
    keep = _without_pinches([f for f, up in zip(faces, world_up, strict=True) if up >= p.min_up])
    if not keep:
        return None
    used = np.unique(np.concatenate(keep))
    remap = np.full(len(co), -1)
    remap[used] = np.arange(len(used))
    local_faces = [remap[f] for f in keep]

    extent = float(np.ptp(co, axis=0).max() * np.abs(np.linalg.det(rot)) ** (1 / 3))
    depth_max = min(p.thickness_m, MAX_FRACTION_OF_HOST * extent)
    n = vertex_normals[used]
    flat = np.clip((_world_up(n, rot) - p.min_up) / max(1.0 - p.min_up, 1e-6), 0.0, 1.0) ** 0.5
    world_co = co[used] @ rot.T
    drift = 1.0 + p.drift * np.clip(smooth_noise(world_co, np.random.default_rng(p.seed),
                                                 1.0 / p.drift_wavelength_m), -1.5, 1.5) / 1.5
    depth = depth_max * np.maximum(flat * drift, EDGE_DEPTH)
    embed = min(p.embed_m, 0.5 * depth_max)
    top = co[used] + n * depth[:, None]
    bottom = co[used] - n * embed
    m = len(used)

    # Boundary edges: used by exactly one kept face, in that face's winding direction.
    edge_count = _boundary(local_faces)
    directed = [(int(a), int(b)) for f in local_faces for a, b in zip(f, np.roll(f, -1), strict=True)]
    polys = [list(map(int, f)) for f in local_faces]  # top, same winding
    polys += [[int(v) + m for v in f[::-1]] for f in local_faces]  # bottom, reversed
    polys += [[b, a, a + m, b + m] for a, b in directed if edge_count[(min(a, b), max(a, b))] == 1]

    mesh = bpy.data.meshes.new(name or f"{host.name}_snow")
    mesh.from_pydata(np.vstack([top, bottom]).tolist(), [], polys)
    mesh.polygons.foreach_set("use_smooth", np.ones(len(mesh.polygons), bool))
    mesh.update()
    obj = link(bpy.data.objects.new(mesh.name, mesh), collection)
    if material is not None:
        mesh.materials.append(material)
    obj.parent = host
    set_label(obj, "snow")
    return obj
