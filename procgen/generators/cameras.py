"""Cameras above the terrain with smooth trajectories: orbit, fly-through and pan.

Positions in metres (world, z up), angles in degrees. Every frame's camera centre is kept
``clearance_m`` above the terrain and outside every obstacle's bounding box grown by the
clearance, so the camera never clips through geometry. Poses are keyframed per frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..params import check, param


@dataclass
class CameraParams:
    trajectory: str = param("orbit", choices=("orbit", "flythrough", "pan"), doc="path type")
    height_m: float = param(2.0, 0.2, 200.0, "m", "eye height above the ground")
    radius_m: float = param(12.0, 0.5, 1000.0, "m", "orbit radius / distance from the centre")
    step: float = param(1.5, 0.0, 60.0, "deg or m per frame", "orbit/pan: degrees per frame; "
                        "fly-through: metres per frame")
    start_angle_deg: float = param(0.0, 0.0, 360.0, "deg", "where on the circle / which heading")
    pitch_deg: float = param(-4.0, -30.0, 30.0, "deg", "look up (+) or down (-) from the horizon")
    focal_mm: float = param(30.0, 8.0, 300.0, "mm", "lens focal length (36 mm sensor)")
    clearance_m: float = param(0.6, 0.05, 20.0, "m", "minimum distance to terrain and obstacles")


def sample_params(rng: np.random.Generator, trajectory: str | None = None,
                  high_view_probability: float = 0.05, high: bool | None = None) -> CameraParams:
    """A person's view most of the time: eye height clip-gauss(2, 0.4) in [1.5, 3] m, pitch near the
    horizon; with ``high_view_probability`` (or when ``high`` says so) a raised view (5-30 m)
    looking further down."""
    trajectory = trajectory or str(rng.choice(["orbit", "flythrough", "pan"]))
    chance = rng.random() < high_view_probability
    high = chance if high is None else high
    height = float(rng.uniform(5.0, 30.0)) if high else float(np.clip(rng.normal(2.0, 0.4), 1.5, 3.0))
    pitch = float(rng.uniform(-25.0, -8.0)) if high else float(np.clip(rng.normal(-3.0, 5.0), -20.0, 12.0))
    return CameraParams(
        trajectory=trajectory,
        height_m=height,
        radius_m=float(rng.uniform(6.0, 16.0)),
        step=float(rng.uniform(0.8, 2.5) if trajectory != "flythrough" else rng.uniform(0.1, 0.4)),
        start_angle_deg=float(rng.uniform(0.0, 360.0)),
        pitch_deg=pitch,
        focal_mm=float(rng.uniform(20.0, 45.0)),
    )


def choose(rng: np.random.Generator, n_frames: int, sampler, rules, kind: str | None = None,
           overrides=None, high_view_probability: float = 0.05):
    """Draw ``rules.candidates`` cameras (of trajectory ``kind``, or any), judge every one on its trajectory, keep the best valid one.
    A round without any valid candidate is followed by up to ``rules.extra_rounds`` more.

    ``overrides`` (a callable CameraParams -> CameraParams) applies the user's fixed parameters to
    each candidate. Returns (params, judgement, number of candidates rejected). If none is valid the
    one that stayed valid for most judged frames is kept, and its judgement says why.
    """
    from . import views

    best = None
    rejected = 0
    max_dist = 1.5 * getattr(sampler, "far", 2000.0) * math.sqrt(2)
    # Raised or eye-level is decided once per scene: raised views score a wider depth spread, so
    # drawing it per candidate would make them win far more often than the probability says.
    high = bool(rng.random() < high_view_probability)
    for i in range((1 + rules.extra_rounds) * rules.candidates):
        if i and i % rules.candidates == 0 and best[0][0]:
            break  # a round found a valid view: more rounds only cost time
        cand = sample_params(rng, kind, high=high)
        if overrides is not None:
            cand = overrides(cand)
        pos, look = trajectory(cand, n_frames, sampler)
        j = views.judge(sampler, pos, look, cand.focal_mm, rules, max_dist)
        rejected += not j.valid
        key = (j.valid, len(j.frames) - (not j.valid), j.score if j.valid else j.frames[-1].spread)
        if best is None or key > best[0]:
            best = (key, cand, j)
    return best[1], best[2], rejected


def trajectory(params: CameraParams, n_frames: int, sampler, obstacles=()) -> tuple[np.ndarray, np.ndarray]:
    """(positions (n, 3) in metres, look-at targets (n, 3)) for ``n_frames`` frames.

    ``sampler`` has ``height(x, y)``; ``obstacles`` are world AABBs ``[[x0,y0,z0],[x1,y1,z1]]``.
    """
    check(params)
    t = np.arange(n_frames, dtype=float)
    a0 = math.radians(params.start_angle_deg)
    if params.trajectory == "orbit":
        ang = a0 + np.radians(params.step) * t
        xy = params.radius_m * np.stack([np.cos(ang), np.sin(ang)], axis=-1)
        look_xy = np.zeros_like(xy)
    elif params.trajectory == "flythrough":
        heading = np.array([math.cos(a0), math.sin(a0)])
        # Start behind the centre so the path crosses the middle of the terrain.
        xy = (-0.5 * params.radius_m + params.step * t)[:, None] * heading
        look_xy = xy + heading * 10.0
    else:  # pan: stand still, turn
        xy = np.tile(params.radius_m * np.array([math.cos(a0), math.sin(a0)]), (n_frames, 1))
        ang = a0 + math.pi + np.radians(params.step) * (t - (n_frames - 1) / 2)
        look_xy = xy + 10.0 * np.stack([np.cos(ang), np.sin(ang)], axis=-1)
    ground = sampler.surface(xy[:, 0], xy[:, 1])
    z = ground + params.height_m
    pos = np.concatenate([xy, z[:, None]], axis=-1)
    pos = _clear(pos, sampler, obstacles, params.clearance_m)
    horiz = np.linalg.norm(look_xy - pos[:, :2], axis=-1)
    look_z = pos[:, 2] + np.tan(math.radians(params.pitch_deg)) * np.maximum(horiz, 1e-3)
    return pos, np.concatenate([look_xy, look_z[:, None]], axis=-1)



def _clear(pos: np.ndarray, sampler, obstacles, clearance: float) -> np.ndarray:
    """Lift positions above terrain, then above any (grown) obstacle box they fall into."""
    pos = pos.copy()
    # The terrain under a camera is not flat: keep clear of the highest point within the clearance.
    offsets = clearance * np.array([[0, 0], [1, 0], [-1, 0], [0, 1], [0, -1]])
    for i, p in enumerate(pos):
        ground = max(float(sampler.height(p[0] + dx, p[1] + dy)) for dx, dy in offsets)
        p[2] = max(p[2], ground + clearance)
        for lo, hi in obstacles:
            lo, hi = np.asarray(lo) - clearance, np.asarray(hi) + clearance
            if np.all(p >= lo) and np.all(p <= hi):
                p[2] = hi[2]
        pos[i] = p
    return pos


def build(params: CameraParams, n_frames: int, sampler, obstacles=(), scene=None, frame_start: int = 1):
    """A camera object keyframed at frames ``frame_start .. frame_start + n_frames - 1``."""
    import bpy
    from mathutils import Vector

    scene = scene or bpy.context.scene
    cam_data = bpy.data.cameras.new("camera")
    cam_data.lens = params.focal_mm
    cam_data.sensor_width = 36.0
    cam_data.clip_start = min(0.05, params.clearance_m / 2)
    # Far enough for the world's corners (the far field reaches ``sampler.far`` on each side).
    cam_data.clip_end = 3.0 * float(getattr(sampler, "far", 2000.0))
    cam = bpy.data.objects.new("camera", cam_data)
    scene.collection.objects.link(cam)
    scene.camera = cam
    cam.rotation_mode = "QUATERNION"
    positions, targets = trajectory(params, n_frames, sampler, obstacles)
    for i, (p, look) in enumerate(zip(positions, targets, strict=True)):
        cam.location = p
        # A camera looks down its local -z with +y up.
        cam.rotation_quaternion = (Vector(look) - Vector(p)).to_track_quat("-Z", "Y")
        cam.keyframe_insert("location", frame=frame_start + i)
        cam.keyframe_insert("rotation_quaternion", frame=frame_start + i)
    scene.frame_start, scene.frame_end = frame_start, frame_start + n_frames - 1
    return cam
