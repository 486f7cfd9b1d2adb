"""COCO export of a ProcDream dataset: ``python -m procdream.render_gt.coco OUT [-o FILE]``. bpy-free.

One COCO image per frame (``file_name`` relative to OUT: ``scene_000000/frame_0001/rgb.png``), one
annotation per instance visible in it: an RLE mask (pycocotools), ``bbox`` [x, y, w, h] and
``area`` of that mask, ``category_id`` = the semantic id, ``instance_id`` = the value in
instance.npy, ``iscrowd`` 0. Categories are the semantic classes of ``render_gt.labels``.
Scenes the manifest does not mark ``done`` (pending, failed) are skipped and listed in
``info.skipped_scenes``. The file is written atomically; nothing in OUT is changed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from . import convert, writer

DEFAULT_NAME = "coco.json"


class CocoExportError(ValueError):
    """A folder that is not a dataset, or an output that cannot be written."""


def _scenes(root: Path) -> tuple[list[Path], list[dict]]:
    manifest = root / "dataset.json"
    if not root.is_dir():
        raise CocoExportError(f"{root} does not exist")
    if not manifest.is_file():
        raise CocoExportError(f"{root} is not a ProcDream dataset (no dataset.json)")
    try:
        entries = json.loads(manifest.read_text()).get("scenes", [])
    except (json.JSONDecodeError, AttributeError) as exc:
        raise CocoExportError(f"{manifest} is not a ProcDream manifest: {exc}") from None
    done, skipped = [], []
    for e in entries:
        folder = root / e.get("name", "")
        if e.get("status") == "done" and (folder / "scene.json").is_file():
            done.append(folder)
        else:
            skipped.append({"name": e.get("name"), "status": e.get("status"), "error": e.get("error")})
    return done, skipped


def check_output(path: Path) -> None:
    """CocoExportError unless ``path`` can be written (an existing, writable folder; not a folder itself)."""
    folder = path.parent
    if not folder.is_dir():
        raise CocoExportError(f"cannot write {path}: folder {folder} does not exist")
    if path.is_dir():
        raise CocoExportError(f"cannot write {path}: it is a folder")
    if not os.access(folder, os.W_OK):
        raise CocoExportError(f"cannot write {path}: folder {folder} is not writable")


def export(root: str | Path, out_file: str | Path | None = None) -> dict:
    """Write the COCO file for dataset ``root`` (default ``root/coco.json``); returns a summary
    {"file", "images", "annotations", "skipped_scenes"}."""
    from pycocotools import mask as mask_utils

    root = Path(root)
    scenes, skipped = _scenes(root)
    out_file = Path(out_file) if out_file is not None else root / DEFAULT_NAME
    check_output(out_file)
    images, annotations, categories = [], [], None
    for scene in scenes:
        info = json.loads((scene / "scene.json").read_text())
        if categories is None:
            categories = info["categories"]
        for frame_dir in sorted(p for p in scene.glob("frame_*") if p.is_dir()):
            instance = np.load(frame_dir / "instance.npy", allow_pickle=False)
            semantic = np.load(frame_dir / "semantic.npy", allow_pickle=False)
            h, w = instance.shape
            image_id = len(images) + 1
            images.append({"id": image_id, "file_name": str((frame_dir / "rgb.png").relative_to(root)),
                           "width": int(w), "height": int(h), "scene": scene.name, "frame": frame_dir.name})
            lut = np.zeros(int(instance.max()) + 1, np.uint16)
            lut[instance] = semantic
            mask = np.zeros((h, w), np.uint8, order="F")
            # Compare inside each instance's 2D box only: frames hold thousands of small instances.
            for seen in convert.visible_instances(instance, lut):
                x0, y0, x1, y1 = seen["bbox"]
                mask[y0:y1, x0:x1] = instance[y0:y1, x0:x1] == seen["id"]
                rle = mask_utils.encode(mask)
                mask[y0:y1, x0:x1] = 0
                rle["counts"] = rle["counts"].decode("ascii")
                annotations.append({
                    "id": len(annotations) + 1, "image_id": image_id, "instance_id": seen["id"],
                    "category_id": seen["semantic_id"], "segmentation": rle,
                    "area": float(mask_utils.area(rle)), "bbox": [float(v) for v in mask_utils.toBbox(rle)],
                    "iscrowd": 0})
    if categories is None:
        from .labels import CATEGORIES as categories
    coco = {
        "info": {"description": f"ProcDream dataset {root.name}", "skipped_scenes": skipped},
        "images": images, "annotations": annotations,
        "categories": [{"id": int(i), "name": name, "supercategory": "nature"}
                       for name, i in sorted(categories.items(), key=lambda kv: kv[1]) if i > 0],
    }
    writer.atomic_write_bytes(out_file, json.dumps(coco).encode())
    return {"file": str(out_file), "images": len(images), "annotations": len(annotations), "skipped_scenes": skipped}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m procdream.render_gt.coco",
                                description="Export a ProcDream dataset's instance masks as COCO (RLE).")
    p.add_argument("root", type=Path, help="dataset folder (the --out of gen_dataset.py)")
    p.add_argument("-o", "--output", type=Path, default=None, help=f"COCO file (default ROOT/{DEFAULT_NAME})")
    args = p.parse_args(argv)
    try:
        summary = export(args.root, args.output)
    except CocoExportError as exc:
        p.exit(2, f"{p.prog}: error: {exc}\n")
    for s in summary["skipped_scenes"]:
        print(f"  skipped {s['name']} ({s['status']})", file=sys.stderr)
    print(f"{summary['images']} images, {summary['annotations']} annotations -> {summary['file']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
