"""``python -m procdream.gen3d paint|sketch MESH --prompt TEXT --out DIR ...``: engine jobs without a server.

Exit codes: 0 done; 1 the job failed (message on stderr); 2 bad arguments or input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .paint.config import TEXTURE_SIZES


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _job_parser(sub, name: str, help: str, mesh_help: str, out_help: str, steps_help: str):
    """A subcommand with the arguments every engine job shares (mesh, prompt, guidance source, ...)."""
    job = sub.add_parser(name, help=help)
    job.add_argument("mesh", type=Path, help=mesh_help)
    job.add_argument("--prompt", required=True)
    job.add_argument("--negative-prompt", default="")
    job.add_argument("--out", type=Path, required=True, help=out_help)
    src = job.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", help="Stable Diffusion: a diffusers folder or a .safetensors/.ckpt file")
    src.add_argument("--guidance", choices=("analytic",),
                     help="'analytic': the Gaussian TEST prior (flat CSS colours; for testing only)")
    job.add_argument("--steps", type=_positive, default=5000, help=steps_help)
    job.add_argument("--seed", type=_non_negative, default=0)
    job.add_argument("--guidance-scale", type=float, default=100.0)
    job.add_argument("--texture-size", type=int, default=1024, choices=TEXTURE_SIZES)
    job.add_argument("--up-axis", choices=("y", "z"), default="y",
                     help="the file's up axis (default y: glTF/OBJ convention)")
    job.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    job.add_argument("--preview-every", type=_positive, default=100, help="write preview.png every N steps")
    return job


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m procdream.gen3d", description="ProcDream engine jobs.")
    sub = p.add_subparsers(dest="command", required=True)
    paint = _job_parser(sub, "paint", "Latent-Paint: texture a mesh from a prompt",
                        ".obj/.ply/.glb/.gltf/.stl/.off or .npz (positions, faces[, uv_faces])",
                        "folder for texture.png, uvs.npy, mesh.glb", "SDS steps")
    paint.add_argument("--new-uvs", action="store_true", help="unwrap with xatlas even if the mesh has UVs")

    sketch = _job_parser(sub, "sketch", "Sketch to asset: a Sketch-Shape-guided Latent-NeRF -> textured mesh",
                         "the sketch as one mesh (primitives may overlap), any units",
                         "folder for mesh.glb, texture.png, result.json", "latent-stage SDS steps")
    sketch.add_argument("--refine-steps", type=_non_negative, default=0, help="RGB-refinement steps after the latent stage")
    sketch.add_argument("--target-faces", type=_positive, default=20_000)
    sketch.add_argument("--mesh-resolution", type=_positive, default=128, help="marching-cubes grid per axis")
    sketch.add_argument("--g3dr", action="store_true", help="G3DR depth regularisation near the sketch surface")
    return p


def _paint(args, parser) -> int:
    from .export.mesh_io import read_mesh
    from .guidance.base import GuidanceError
    from .paint.config import PaintConfig
    from .paint.mesh import MeshError
    from .paint.run import paint

    if args.steps < 1:
        parser.error("--steps must be >= 1")
    try:
        mesh = read_mesh(args.mesh)
    except (FileNotFoundError, ValueError) as exc:
        parser.error(str(exc))
    cfg = PaintConfig(steps=args.steps, seed=args.seed, texture_size=args.texture_size,
                      preview_every=args.preview_every)
    bar = _bar(args.steps)
    args.out.mkdir(parents=True, exist_ok=True)
    preview = args.out / "preview.png"

    def on_preview(png: bytes) -> None:
        from .export.atomic import write_bytes_atomic

        write_bytes_atomic(preview, png)

    try:
        summary = paint(mesh.positions, mesh.faces, mesh.uv_faces, args.prompt, args.out,
                        negative=args.negative_prompt, guidance="sd" if args.model else "analytic",
                        model_path=args.model, device=args.device, cfg=cfg, guidance_scale=args.guidance_scale,
                        up_axis=args.up_axis, use_existing_uvs=not args.new_uvs, on_step=bar, on_preview=on_preview)
    except (MeshError, GuidanceError) as exc:
        parser.error(str(exc))
    except KeyboardInterrupt:
        print("\ncancelled; nothing was written except previews", file=sys.stderr)
        return 1
    finally:
        bar.close()
    s = summary["seconds"]
    note = " (analytic TEST prior)" if summary["test_prior"] else ""
    print(f"painted {summary['faces']} faces in {summary['steps']} steps{note}: optimise {s['optimise']:.1f} s, "
          f"load {s['load_model']:.1f} s -> {args.out / 'texture.png'}, {args.out / 'mesh.glb'}"
          + (f", {args.out / 'uvs.npy'}" if summary["new_uvs"] else ""))
    return 0


def _sketch(args, parser) -> int:
    from .export.atomic import save_png
    from .export.field_mesh import ExtractionError, FieldMeshConfig
    from .export.mesh_io import read_mesh
    from .guidance.base import GuidanceError
    from .nerf.run import sketch_to_asset, surface_level
    from .nerf.sketch import SketchConfig, SketchError
    from .nerf.train import TrainConfig

    if args.steps < 1 or args.refine_steps < 0 or args.target_faces < 100 or args.mesh_resolution < 16:
        parser.error("need --steps >= 1, --refine-steps >= 0, --target-faces >= 100, --mesh-resolution >= 16")
    try:
        mesh = read_mesh(args.mesh)
    except (FileNotFoundError, ValueError) as exc:
        parser.error(str(exc))
    cfg = TrainConfig(steps=args.steps, refine_steps=args.refine_steps, seed=args.seed,
                      preview_every=args.preview_every, sketch=SketchConfig(g3dr=args.g3dr))
    export = FieldMeshConfig(resolution=args.mesh_resolution, target_faces=args.target_faces,
                             texture_size=args.texture_size, level=surface_level(cfg.sketch.alpha_scale))
    args.out.mkdir(parents=True, exist_ok=True)
    bar = _bar(args.steps + args.refine_steps)
    try:
        summary = sketch_to_asset(mesh.positions, mesh.faces, args.prompt, args.out, negative=args.negative_prompt,
                                  guidance="sd" if args.model else "analytic", model_path=args.model,
                                  device=args.device, cfg=cfg, export=export, guidance_scale=args.guidance_scale,
                                  up_axis=args.up_axis, on_step=bar,
                                  on_preview=lambda img: save_png(args.out / "preview.png", img))
    except (SketchError, GuidanceError) as exc:
        parser.error(str(exc))
    except ExtractionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ncancelled; nothing was written except previews", file=sys.stderr)
        return 1
    finally:
        bar.close()
    s = summary["seconds"]
    note = " (analytic TEST prior)" if summary["test_prior"] else ""
    print(f"sketch -> {summary['faces']} faces{note}, manifold {summary['manifold']}: train {s['train']:.1f} s, "
          f"export {s['export']:.1f} s -> {args.out / 'mesh.glb'}, {args.out / 'texture.png'}")
    return 0


class _bar:
    """tqdm progress bar fed by the optimiser's step callback (plain text without tqdm)."""

    def __init__(self, total: int):
        try:
            from tqdm import tqdm

            self._tqdm = tqdm(total=total, unit="step", file=sys.stderr)
        except ImportError:
            self._tqdm = None
        self.total = total

    def __call__(self, info) -> None:
        if self._tqdm is not None:
            self._tqdm.update(1)
        elif info.step % 100 == 0 or info.step == self.total:
            print(f"step {info.step}/{self.total}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._tqdm is not None:
            self._tqdm.close()


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "paint":
        return _paint(args, parser)
    if args.command == "sketch":
        return _sketch(args, parser)
    return 2


if __name__ == "__main__":
    sys.exit(main())
