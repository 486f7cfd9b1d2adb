"""Input validation shared by the rasterizer backends; works on numpy arrays and torch tensors."""

from __future__ import annotations

import numpy as np


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def check_inputs(clip_pos, faces, width: int, height: int) -> None:
    """Raise ValueError unless the rasterizer inputs are well formed.

    ``clip_pos`` must be a finite floating (V, 4) array, ``faces`` an integer (F, 3) array whose
    entries index ``clip_pos`` rows, and ``width`` / ``height`` positive ints. Accepts numpy arrays
    or torch tensors (on any device; the checks reduce on that device).
    """
    for name, size in (("width", width), ("height", height)):
        if isinstance(size, bool) or not isinstance(size, int | np.integer) or size <= 0:
            raise ValueError(f"{name} must be a positive int, got {size!r}")
    if clip_pos.ndim != 2 or clip_pos.shape[1] != 4:
        raise ValueError(f"clip_pos must have shape (V, 4), got {tuple(clip_pos.shape)}")
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(f"faces must have shape (F, 3), got {tuple(faces.shape)}")
    if _is_torch(clip_pos):
        floating, finite = clip_pos.dtype.is_floating_point, bool(clip_pos.isfinite().all())
    else:
        floating = np.issubdtype(clip_pos.dtype, np.floating)
        finite = floating and bool(np.isfinite(clip_pos).all())
    if not floating:
        raise ValueError(f"clip_pos must be floating point, got {clip_pos.dtype}")
    if not finite:
        raise ValueError("clip_pos has non-finite (NaN or inf) coordinates")
    if _is_torch(faces):
        integer = not (faces.dtype.is_floating_point or faces.dtype.is_complex) and str(faces.dtype) != "torch.bool"
    else:
        integer = np.issubdtype(faces.dtype, np.integer)
    if not integer:
        raise ValueError(f"faces must be an integer array, got {faces.dtype}")
    if faces.shape[0]:
        lo, hi = int(faces.min()), int(faces.max())
        if lo < 0 or hi >= clip_pos.shape[0]:
            raise ValueError(f"faces index out of range: indices span [{lo}, {hi}] but there are "
                             f"{clip_pos.shape[0]} vertices")
