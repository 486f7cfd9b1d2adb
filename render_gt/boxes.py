"""Axis-aligned 3D boxes as (2, 3) arrays [[xmin, ymin, zmin], [xmax, ymax, zmax]], metres. bpy-free.
None stands for "no geometry" wherever a box may be missing."""

from __future__ import annotations

import numpy as np


def corners(box: np.ndarray) -> np.ndarray:
    """The 8 corners (8, 3) of ``box``."""
    lo, hi = box
    return np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])


def of_points(points) -> np.ndarray | None:
    """The box around (n, 3) points, or None for no points."""
    points = np.asarray(points, float).reshape(-1, 3)
    return np.stack([points.min(axis=0), points.max(axis=0)]) if len(points) else None


def grow(box: np.ndarray | None, metres: float) -> np.ndarray | None:
    return None if box is None else box + np.array([[-metres] * 3, [metres] * 3])


def union(boxes) -> np.ndarray | None:
    boxes = [b for b in boxes if b is not None]
    if not boxes:
        return None
    return np.stack([np.min([b[0] for b in boxes], axis=0), np.max([b[1] for b in boxes], axis=0)])


def transform(box: np.ndarray | None, matrix) -> np.ndarray | None:
    """The axis-aligned box around ``box`` moved by the 4x4 ``matrix``."""
    if box is None:
        return None
    m = np.asarray(matrix, float)
    return of_points(corners(box) @ m[:3, :3].T + m[:3, 3])
