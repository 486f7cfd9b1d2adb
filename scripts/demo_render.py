"""Placeholder demo: render the fixed placeholder scene with Cycles to one PNG.

    python scripts/demo_render.py --out out/demo [--resolution 320 240] [--samples 16]
    blender -b -P scripts/demo_render.py -- --out out/demo
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def _argv() -> list[str]:
    # Under `blender -b -P script -- args`, Blender's own flags come before "--".
    return sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Render the ProcDream placeholder scene.")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--resolution", type=int, nargs=2, default=(320, 240), metavar=("W", "H"))
    parser.add_argument("--samples", type=int, default=16)
    args = parser.parse_args(argv)
    if min(args.resolution) < 1 or args.samples < 1:
        parser.error("--resolution and --samples must be positive")

    import bpy

    from procdream.procgen import placeholder_scene

    t0 = time.perf_counter()
    scene = placeholder_scene.build(*args.resolution, samples=args.samples)
    args.out.mkdir(parents=True, exist_ok=True)
    final = args.out / "render.png"
    # Render to a temporary name and rename, so an interrupted run never leaves a partial PNG.
    tmp = args.out / ".render.tmp.png"
    scene.render.filepath = str(tmp)
    bpy.ops.render.render(write_still=True)
    os.replace(tmp, final)
    print(f"rendered {final} ({args.resolution[0]}x{args.resolution[1]}, {args.samples} spp) "
          f"in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(_argv()))
