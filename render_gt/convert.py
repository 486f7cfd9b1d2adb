"""Raw Cycles passes -> ground truth in the dataset conventions. Pure numpy, bpy-free.

Conventions (see DESIGN.md): depth is planar camera z in metres, +inf where nothing was hit;
flow is (du, dv) in pixels with +u right and +v down; normals are unit vectors in the OpenCV
camera frame pointing to the camera's side; instance 0 / semantic 0 is background.
"""

from __future__ import annotations

import numpy as np

from .camera import pixel_rays

#: Cycles writes 1e10 into the Depth pass where a camera ray hits nothing.
CYCLES_NO_HIT = 1e9


def instance_ids(object_index: np.ndarray, instance_aov: np.ndarray | None, base_of_ordinal: np.ndarray,
                 instance_counts: np.ndarray) -> np.ndarray:
    """Object Index pass (object ordinals) + instance AOV (k + 1 on the k-th instance, else 0)
    -> uint32 HxW dataset instance ids: ``base[ordinal] + aov``, 0 on background.

    ``base_of_ordinal``/``instance_counts`` come from :class:`.instances.InstanceTable`.
    """
    ordinal = np.rint(object_index.reshape(object_index.shape[:2])).astype(np.int64)
    if ordinal.max(initial=0) >= len(base_of_ordinal):
        raise ValueError(f"Object Index pass holds {ordinal.max()} but only {len(base_of_ordinal) - 1} objects "
                         "were numbered; the scene changed after assign_instances()")
    k = np.zeros_like(ordinal) if instance_aov is None else \
        np.rint(instance_aov.reshape(ordinal.shape)).astype(np.int64)
    # An AOV value beyond the object's own instance count cannot be one of its instances.
    k = np.where((k < 0) | (k > instance_counts[ordinal]), 0, k)
    ids = base_of_ordinal[ordinal].astype(np.int64) + k
    return np.where(ordinal == 0, 0, ids).astype(np.uint32)


def depth_from_pass(z: np.ndarray, instance: np.ndarray) -> np.ndarray:
    """Depth pass -> float32 HxW planar metres, +inf exactly where ``instance`` is 0.

    Both come from the same point sample, so a hit always has an instance id; the mask makes
    the +inf/background agreement exact even for surfaces farther than Cycles' 1e10 marker.
    """
    depth = z.reshape(z.shape[:2]).astype(np.float32)
    depth = np.where((instance == 0) | (depth >= CYCLES_NO_HIT), np.float32(np.inf), depth)
    return depth.astype(np.float32)


def flows_from_vector(vector: np.ndarray, background: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cycles Vector pass (HxWx4) -> (forward t->t+1, backward t->t-1), each float32 HxWx2.

    The pass holds RG = raster(prev) - raster(cur) and BA = raster(cur) - raster(next), with
    raster y pointing up; the EXR rows are already top-down. So forward = (-B, +A) and
    backward = (+R, -G). Background pixels get 0 flow (there is no surface to follow).
    """
    fwd = np.stack([-vector[..., 2], vector[..., 3]], axis=-1).astype(np.float32)
    bwd = np.stack([vector[..., 0], -vector[..., 1]], axis=-1).astype(np.float32)
    fwd[background] = 0.0
    bwd[background] = 0.0
    return fwd, bwd


def normals_from_depth(depth: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Unit normals (OpenCV camera frame, facing the camera) from planar depth by finite differences.

    Central differences where both neighbours are surface, one-sided otherwise; where a pixel has
    no surface neighbour at all the normal faces the camera along the ray. HxW -> HxWx3 float64.
    """
    h, w = depth.shape
    rays = pixel_rays(K, w, h)
    pts = rays * np.where(np.isfinite(depth), depth, np.nan)[..., None]

    def diff(axis: int) -> np.ndarray:
        fwd = np.diff(pts, axis=axis, append=np.nan)
        bwd = np.diff(pts, axis=axis, prepend=np.nan)
        d = np.where(np.isnan(fwd), bwd, fwd)
        both = ~np.isnan(fwd) & ~np.isnan(bwd)
        return np.where(both, 0.5 * (fwd + bwd), d)

    n = np.cross(diff(1), diff(0))
    n = np.where(np.isnan(n).any(axis=-1, keepdims=True), -rays, n)
    n = np.where((np.einsum("hwc,hwc->hw", n, rays) > 0)[..., None], -n, n)
    norm = np.linalg.norm(n, axis=-1, keepdims=True)
    return np.divide(n, norm, out=-rays / np.linalg.norm(rays, axis=-1, keepdims=True), where=norm > 1e-12)


def normals_to_camera(normal_world: np.ndarray, world_from_camera: np.ndarray, K: np.ndarray,
                      background: np.ndarray, depth: np.ndarray | None = None) -> np.ndarray:
    """World-space Normal pass -> unit normals in the OpenCV camera frame, facing the camera.

    A normal pointing away from the viewer (a back face) is flipped, so dot(n, ray) <= 0.
    Background pixels are 0. Cycles leaves the pass at zero on a few surface pixels (measured:
    about 1 in 2000 on procgen meadows, on alpha-cut leaf cards); there, given ``depth``, the
    normal comes from the depth map (``normals_from_depth``) so every surface pixel is unit length.
    """
    h, w = normal_world.shape[:2]
    rot = world_from_camera[:3, :3]
    n = normal_world[..., :3].astype(np.float64) @ rot  # R^T n for row vectors
    rays = pixel_rays(K, w, h)
    n = np.where((np.einsum("hwc,hwc->hw", n, rays) > 0)[..., None], -n, n)
    norm = np.linalg.norm(n, axis=-1, keepdims=True)
    n = np.divide(n, norm, out=np.zeros_like(n), where=norm > 1e-12)
    if depth is not None:
        missing = (norm[..., 0] <= 1e-12) & ~background
        if missing.any():
            n[missing] = normals_from_depth(depth, K)[missing]
    n[background] = 0.0
    return n.astype(np.float32)


def visible_instances(instance: np.ndarray, semantic_of_id: np.ndarray) -> list[dict]:
    """Each instance id seen in a frame (background excluded), in id order: ``id``,
    ``semantic_id``, ``pixels`` (count) and ``bbox`` [x_min, y_min, x_max, y_max] in pixel edges
    (columns x_min .. x_max - 1, rows y_min .. y_max - 1; x right, y down)."""
    rows, cols = np.nonzero(instance)
    if not len(rows):
        return []
    ids, inverse, counts = np.unique(instance[rows, cols], return_inverse=True, return_counts=True)
    n = len(ids)
    x0 = np.full(n, np.iinfo(np.int64).max)
    y0 = np.full(n, np.iinfo(np.int64).max)
    x1 = np.zeros(n, np.int64)
    y1 = np.zeros(n, np.int64)
    np.minimum.at(x0, inverse, cols)
    np.minimum.at(y0, inverse, rows)
    np.maximum.at(x1, inverse, cols + 1)
    np.maximum.at(y1, inverse, rows + 1)
    return [{"id": int(i), "semantic_id": int(semantic_of_id[i]), "pixels": int(c), "bbox": [int(a), int(b), int(c2), int(d)]}
            for i, c, a, b, c2, d in zip(ids, counts, x0, y0, x1, y1, strict=True)]


def flow_from_depth(depth: np.ndarray, K: np.ndarray, world_from_camera: np.ndarray, K_to: np.ndarray,
                    world_from_camera_to: np.ndarray, instance: np.ndarray | None = None,
                    motion_of_id: np.ndarray | None = None) -> np.ndarray:
    """Optical flow (float32 HxWx2, pixels, +u right, +v down) to another frame, by reprojection.

    Each pixel's surface point (depth along the pixel centre's ray, OpenCV axes) is moved by its
    instance's rigid world motion ``motion_of_id[instance]`` (4x4 per id, identity for static
    ones; None = everything static) and projected into the other camera (K_to,
    world_from_camera_to). Flow is that position minus the pixel centre: exact for rigid
    motion. 0 on background; NaN where the point lies behind the other camera (no image there).
    """
    h, w = depth.shape
    hit = np.isfinite(depth)
    rays = pixel_rays(K, w, h)[hit]
    cam = rays * depth[hit][:, None].astype(np.float64)
    world = cam @ world_from_camera[:3, :3].T + world_from_camera[:3, 3]
    if motion_of_id is not None and instance is not None:
        m = motion_of_id[instance[hit].astype(np.int64)]
        world = np.einsum("nij,nj->ni", m[:, :3, :3], world) + m[:, :3, 3]
    to = np.linalg.inv(world_from_camera_to)
    other = world @ to[:3, :3].T + to[:3, 3]
    z = other[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        proj = other @ np.asarray(K_to, float).T
        uv = proj[:, :2] / z[:, None]
    rows, cols = np.nonzero(hit)
    flow = np.zeros((h, w, 2), np.float32)
    delta = uv - np.stack([cols + 0.5, rows + 0.5], axis=-1)
    delta[z <= 1e-9] = np.nan
    flow[rows, cols] = delta
    return flow
