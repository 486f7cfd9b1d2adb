"""Colourised ground truth for people to look at. bpy-free.

Layout of ``preview.png`` (2 rows x 3): RGB, depth, forward flow / instances, normals, semantic.
"""

from __future__ import annotations

import numpy as np

# A perceptually ordered ramp (dark blue -> teal -> yellow), sampled at 5 stops.
_RAMP = np.array([[0.05, 0.03, 0.3], [0.13, 0.35, 0.6], [0.1, 0.65, 0.55], [0.6, 0.85, 0.25], [0.99, 0.9, 0.15]])


def _ramp(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0) * (len(_RAMP) - 1)
    i = np.minimum(t.astype(int), len(_RAMP) - 2)
    f = (t - i)[..., None]
    return _RAMP[i] * (1 - f) + _RAMP[i + 1] * f


def depth_image(depth: np.ndarray) -> np.ndarray:
    """Inverse depth on a ramp (near = bright); no surface is black. Returns float HxWx3 in [0, 1]."""
    finite = np.isfinite(depth)
    out = np.zeros((*depth.shape, 3))
    if finite.any():
        inv = 1.0 / np.maximum(depth[finite], 1e-6)
        lo, hi = np.percentile(inv, [1, 99])
        out[finite] = _ramp((inv - lo) / max(hi - lo, 1e-12))
    return out


def flow_image(flow: np.ndarray) -> np.ndarray:
    """Colour-wheel flow: hue = direction (red = +u), saturation = magnitude / max magnitude."""
    mag = np.linalg.norm(flow, axis=-1)
    scale = max(np.percentile(mag, 99), 1e-6)
    hue = (np.arctan2(flow[..., 1], flow[..., 0]) / (2 * np.pi)) % 1.0
    sat = np.clip(mag / scale, 0, 1)
    return _hsv_to_rgb(hue, sat, np.ones_like(hue))


def _hsv_to_rgb(h, s, v):
    i = np.floor(h * 6).astype(int) % 6
    f = h * 6 - np.floor(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    table = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    out = np.zeros((*h.shape, 3))
    for k, (r, g, b) in enumerate(table):
        m = i == k
        out[m] = np.stack([r[m], g[m], b[m]], axis=-1)
    return out


def id_image(ids: np.ndarray) -> np.ndarray:
    """Distinct colours per id from an integer hash; id 0 (background) is black."""
    x = ids.astype(np.uint64) * np.uint64(2654435761) & np.uint64(0xFFFFFF)
    rgb = np.stack([(x >> np.uint64(s)) & np.uint64(255) for s in (16, 8, 0)], axis=-1) / 255.0
    rgb = 0.25 + 0.75 * rgb
    rgb[ids == 0] = 0.0
    return rgb


def normal_image(normal: np.ndarray) -> np.ndarray:
    """OpenCV-frame normals as colour (n + 1) / 2; background (zero normal) is black."""
    out = np.clip((normal + 1.0) / 2.0, 0.0, 1.0)
    out[np.all(normal == 0, axis=-1)] = 0.0
    return out


def compose(frame: dict[str, np.ndarray]) -> np.ndarray:
    """Tile a loaded frame into one uint8 preview image."""
    flow = frame.get("flow_forward", frame.get("flow_backward"))
    h, w = frame["depth"].shape
    out = np.empty((2 * h, 3 * w, 3), np.uint8)
    out[:h, :w] = frame["rgb"][..., :3]
    tiles = [
        (0, 1, depth_image(frame["depth"])),
        (0, 2, flow_image(flow) * (frame["instance"] != 0)[..., None] if flow is not None else None),
        (1, 0, id_image(frame["instance"])),
        (1, 1, normal_image(frame["normal"])),
        (1, 2, id_image(frame["semantic"])),
    ]
    for row, col, tile in tiles:
        dst = out[row * h:(row + 1) * h, col * w:(col + 1) * w]
        if tile is None:
            dst[:] = 0
        else:
            # Every tile is already in [0, 1]; no clipping pass needed.
            np.multiply(tile, 255, out=tile)
            tile += 0.5
            dst[:] = tile
    return out
