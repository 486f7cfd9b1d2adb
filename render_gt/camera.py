"""Camera intrinsics and pose from a Blender camera, in OpenCV conventions.

OpenCV axes: x right, y down, z forward. ``world_from_camera`` maps camera coordinates
(metres) to world coordinates. K uses the pixel-centre convention: pixel (col, row) covers
[col, col+1) x [row, row+1), so its centre is (col+0.5, row+0.5) and cx = W/2 with no shift.
"""

from __future__ import annotations

import numpy as np

#: Blender camera axes (x right, y up, looking down -z) to OpenCV camera axes.
BLENDER_TO_OPENCV = np.diag([1.0, -1.0, -1.0, 1.0])


class CameraError(ValueError):
    pass


def intrinsics(scene, cam_obj) -> np.ndarray:
    """3x3 K in pixels for ``cam_obj`` rendered with ``scene``'s resolution settings.

    Honours lens (mm), sensor size and fit, lens shift and non-square pixel aspect.
    """
    cam = cam_obj.data
    if cam.type != "PERSP":
        raise CameraError(f"camera {cam_obj.name!r} is {cam.type}; only perspective cameras have a K")
    r = scene.render
    w = r.resolution_x * r.resolution_percentage / 100.0
    h = r.resolution_y * r.resolution_percentage / 100.0
    aspect = r.pixel_aspect_y / r.pixel_aspect_x  # >1: pixels are taller than wide
    fit = cam.sensor_fit
    if fit == "AUTO":
        fit = "HORIZONTAL" if w * r.pixel_aspect_x >= h * r.pixel_aspect_y else "VERTICAL"
        sensor = cam.sensor_width  # AUTO always measures the larger side with sensor_width
    else:
        sensor = cam.sensor_width if fit == "HORIZONTAL" else cam.sensor_height
    # Pixels spanned by the fitted sensor dimension, in units of horizontal pixel width.
    view_px = w if fit == "HORIZONTAL" else h * aspect
    fx = cam.lens / sensor * view_px
    fy = fx / aspect
    cx = w / 2.0 - cam.shift_x * view_px
    cy = h / 2.0 + cam.shift_y * view_px / aspect
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def world_from_camera(cam_obj) -> np.ndarray:
    """4x4 pose (OpenCV camera -> world, metres) of the camera at the current frame.

    Object scale is removed, so the rotation block is orthonormal.
    """
    m = np.array(cam_obj.matrix_world, dtype=np.float64)
    rot = m[:3, :3]
    rot = rot / np.linalg.norm(rot, axis=0, keepdims=True)
    out = np.eye(4)
    out[:3, :3] = rot
    out[:3, 3] = m[:3, 3]
    return out @ BLENDER_TO_OPENCV


def pixel_rays(K: np.ndarray, width: int, height: int) -> np.ndarray:
    """HxWx3 camera-frame ray directions through pixel centres, with z = 1."""
    u, v = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    pix = np.stack([u, v, np.ones_like(u)], axis=-1)
    return pix @ np.linalg.inv(K).T


def camera_record(scene, cam_obj, frame: int) -> dict:
    """The per-frame camera.json content."""
    r = scene.render
    return {
        "K": intrinsics(scene, cam_obj).tolist(),
        "world_from_camera": world_from_camera(cam_obj).tolist(),
        "width": int(r.resolution_x * r.resolution_percentage // 100),
        "height": int(r.resolution_y * r.resolution_percentage // 100),
        "frame": int(frame),
    }
