"""Judge candidate camera views before anything is built: cast rays against the world's height
function and apply the framing rules a person would (no staring at the sky, into a slope or at
a rock a hand's breadth away). bpy-free.

Conventions: metres, world z up; camera rays in OpenCV axes (x right, y down, z forward); the
image grid is ``rays_x`` x ``rays_y`` pixel centres over a horizontal field of view from
``focal_mm`` on a 36 mm sensor, at the rules' ``aspect`` (width / height).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ..params import check, param


@dataclass
class ViewRules:
    candidates: int = param(24, 1, 500, "", "camera candidates drawn; the best valid one is kept")
    extra_rounds: int = param(2, 0, 20, "", "when no candidate is valid, draw up to this many more rounds "
                              "of candidates before keeping the least bad")
    max_sky_fraction: float = param(0.45, 0.0, 1.0, "", "reject if more of the frame than this is sky")
    min_sky_fraction: float = param(0.0, 0.0, 1.0, "", "reject if less of the frame than this is sky "
                                    "(landscapes: frame the skyline, not a slope)")
    min_distance_m: float = param(3.0, 0.0, 100.0, "m", "reject if the central region sees a surface nearer")
    central_fraction: float = param(0.5, 0.05, 1.0, "", "width and height of the central region, as fractions")
    fill_distance_m: float = param(6.0, 0.0, 1000.0, "m", "a surface nearer than this 'fills' the rays it hits")
    max_fill_fraction: float = param(0.85, 0.0, 1.0, "", "reject if more of the frame than this is one near wall")
    max_water_fraction: float = param(0.55, 0.0, 1.0, "", "reject if more of the frame than this is open water")
    min_water_fraction: float = param(0.0, 0.0, 1.0, "", "reject if less of the frame than this is open water "
                                      "(lake and river scenes: the water is the subject)")
    horizon_tolerance_deg: float = param(1.0, 0.0, 45.0, "deg",
                                         "every ray more than this below the horizon must hit the world")
    aspect: float = param(4 / 3, 0.2, 5.0, "", "image width / height the rules are judged at")
    rays_x: int = param(40, 4, 512, "", "rays across")
    rays_y: int = param(30, 3, 512, "", "rays down")
    max_frames: int = param(6, 1, 10000, "", "frames judged per trajectory (evenly spaced, ends included)")


def look_rotation(position: np.ndarray, target: np.ndarray) -> np.ndarray:
    """world_from_camera rotation (3x3, OpenCV axes: columns are x right, y down, z forward)."""
    forward = np.asarray(target, float) - np.asarray(position, float)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    if np.linalg.norm(right) < 1e-9:  # looking straight up or down
        right = np.array([1.0, 0.0, 0.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return np.column_stack([right, down, forward])


def camera_rays(rules: ViewRules, focal_mm: float) -> np.ndarray:
    """Unit ray directions (rays_y, rays_x, 3) in the OpenCV camera frame, through pixel centres."""
    w, h = rules.rays_x, rules.rays_y
    fx = focal_mm / 36.0 * w
    fy = fx * (w / h) / rules.aspect  # square pixels at the judged aspect
    u = (np.arange(w) + 0.5 - w / 2) / fx
    v = (np.arange(h) + 0.5 - h / 2) / fy
    uu, vv = np.meshgrid(u, v)
    d = np.stack([uu, vv, np.ones_like(uu)], axis=-1)
    return d / np.linalg.norm(d, axis=-1, keepdims=True)


def cast(sampler, origins: np.ndarray, dirs: np.ndarray, max_dist: float, steps: int = 192,
         refine: int = 8) -> np.ndarray:
    """Distance along each ray (m) to the terrain surface, +inf where it leaves the world first.

    Marches log-spaced distances from 5 cm to ``max_dist`` against ``sampler.coarse_height`` and
    bisects the first crossing. Thin ridges narrower than a step can be missed; this is a
    framing estimate, not ground truth.
    """
    origins = np.asarray(origins, float).reshape(-1, 3)
    dirs = np.asarray(dirs, float).reshape(-1, 3)
    t = np.geomspace(0.05, max_dist, steps)
    pts = origins[:, None, :] + dirs[:, None, :] * t[None, :, None]
    height = getattr(sampler, "coarse_height", sampler.height)
    below = pts[..., 2] < height(pts[..., 0], pts[..., 1])
    outside = (np.abs(pts[..., 0]) > getattr(sampler, "far", np.inf)) | \
              (np.abs(pts[..., 1]) > getattr(sampler, "far", np.inf))
    below &= ~np.cumsum(outside, axis=1).astype(bool)
    hit = below.any(axis=1)
    k = np.argmax(below, axis=1)
    lo = np.where(k > 0, t[np.maximum(k - 1, 0)], 0.0)
    hi = t[k]
    for _ in range(refine):
        mid = 0.5 * (lo + hi)
        p = origins + dirs * mid[:, None]
        under = p[:, 2] < height(p[:, 0], p[:, 1])
        hi = np.where(under, mid, hi)
        lo = np.where(under, lo, mid)
    return np.where(hit, hi, np.inf)


@dataclass
class ViewStats:
    sky_fraction: float
    below_horizon_misses: int
    central_min_m: float
    fill_fraction: float
    water_fraction: float
    #: std of log depth over hits + 0.5 log(median central depth): the score to maximise.
    spread: float

    def violations(self, rules: ViewRules) -> list[str]:
        out = []
        if self.sky_fraction > rules.max_sky_fraction:
            out.append(f"sky {self.sky_fraction:.2f} > {rules.max_sky_fraction}")
        if self.sky_fraction < rules.min_sky_fraction:
            out.append(f"sky {self.sky_fraction:.2f} < {rules.min_sky_fraction}")
        if self.below_horizon_misses:
            out.append(f"{self.below_horizon_misses} rays below the horizon miss the world")
        if self.central_min_m < rules.min_distance_m:
            out.append(f"surface at {self.central_min_m:.2f} m in the central region")
        if self.fill_fraction > rules.max_fill_fraction:
            out.append(f"a surface within {rules.fill_distance_m} m fills {self.fill_fraction:.2f} of the frame")
        if self.water_fraction > rules.max_water_fraction:
            out.append(f"water fills {self.water_fraction:.2f} of the frame")
        if self.water_fraction < rules.min_water_fraction:
            out.append(f"water fills {self.water_fraction:.2f} < {rules.min_water_fraction} of the frame")
        return out


def view_stats(sampler, position, target, focal_mm: float, rules: ViewRules, max_dist: float) -> ViewStats:
    """Framing figures of one view: sky share, misses below the horizon, nearest central surface,
    near-wall share, and the score (depth spread plus how far the centre looks)."""
    rot = look_rotation(position, target)
    local = camera_rays(rules, focal_mm)
    world_dirs = local.reshape(-1, 3) @ rot.T
    depth_along = cast(sampler, np.broadcast_to(position, world_dirs.shape), world_dirs, max_dist)
    planar = (depth_along * local.reshape(-1, 3)[:, 2]).reshape(local.shape[:2])
    hit = np.isfinite(planar)
    water = np.zeros(hit.shape, bool)
    if getattr(sampler, "water_m", None) is not None and hit.any():
        at = position + world_dirs[hit.ravel()] * depth_along[hit.ravel(), None]
        water[hit] = sampler.coarse_height(at[:, 0], at[:, 1], water=False) < sampler.water_m - 1e-3
    elevation = np.degrees(np.arcsin(np.clip(world_dirs[:, 2], -1, 1))).reshape(hit.shape)
    h, w = hit.shape
    ch, cw = max(1, round(h * rules.central_fraction)), max(1, round(w * rules.central_fraction))
    centre = planar[(h - ch) // 2:(h - ch) // 2 + ch, (w - cw) // 2:(w - cw) // 2 + cw]
    logs = np.log(planar[hit]) if hit.any() else np.zeros(1)
    central_hits = centre[np.isfinite(centre)]
    # Looking out across the land beats facing a mound: reward a far central median.
    central_median = float(np.median(central_hits)) if central_hits.size else rules.fill_distance_m * 100
    return ViewStats(
        sky_fraction=float(1.0 - hit.mean()),
        below_horizon_misses=int((~hit & (elevation < -rules.horizon_tolerance_deg)).sum()),
        central_min_m=float(centre.min()),
        fill_fraction=float((planar < rules.fill_distance_m).mean()),
        water_fraction=float(water.mean()),
        spread=float(logs.std() + 0.5 * math.log(max(central_median, 1e-3))),
    )


def judged_frames(n_frames: int, rules: ViewRules) -> np.ndarray:
    """Indices of the frames a trajectory is judged on: all, or ``max_frames`` evenly spaced."""
    if n_frames <= rules.max_frames:
        return np.arange(n_frames)
    return np.unique(np.round(np.linspace(0, n_frames - 1, rules.max_frames)).astype(int))


@dataclass
class Judgement:
    valid: bool
    score: float
    violations: list
    frames: list

    def to_json(self) -> dict:
        return {"valid": self.valid, "score": self.score, "violations": self.violations,
                "frames": [asdict(f) for f in self.frames]}


def judge(sampler, positions: np.ndarray, targets: np.ndarray, focal_mm: float, rules: ViewRules,
          max_dist: float) -> Judgement:
    """Apply the rules to every judged frame of a trajectory; the score is the mean spread."""
    check(rules)
    stats, problems = [], []
    for i in judged_frames(len(positions), rules):
        s = view_stats(sampler, positions[i], targets[i], focal_mm, rules, max_dist)
        stats.append(s)
        problems += [f"frame {i + 1}: {v}" for v in s.violations(rules)]
        if problems:  # one bad frame rejects the trajectory
            break
    score = float(np.mean([s.spread for s in stats]))
    return Judgement(not problems, score if not problems else -math.inf, problems, stats)
