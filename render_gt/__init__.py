"""Cycles rendering with ground truth, the dataset writers and the bpy-free loader.

``load_frame``/``FrameDataset`` and the modules ``convert``, ``exr``, ``writer``, ``preview``
and ``loader`` work without Blender; ``render``/``render_sequence`` and ``labels`` need bpy.
"""

from .config import RenderConfig
from .loader import FrameDataset, load_frame, load_instances


def __getattr__(name):
    # Keep `import procdream.render_gt` bpy-free: the render entry points load bpy on first use.
    if name in ("render_sequence", "render_frame", "prepare"):
        from . import render

        return getattr(render, name)
    raise AttributeError(name)


__all__ = ["FrameDataset", "RenderConfig", "load_frame", "load_instances", "render_sequence"]
