"""``OUT/preview.png``: a grid of frames with their ground truth, for a first look at a dataset. bpy-free.

One row per chosen frame (the first, middle and last frame of up to ``max_scenes`` finished scenes),
one column per channel: RGB, depth, forward flow, normals, instances, semantic classes. Labels are
drawn with Pillow when it is installed (it is, outside Blender); without it the grid has no text.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import preview, writer
from ..loader import load_frame

COLUMNS = ("rgb", "depth", "flow", "normal", "instance", "semantic")
LABEL_PX = 14


def _tiles(frame: dict) -> list[np.ndarray]:
    flow = frame.get("flow_forward", frame.get("flow_backward"))
    h, w = frame["depth"].shape
    as_u8 = lambda x: (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)  # noqa: E731
    return [frame["rgb"][..., :3],
            as_u8(preview.depth_image(frame["depth"])),
            as_u8(preview.flow_image(flow) * (frame["instance"] != 0)[..., None]) if flow is not None
            else np.zeros((h, w, 3), np.uint8),
            as_u8(preview.normal_image(frame["normal"])),
            as_u8(preview.id_image(frame["instance"])),
            as_u8(preview.id_image(frame["semantic"]))]


def _shrink(img: np.ndarray, factor: int) -> np.ndarray:
    if factor <= 1:
        return img
    h, w = (img.shape[0] // factor) * factor, (img.shape[1] // factor) * factor
    # Box filter for RGB-like tiles keeps them readable; ids would blend, but they are colours here.
    return img[:h, :w].reshape(h // factor, factor, w // factor, factor, -1).mean(axis=(1, 3)).astype(np.uint8)


def pick_frames(out: Path, scene_names: list[str], max_scenes: int = 6) -> list[Path]:
    """First, middle and last frame folders of the first ``max_scenes`` scenes given."""
    chosen = []
    for name in scene_names[:max_scenes]:
        frames = sorted(p for p in (Path(out) / name).glob("frame_*") if p.is_dir())
        if frames:
            picks = sorted({0, len(frames) // 2, len(frames) - 1})
            chosen += [frames[i] for i in picks]
    return chosen


def make(out: Path, scene_names: list[str], max_scenes: int = 6, tile_width: int = 240) -> Path | None:
    """Write ``out/preview.png`` for the given finished scenes; returns its path, or None if no frames."""
    frames = pick_frames(out, scene_names, max_scenes)
    if not frames:
        return None
    rows = []
    for path in frames:
        tiles = _tiles(load_frame(path))
        factor = max(1, -(-tiles[0].shape[1] // tile_width))
        rows.append((path, [_shrink(t, factor) for t in tiles]))
    th, tw = rows[0][1][0].shape[:2]
    gap = 2
    sheet = np.full((LABEL_PX + len(rows) * (th + LABEL_PX + gap), len(COLUMNS) * (tw + gap), 3), 24, np.uint8)
    labels = [((c * (tw + gap) + 2, 1), name) for c, name in enumerate(COLUMNS)]
    for r, (path, tiles) in enumerate(rows):
        y = LABEL_PX + r * (th + LABEL_PX + gap)
        labels.append(((2, y + 1), f"{path.parent.name} / {path.name}"))
        for c, tile in enumerate(tiles):
            x = c * (tw + gap)
            sheet[y + LABEL_PX:y + LABEL_PX + tile.shape[0], x:x + tile.shape[1]] = tile
    sheet = _draw_labels(sheet, labels)
    return writer.save_png(Path(out) / "preview.png", sheet)


def _draw_labels(sheet: np.ndarray, labels) -> np.ndarray:
    try:
        from PIL import Image, ImageDraw
    except ImportError:
        return sheet
    img = Image.fromarray(sheet)
    draw = ImageDraw.Draw(img)
    for xy, text in labels:
        draw.text(xy, text, fill=(235, 235, 235))
    return np.asarray(img)
