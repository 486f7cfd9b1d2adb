"""Typed configuration of a dataset run, and what must match for a run to resume a dataset. bpy-free."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..config import RenderConfig


class DatasetConfigError(ValueError):
    """Settings that cannot be used, or that contradict an existing dataset; raised before any work."""


@dataclass
class DatasetConfig:
    """One dataset run.

    scenes: number of scenes (indices 0..scenes-1). frames: frames per scene, numbered 1..frames.
    width, height: pixels. samples: Cycles samples per pixel of rgb.png (ground truth is 1 spp).
    seed: base seed; scene i renders with ``scene_seed(seed, i)`` whatever the run order.
    gin_files, gin_params: scene configuration on top of ``procgen/configs/<scene_type>.gin``.
    """

    out: Path
    scene_type: str = "meadow"
    scenes: int = 1
    frames: int = 4
    width: int = 320
    height: int = 240
    samples: int = 16
    seed: int = 0
    denoise: bool = False
    device: str = "CPU"
    gin_files: list[str] = field(default_factory=list)
    gin_params: list[str] = field(default_factory=list)
    #: Per-frame preview.png next to the ground truth (the contact sheet is always written).
    frame_previews: bool = True

    def validate(self) -> None:
        """Raise DatasetConfigError naming the first bad field."""
        for name in ("scenes", "frames", "width", "height", "samples"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise DatasetConfigError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise DatasetConfigError(f"seed must be a non-negative integer, got {self.seed!r}")
        for f in self.gin_files:
            if not Path(f).is_file():
                raise DatasetConfigError(f"gin file {f} does not exist")
        try:
            self.render_config().validate()
        except ValueError as exc:
            raise DatasetConfigError(str(exc)) from None

    def render_config(self, threads: int = 0) -> RenderConfig:
        return RenderConfig(self.width, self.height, self.samples, denoise=self.denoise, device=self.device,
                            preview=self.frame_previews, threads=threads)

    def identity(self) -> dict:
        """The settings that decide a dataset's content. A run may resume a dataset only when these match.

        gin files count by content (sha256), not by path, so moving a config file does not block a
        resume while editing one does. ``scenes`` is absent: a rerun may add scenes.
        """
        return {
            "scene_type": self.scene_type,
            "frames": self.frames,
            "resolution": [self.width, self.height],
            "samples": self.samples,
            "seed": self.seed,
            "denoise": self.denoise,
            "gin_params": list(self.gin_params),
            "gin_files": [_sha256(Path(f)) for f in self.gin_files],
            "frame_previews": self.frame_previews,
        }

    def to_json(self) -> dict:
        d = asdict(self)
        d["out"] = str(self.out)
        d["gin_files"] = [str(Path(f).resolve()) for f in self.gin_files]
        d["identity"] = self.identity()
        return d


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


#: How each identity key is spelled on the command line, for messages.
FLAGS = {"scene_type": "--scene-type", "frames": "--frames", "resolution": "--resolution", "samples": "--samples",
         "seed": "--seed", "denoise": "--denoise", "gin_params": "--gin-param", "gin_files": "--gin-file (content)",
         "frame_previews": "--no-frame-previews"}


def identity_diff(existing: dict, new: dict) -> list[str]:
    """Human-readable differences between two ``identity()`` dicts, one per setting."""
    out = []
    for key in sorted(set(existing) | set(new)):
        if existing.get(key) != new.get(key):
            out.append(f"{FLAGS.get(key, key)}: {existing.get(key)!r} in the dataset, {new.get(key)!r} now")
    return out
