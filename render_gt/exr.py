"""Read Blender's multilayer (multi-part) EXR into ``{"layer.pass": HxWxC float32}``. bpy-free."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def read_multilayer(path: str | Path) -> dict[str, np.ndarray]:
    """All passes of a Blender multilayer EXR, rows top-down, channels last.

    Keys are ``"<view layer>.<pass>"``; channels keep the file's order (X, Y, Z, W / R, G, B, A).
    Single-channel passes come back HxWx1.
    """
    import OpenEXR

    out: dict[str, list[tuple[str, np.ndarray]]] = {}
    with OpenEXR.File(str(path), separate_channels=True) as f:
        for part in f.parts:
            for name, channel in part.channels.items():
                base, _, chan = name.rpartition(".")
                if not base:  # a bare channel name: treat as a one-channel pass
                    base, chan = name, ""
                out.setdefault(base, []).append((chan, np.asarray(channel.pixels, dtype=np.float32)))
    order = {c: i for i, c in enumerate("XYZWRGBAV")}
    return {k: np.stack([a for _, a in sorted(v, key=lambda t: order.get(t[0], 99))], axis=-1)
            for k, v in out.items()}
