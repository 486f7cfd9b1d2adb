"""Camera matrices in OpenGL conventions (numpy, float64), and the vertex transform to clip space.

World and camera space are right-handed with +y up. The camera looks down its -z axis with +x to
the right of the image and +y up; clip space is OpenGL's (NDC x, y, z in [-1, 1], z = -1 on the
near plane). Matrices act on column vectors: ``clip = proj @ view @ [x, y, z, 1]``.
"""

from __future__ import annotations

import math

import numpy as np


def perspective(fov_y_deg: float, aspect: float, near: float, far: float) -> np.ndarray:
    """OpenGL perspective projection (gluPerspective), a (4, 4) float64 matrix.

    ``fov_y_deg`` is the full vertical field of view in degrees, ``aspect`` is width / height, and
    ``near`` / ``far`` are positive distances along the view direction in world units. Points on
    the near plane map to NDC z = -1 and on the far plane to +1; clip w is the distance in front
    of the camera (camera-space -z).
    """
    if not 0.0 < fov_y_deg < 180.0:
        raise ValueError(f"fov_y_deg must be in (0, 180), got {fov_y_deg}")
    if not 0.0 < near < far:
        raise ValueError(f"need 0 < near < far, got near={near}, far={far}")
    if not aspect > 0.0:
        raise ValueError(f"aspect must be positive, got {aspect}")
    f = 1.0 / math.tan(math.radians(fov_y_deg) / 2.0)
    proj = np.zeros((4, 4))
    proj[0, 0] = f / aspect
    proj[1, 1] = f
    proj[2, 2] = (far + near) / (near - far)
    proj[2, 3] = 2.0 * far * near / (near - far)
    proj[3, 2] = -1.0
    return proj


def look_at(eye, target=(0.0, 0.0, 0.0), up=(0.0, 1.0, 0.0)) -> np.ndarray:
    """World-to-camera (view) matrix, (4, 4) float64, for a camera at ``eye`` looking at ``target``.

    The camera's -z axis points from ``eye`` to ``target``, +x is to the right and +y is ``up``
    made orthogonal to the view direction. When the view direction is parallel to ``up`` (for
    example :func:`spherical_eye` with polar 0 or 180) the image up becomes the world axis that
    the azimuth-0 limit gives: -z looking down, +z looking up (for ``up`` = +y).
    """
    eye = np.asarray(eye, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    up = np.asarray(up, dtype=np.float64)
    forward = target - eye
    dist = np.linalg.norm(forward)
    if not dist > 0.0:
        raise ValueError("eye and target coincide")
    forward /= dist
    right = np.cross(forward, up)
    if np.linalg.norm(right) < 1e-9 * np.linalg.norm(up):
        # Looking along `up`: pick the up vector of the azimuth-0 limit so views near the pole
        # do not spin as they cross it.
        alt = np.array([0.0, 0.0, np.sign(forward @ up)])
        if np.linalg.norm(np.cross(forward, alt)) < 1e-9:
            alt = np.array([1.0, 0.0, 0.0])
        right = np.cross(forward, alt)
    right /= np.linalg.norm(right)
    true_up = np.cross(right, forward)
    view = np.eye(4)
    view[0, :3] = right
    view[1, :3] = true_up
    view[2, :3] = -forward
    view[:3, 3] = -view[:3, :3] @ eye
    return view


def spherical_eye(radius: float, polar_deg: float, azimuth_deg: float) -> np.ndarray:
    """Camera position on a sphere around the origin, (3,) float64 in world units.

    ``polar_deg`` is measured from +y (0 = straight above, 90 = on the horizon, 180 = below);
    ``azimuth_deg`` 0 puts the camera on the +z axis (the "front" view) and increases toward +x.
    """
    p = math.radians(polar_deg)
    a = math.radians(azimuth_deg)
    return radius * np.array([math.sin(p) * math.sin(a), math.cos(p), math.sin(p) * math.cos(a)])


def clip_positions(positions, mvp):
    """Homogeneous clip coordinates ``mvp @ [x, y, z, 1]`` for each row of ``positions`` (V, 3).

    numpy in, float32 (V, 4) numpy out (computed in float64). A torch tensor in gives a tensor on
    its device in its dtype, differentiable with respect to ``positions``; ``mvp`` may be numpy or
    torch (4, 4).
    """
    if isinstance(positions, np.ndarray):
        pos = positions.astype(np.float64, copy=False)
        mvp = np.asarray(mvp, dtype=np.float64)
        return (pos @ mvp[:, :3].T + mvp[:, 3]).astype(np.float32)
    import torch  # torch only when the caller already works in torch

    mvp = torch.as_tensor(mvp, dtype=positions.dtype, device=positions.device)
    return positions @ mvp[:, :3].T + mvp[:, 3]
