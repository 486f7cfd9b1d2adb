"""A whole Sketch-to-asset job: sketch mesh in, ``mesh.glb``, ``texture.png`` and ``result.json`` out.
Shared by the engine server's "sketch" job and ``python -m procdream.gen3d sketch``."""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ... import __version__
from ..export.atomic import save_png, write_bytes_atomic
from ..export.field_mesh import FieldMeshConfig, extract
from ..export.gltf import write_glb
from ..export.normals import vertex_normals
from ..guidance.base import GuidanceConfig
from ..paint.mesh import z_up_to_y_up
from ..paint.run import get_guidance
from .sketch import SketchError, load_sketch
from .train import SketchTrainer, TrainConfig, TrainStep


def surface_level(alpha_scale: float) -> float:
    """The density where the Sketch-Shape loss's alpha = 1 - exp(-alpha_scale sigma) crosses 0.5:
    the surface the loss trains toward, so marching cubes extracts that level set."""
    return math.log(2.0) / alpha_scale


def sketch_to_asset(positions, faces, prompt: str, out_dir: str | Path, *, negative: str = "",
                    guidance: str = "sd", model_path: str | None = None, device: str = "auto",
                    cfg: TrainConfig | None = None, export: FieldMeshConfig | None = None,
                    guidance_scale: float = 100.0, up_axis: str = "z",
                    on_step: Callable[[TrainStep], None] | None = None,
                    on_preview: Callable[[np.ndarray], None] | None = None,
                    check_cancelled: Callable[[], None] | None = None) -> dict:
    """Fit a Latent-NeRF to ``prompt`` inside the sketch and export it as a textured mesh.

    ``positions`` (V, 3) in any units and ``faces`` (F, 3): the sketch as one mesh (overlapping
    primitives are fine), in the caller's frame (``up_axis`` "z" = Blender). The result
    ``mesh.glb`` (glTF, +Y up) sits where the sketch was, at its scale.
    Raises SketchError for sketches that cannot be used (no volume, too many faces, no extent).
    """
    cfg = cfg or TrainConfig()
    cfg.validate()
    export = export or FieldMeshConfig(level=surface_level(cfg.sketch.alpha_scale), bound=cfg.sketch.bound)
    if abs(export.bound - cfg.sketch.bound) > 1e-9:
        raise ValueError(f"export bound {export.bound} differs from the sketch field's {cfg.sketch.bound}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if up_axis not in ("y", "z"):
        raise SketchError(f"up_axis must be 'y' or 'z', got {up_axis!r}")
    t0 = time.perf_counter()
    # Adam's second moments of tiny hash-table gradients go subnormal; subnormal arithmetic is
    # ~100x slower on CPUs. The engine process owns this setting.
    torch.set_flush_denormal(True)
    pos = np.asarray(positions, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[-1] != 3:
        raise SketchError(f"positions must be (V, 3), got {pos.shape}")
    pos = z_up_to_y_up(pos) if up_axis == "z" else pos
    field, frame = load_sketch(pos, faces, cfg.sketch)
    t_sketch = time.perf_counter()
    teacher = get_guidance(guidance, model_path, device, GuidanceConfig(guidance_scale=guidance_scale))
    t_load = time.perf_counter()
    trainer = SketchTrainer(field, teacher, prompt, negative, cfg)
    trainer.run(on_step=on_step, on_preview=on_preview, check_cancelled=check_cancelled)
    t_train = time.perf_counter()
    mesh = extract(trainer.density_fn, trainer.color_fn, export, to_world=frame.to_world)
    save_png(out / "texture.png", mesh.texture)
    write_glb(out / "mesh.glb", mesh.positions, mesh.faces, mesh.uvs, mesh.texture,
              normals=vertex_normals(mesh.positions, mesh.faces), name="procdream_sketch")
    summary = {
        "kind": "sketch", "procdream_version": __version__, "prompt": prompt, "negative_prompt": negative,
        "guidance": guidance, "test_prior": teacher.is_test_prior, "model": model_path,
        "device": str(teacher.device), "guidance_scale": guidance_scale, "seed": cfg.seed,
        "steps": trainer.step_count, "refine_steps": cfg.refine_steps, "up_axis": up_axis,
        "faces": int(len(mesh.faces)), "faces_before_simplify": mesh.faces_before_simplify,
        "manifold": mesh.manifold, "texture_size": export.texture_size,
        "sketch": {"center": frame.center.tolist(), "scale": float(frame.scale),
                   "inside_fraction": float(field.inside_fraction)},
        "files": ["mesh.glb", "texture.png", "result.json"],
        "seconds": {"sketch": t_sketch - t0, "load_model": t_load - t_sketch, "train": t_train - t_load,
                    "export": time.perf_counter() - t_train},
        "config": {"train": {k: v for k, v in dataclasses.asdict(cfg).items()},
                   "export": dataclasses.asdict(export)},
    }
    write_bytes_atomic(out / "result.json", (json.dumps(summary, indent=2, default=str) + "\n").encode())
    return summary
