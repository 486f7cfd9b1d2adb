"""Command line of ``scripts/gen_dataset.py``. Parsing and validation need neither bpy nor Ray.

Exit codes: 0 every requested scene is done; 1 some scenes failed (the others are rendered and the
manifest names the failures); 2 bad settings (nothing was rendered or changed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .config import DatasetConfig, DatasetConfigError
from .runner import RunOptions

EPILOG = """examples:
  gen_dataset.py --out out/demo                       1 meadow scene, 4 frames, 320x240, 16 spp
  gen_dataset.py --out DIR --scene-type forest --scenes 100 --frames 8 --resolution 640 480 --samples 64
  gen_dataset.py --out DIR ... --workers 2            two local worker processes
  gen_dataset.py --out DIR ... --ray auto             scenes as tasks on the running Ray cluster
  gen_dataset.py --out DIR ... --retry-failed         redo only the scenes that failed
Rerunning the same command resumes: finished scenes are skipped."""


def parser() -> argparse.ArgumentParser:
    from ...procgen.scenes import SCENE_TYPES

    p = argparse.ArgumentParser(prog="gen_dataset.py", description="Render a ProcDream dataset: procedural "
                                "scenes with RGB, depth, flow, normals and segmentation.", epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    what = p.add_argument_group("what to render")
    what.add_argument("--out", type=Path, required=True, help="dataset folder (created; resumed if it exists)")
    what.add_argument("--scene-type", default="meadow", choices=SCENE_TYPES)
    what.add_argument("--scenes", type=int, default=1, help="number of scenes (default 1)")
    what.add_argument("--frames", type=int, default=4, help="frames per scene (default 4)")
    what.add_argument("--resolution", type=int, nargs=2, default=(320, 240), metavar=("W", "H"))
    what.add_argument("--samples", type=int, default=16, help="Cycles samples per pixel of rgb.png")
    what.add_argument("--seed", type=int, default=0, help="base seed; scene i always gets the same seed")
    what.add_argument("--denoise", action="store_true", help="denoise rgb.png (ground truth is never denoised)")
    what.add_argument("--gin-file", action="append", default=[], metavar="FILE", help="extra gin config")
    what.add_argument("--gin-param", action="append", default=[], metavar="BINDING",
                      help="gin binding, e.g. 'trees.density = 0.3' (repeatable)")
    what.add_argument("--no-frame-previews", action="store_true", help="skip the per-frame preview.png")
    what.add_argument("--coco", nargs="?", type=Path, const=True, default=None, metavar="FILE",
                      help="also write a COCO instance file of the finished scenes (default OUT/coco.json)")
    how = p.add_argument_group("how to run")
    how.add_argument("--workers", type=int, default=None,
                     help="local worker processes (default 1; 0 renders in this process, without crash isolation)")
    how.add_argument("--threads", type=int, default=None, help="Cycles threads per scene (default: cores/workers)")
    how.add_argument("--device", choices=("CPU", "GPU"), default="CPU", help="Cycles device")
    how.add_argument("--ray", metavar="ADDRESS", help="run scenes as tasks on this Ray cluster ('auto' = local)")
    how.add_argument("--ray-transfer", choices=("shared", "copy"), default=None,
                     help="shared: --out is visible to every node (default); copy: tasks render locally and "
                          "send scenes back")
    how.add_argument("--ray-cpus-per-task", type=int, default=None, help="CPUs a scene task claims (default 1)")
    how.add_argument("--retry-failed", action="store_true", help="render only the scenes that failed before")
    how.add_argument("--overwrite", action="store_true", help="delete an existing dataset in --out and start over")
    how.add_argument("--quiet", action="store_true", help="no progress output, only the summary")
    return p


def settings(args: argparse.Namespace) -> tuple[DatasetConfig, RunOptions]:
    """Parsed arguments -> (what, how). Raises DatasetConfigError for contradictory flags."""
    if args.ray is None and (args.ray_transfer is not None or args.ray_cpus_per_task is not None):
        raise DatasetConfigError("--ray-transfer and --ray-cpus-per-task only apply with --ray ADDRESS")
    if args.ray is not None and args.workers is not None:
        raise DatasetConfigError("--workers starts local processes; with --ray the cluster runs the scenes "
                                 "(use --ray-cpus-per-task to size them)")
    cfg = DatasetConfig(out=args.out, scene_type=args.scene_type, scenes=args.scenes, frames=args.frames,
                        width=args.resolution[0], height=args.resolution[1], samples=args.samples, seed=args.seed,
                        denoise=args.denoise, device=args.device, gin_files=list(args.gin_file),
                        gin_params=list(args.gin_param), frame_previews=not args.no_frame_previews)
    opts = RunOptions(workers=1 if args.workers is None else args.workers, threads=args.threads, ray=args.ray,
                      ray_transfer=args.ray_transfer or "shared", ray_cpus_per_task=args.ray_cpus_per_task or 1,
                      retry_failed=args.retry_failed, overwrite=args.overwrite, progress=not args.quiet)
    cfg.validate()
    opts.validate()
    if args.coco not in (None, True):
        from .. import coco

        try:
            coco.check_output(args.coco)  # before rendering, not after hours of it
        except coco.CocoExportError as exc:
            raise DatasetConfigError(f"--coco: {exc}") from None
    return cfg, opts


def main(argv: list[str] | None = None) -> int:
    from .runner import run

    p = parser()
    if argv is None:
        # Under `blender -b ... -- args` (or launch.python_command), Blender's flags come before "--".
        argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]
    args = p.parse_args(argv)
    try:
        cfg, opts = settings(args)
        summary = run(cfg, opts)
    except DatasetConfigError as exc:
        p.exit(2, f"{p.prog}: error: {exc}\n")
    except RuntimeError as exc:  # another run holds the folder, workers cannot start
        p.exit(2, f"{p.prog}: error: {exc}\n")
    for name, seed, error in summary.failed:
        print(f"  FAILED {name} (seed {seed}): {error}", file=sys.stderr)
    print(summary.line(), flush=True)
    if summary.contact_sheet:
        print(f"contact sheet: {summary.contact_sheet}", flush=True)
    if args.coco is not None:
        from .. import coco

        try:
            written = coco.export(cfg.out, None if args.coco is True else args.coco)
        except coco.CocoExportError as exc:
            p.exit(2, f"{p.prog}: error: {exc}\n")
        print(f"coco: {written['file']} ({written['images']} images, {written['annotations']} annotations)", flush=True)
    return 0 if summary.ok else 1
