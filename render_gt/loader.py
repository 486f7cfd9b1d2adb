"""Read a ProcDream dataset without Blender: one frame as arrays, or a torch-style Dataset.

Needs numpy, plus Pillow for ``rgb.png``. Arrays follow DESIGN.md: depth float32 HxW metres
(+inf = no surface), flows float32 HxWx2 pixels (+u right, +v down), normal float32 HxWx3
(OpenCV camera frame), instance uint32, semantic uint16, rgb uint8 HxWx3.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

ARRAYS = ("depth", "flow_forward", "flow_backward", "normal", "instance", "semantic")


def _read_png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def load_frame(path: str | Path) -> dict[str, np.ndarray]:
    """Load one ``frame_NNNN`` folder. Missing flows (first/last frame) are simply absent.

    Also returns ``K`` (3x3) and ``world_from_camera`` (4x4) as float64 arrays, and ``instances``:
    the visible instances' ids, semantic ids, pixel counts and 2D boxes (instances.json).
    """
    path = Path(path)
    if not (path / "camera.json").is_file():
        raise FileNotFoundError(f"{path} is not a ProcDream frame folder (no camera.json)")
    frame: dict[str, np.ndarray] = {"rgb": _read_png(path / "rgb.png")}
    for name in ARRAYS:
        f = path / f"{name}.npy"
        if f.is_file():
            frame[name] = np.load(f, allow_pickle=False)
    cam = json.loads((path / "camera.json").read_text())
    frame["K"] = np.array(cam["K"], dtype=np.float64)
    frame["world_from_camera"] = np.array(cam["world_from_camera"], dtype=np.float64)
    if (path / "instances.json").is_file():
        frame["instances"] = json.loads((path / "instances.json").read_text())["instances"]
    return frame


def load_instances(scene_dir: str | Path) -> dict[str, np.ndarray]:
    """A scene's ``instances.npz``: one row per instance id, in id order. Columns: ``instance_id``
    uint32, ``object`` int32 (row of scene.json's ``objects``), ``semantic_id`` uint16,
    ``world_from_instance`` float32 (n, 4, 4), ``box`` float32 (n, 2, 3) in the instance's own
    frame and ``aabb`` float32 (n, 2, 3) in the world, metres, at the first frame (NaN where an id
    renders nothing of its own). ``box`` under ``world_from_instance`` is the oriented 3D box."""
    path = Path(scene_dir) / "instances.npz"
    if not path.is_file():
        raise FileNotFoundError(f"{scene_dir} has no instances.npz (not a rendered ProcDream scene folder)")
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


class FrameDataset:
    """All frames of a dataset folder (``OUT/scene_*/frame_*``), in sorted order.

    Works as a ``torch.utils.data.Dataset`` (``__len__``/``__getitem__``) without importing
    torch. Only scenes marked ``done`` in ``dataset.json`` are listed when that file exists.
    """

    def __init__(self, root: str | Path, transform=None):
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"dataset folder {self.root} does not exist")
        scenes = sorted(p for p in self.root.glob("scene_*") if p.is_dir())
        manifest = self.root / "dataset.json"
        if manifest.is_file():
            status = {s.get("name"): s.get("status") for s in json.loads(manifest.read_text()).get("scenes", [])}
            scenes = [s for s in scenes if status.get(s.name) == "done"]
        self.frames = [f for s in scenes for f in sorted(s.glob("frame_*")) if f.is_dir()]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        frame = load_frame(self.frames[i])
        return self.transform(frame) if self.transform else frame
