"""Build and render every scene type at two seeds, write one contact sheet, print build/render figures.

    python scripts/preview_scenes.py [--types forest meadow] [--seeds 0 1] [--out out/previews]
                                     [--resolution 320 240] [--samples 16] [--json]

Each (type, seed) renders one frame with its ground truth (render_gt) in its own process, so
peak memory (ru_maxrss) is that scene's. Per view it reports: sky share, 99th-percentile depth,
rays more than 1 degree below the horizon that miss the world, and RGB exposure figures (mean
luminance, share of clipped pixels). The sheet is ``OUT/contact_sheet.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _argv() -> list[str]:
    return sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]


def view_figures(frame_dir: Path) -> dict:
    """Figures of one rendered frame folder (render_gt layout)."""
    import numpy as np
    from PIL import Image

    from procdream.render_gt.camera import pixel_rays

    depth = np.load(frame_dir / "depth.npy")
    cam = json.loads((frame_dir / "camera.json").read_text())
    K, pose = np.array(cam["K"]), np.array(cam["world_from_camera"])
    h, w = depth.shape
    world = pixel_rays(K, w, h) @ pose[:3, :3].T
    elevation = np.degrees(np.arcsin(world[..., 2] / np.linalg.norm(world, axis=-1)))
    hit = np.isfinite(depth)
    rgb = np.asarray(Image.open(frame_dir / "rgb.png").convert("RGB"), dtype=np.float32) / 255.0
    luminance = rgb @ np.array([0.2126, 0.7152, 0.0722])
    semantic = np.load(frame_dir / "semantic.npy")
    classes, counts = np.unique(semantic[semantic > 0], return_counts=True)
    return {"sky_fraction": round(float(1 - hit.mean()), 4),
            "depth_p99_m": round(float(np.percentile(depth[hit], 99)), 1) if hit.any() else 0.0,
            "below_horizon_misses": int((~hit & (elevation < -1.0)).sum()),
            "mean_luminance": round(float(luminance.mean()), 3),
            "clipped_fraction": round(float((rgb.max(axis=-1) > 0.99).mean()), 4),
            "classes_over_0.5pct": int((counts > 0.005 * depth.size).sum())}


def render_one(scene_type: str, seed: int, out: Path, size, samples: int) -> dict:
    import bpy

    from procdream.procgen.scenes import compose
    from procdream.render_gt.config import RenderConfig
    from procdream.render_gt.render import render_sequence

    bpy.ops.wm.read_factory_settings(use_empty=True)
    t0 = time.perf_counter()
    result = compose(scene_type, seed)
    build_s = time.perf_counter() - t0
    dg = bpy.context.evaluated_depsgraph_get()
    instances = sum(1 for inst in dg.object_instances if inst.is_instance)
    scene_dir = out / f"{scene_type}_{seed}"
    t0 = time.perf_counter()
    render_sequence(bpy.context.scene, [1], scene_dir, RenderConfig(*size, samples, preview=False))
    render_s = time.perf_counter() - t0
    row = {"scene_type": scene_type, "seed": seed, "build_s": round(build_s, 2), "render_s": round(render_s, 2),
           "objects": len(result.objects), "instances": instances,
           "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
           "rgb": str(scene_dir / "frame_0001" / "rgb.png")}
    row.update(view_figures(scene_dir / "frame_0001"))
    return row


def contact_sheet(rows: list[dict], path: Path, seeds: list[int]) -> None:
    from PIL import Image, ImageDraw

    types = list(dict.fromkeys(r["scene_type"] for r in rows))
    first = Image.open(rows[0]["rgb"])
    w, h = first.size
    sheet = Image.new("RGB", (w * len(seeds), h * len(types)), "black")
    draw = ImageDraw.Draw(sheet)
    for r in rows:
        x, y = seeds.index(r["seed"]) * w, types.index(r["scene_type"]) * h
        sheet.paste(Image.open(r["rgb"]).convert("RGB"), (x, y))
        draw.text((x + 4, y + 3), f"{r['scene_type']} seed {r['seed']}", fill="white")
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.png")
    sheet.save(tmp)
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    from procdream.procgen.scenes import SCENE_TYPES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--types", nargs="+", choices=SCENE_TYPES, default=list(SCENE_TYPES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--out", type=Path, default=Path("out/previews"))
    parser.add_argument("--resolution", type=int, nargs=2, default=(320, 240))
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--json", action="store_true", help="print one JSON line per scene")
    parser.add_argument("--one", nargs=2, metavar=("TYPE", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.one:  # the child process: one scene, one JSON line on the last line of stdout
        saved = os.dup(1)
        os.dup2(2, 1)  # Cycles logs to fd 1
        try:
            row = render_one(args.one[0], int(args.one[1]), args.out, tuple(args.resolution), args.samples)
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
        print(json.dumps(row))
        return 0
    rows = []
    for scene_type in args.types:
        for seed in args.seeds:
            cmd = [sys.executable, __file__, "--one", scene_type, str(seed), "--out", str(args.out),
                   "--resolution", *map(str, args.resolution), "--samples", str(args.samples)]
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            if proc.returncode != 0:
                print(f"{scene_type} seed {seed} failed:\n{proc.stderr[-3000:]}", file=sys.stderr)
                return 1
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(json.dumps(row) if args.json else
                  f"{scene_type} seed {seed}: build {row['build_s']} s, render {row['render_s']} s, "
                  f"{row['objects']} objects, {row['instances']} instances, {row['peak_rss_mib']} MiB; "
                  f"sky {row['sky_fraction']:.2f}, depth p99 {row['depth_p99_m']} m, "
                  f"misses below horizon {row['below_horizon_misses']}, luminance {row['mean_luminance']}, "
                  f"clipped {row['clipped_fraction']:.3f}", flush=True)
    sheet = args.out / "contact_sheet.png"
    contact_sheet(rows, sheet, args.seeds)
    print(f"contact sheet: {sheet}")
    return 0


if __name__ == "__main__":
    sys.exit(main(_argv()))
