"""Typed configuration of a ground-truth render."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RenderConfig:
    """How one frame is rendered.

    width, height: output size in pixels. samples: Cycles samples per pixel of the RGB image.
    The ground truth comes from a second, 1-sample render of the same synced scene, so every
    GT channel is a pixel-centre point sample of the same surface.
    """

    width: int = 320
    height: int = 240
    samples: int = 16
    denoise: bool = False
    #: Cycles device: "CPU" or "GPU" (GPU uses whatever compute backend the preferences set up).
    device: str = "CPU"
    #: Keep the raw multilayer EXR of the ground-truth render next to the frame files.
    keep_exr: bool = False
    #: Also write preview.png (RGB, depth, flow, instances, normals tiled) per frame.
    preview: bool = True
    #: Cycles CPU threads; 0 = one per core. Parallel workers on one machine split the cores.
    threads: int = 0

    def validate(self) -> None:
        """Raise ValueError naming the first bad field."""
        if not (isinstance(self.width, int) and isinstance(self.height, int)) or self.width < 1 or self.height < 1:
            raise ValueError(f"resolution must be positive integers, got {self.width}x{self.height}")
        if not isinstance(self.samples, int) or self.samples < 1:
            raise ValueError(f"samples must be an integer >= 1, got {self.samples!r}")
        if not isinstance(self.threads, int) or self.threads < 0:
            raise ValueError(f"threads must be an integer >= 0 (0 = all cores), got {self.threads!r}")
        if self.device not in ("CPU", "GPU"):
            raise ValueError(f"device must be 'CPU' or 'GPU', got {self.device!r}")
