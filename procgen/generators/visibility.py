"""Where the cameras can see: masks that keep scatter to ground some frame looks at. bpy-free.

A point is *seen* when, in some frame, it lies within ``max_distance_m`` of the camera and inside
the view frustum grown by ``margin_m`` on every side. The frustum's half-angle is the horizontal
one of the lens on a 36 mm sensor, used vertically too, which covers any image aspect up to 1:1
(and more than covers wider ones). Occlusion is ignored: masks are conservative.
"""

from __future__ import annotations

import numpy as np

from .views import look_rotation


def seen(points: np.ndarray, positions: np.ndarray, targets: np.ndarray, focal_mm: float,
         max_distance_m: float, margin_m: float = 2.0) -> np.ndarray:
    """Boolean (n,) for world points (n, 3) against every frame's camera (positions/targets (f, 3))."""
    points = np.asarray(points, float).reshape(-1, 3)
    tan_half = 18.0 / focal_mm
    out = np.zeros(len(points), bool)
    for pos, target in zip(np.asarray(positions, float), np.asarray(targets, float), strict=True):
        rel = points - pos
        near = np.einsum("ij,ij->i", rel, rel) <= max_distance_m ** 2
        if not near.any():
            continue
        cam = rel[near] @ look_rotation(pos, target)  # OpenCV camera coordinates
        reach = tan_half * np.maximum(cam[:, 2], 0.0) + margin_m
        inside = (cam[:, 2] > -margin_m) & (np.abs(cam[:, 0]) <= reach) & (np.abs(cam[:, 1]) <= reach)
        idx = np.flatnonzero(near)
        out[idx[inside]] = True
    return out
