"""A whole Latent-Paint job: mesh arrays in, ``texture.png``, ``uvs.npy`` (new UVs only), ``mesh.glb``
and ``result.json`` out. Shared by the engine server's "paint" job and ``python -m procdream.gen3d paint``."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ... import __version__
from ..export.atomic import save_npy, save_png, write_bytes_atomic
from ..export.gltf import write_glb
from ..export.normals import vertex_normals
from ..export.unwrap import split_by_corner_uvs
from ..guidance.base import Guidance, GuidanceConfig
from .config import PaintConfig
from .latent_paint import LatentPaint, StepInfo
from .mesh import prepare_mesh

_CACHE: dict[tuple, Guidance] = {}
_CACHE_LOCK = threading.Lock()


def get_guidance(kind: str, model_path: str | None, device: str, config: GuidanceConfig) -> Guidance:
    """A guidance backend, loaded once per (kind, model, device) and reused by later jobs: loading
    Stable Diffusion takes seconds to minutes, and the engine runs one job at a time."""
    from ..guidance.stable_diffusion import load_guidance

    key = (kind, str(Path(model_path).resolve()) if model_path else None, device)
    with _CACHE_LOCK:
        guidance = _CACHE.get(key)
        if guidance is None:
            _CACHE.clear()  # one model in memory at a time
            guidance = _CACHE[key] = load_guidance(kind, model_path, device, config)
        guidance.config = config
        return guidance


def paint(positions, faces, uv_faces, prompt: str, out_dir: str | Path, *, negative: str = "",
          guidance: str = "sd", model_path: str | None = None, device: str = "auto",
          cfg: PaintConfig | None = None, guidance_scale: float = 100.0, up_axis: str = "z",
          use_existing_uvs: bool = True, on_step: Callable[[StepInfo], None] | None = None,
          on_preview: Callable[[bytes], None] | None = None,
          check_cancelled: Callable[[], None] | None = None) -> dict:
    """Texture a mesh from ``prompt`` and write the results into ``out_dir``; return the summary.

    ``positions`` (V, 3) in the caller's units and frame (``up_axis`` "z" = Blender), ``faces``
    (F, 3), ``uv_faces`` (F, 3, 2) or None. ``texture.png`` is sRGB, rows top-down, for the
    caller's UVs (or the new ones in ``uvs.npy``, (F, 3, 2) float32, v up, same face order).
    ``mesh.glb`` holds the textured mesh in glTF's +Y-up frame at the caller's scale.
    """
    cfg = cfg or PaintConfig()
    cfg.validate()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    mesh = prepare_mesh(positions, faces, uv_faces, up_axis=up_axis, use_existing_uvs=use_existing_uvs,
                        mesh_radius=cfg.mesh_radius, unwrap_resolution=cfg.texture_size,
                        unwrap_padding_px=cfg.unwrap_padding_px)
    t_mesh = time.perf_counter()
    gcfg = GuidanceConfig(guidance_scale=guidance_scale)
    teacher = get_guidance(guidance, model_path, device, gcfg)
    t_load = time.perf_counter()
    job = LatentPaint(mesh, teacher, prompt, negative, cfg)
    job.run(on_step=on_step, on_preview=on_preview, check_cancelled=check_cancelled)
    t_opt = time.perf_counter()

    image, covered = job.texture_rgb()
    save_png(out / "texture.png", image)
    if mesh.new_uvs:
        save_npy(out / "uvs.npy", mesh.uv_faces.astype(np.float32))
    pos, tri, uvs = split_by_corner_uvs(mesh.positions, mesh.faces, mesh.uv_faces)
    write_glb(out / "mesh.glb", pos, tri, uvs, image, normals=vertex_normals(pos, tri), name="procdream_paint")
    seen = job.seen_mask(cfg.texture_size)
    summary = {
        "kind": "paint", "procdream_version": __version__, "prompt": prompt, "negative_prompt": negative,
        "guidance": guidance, "test_prior": teacher.is_test_prior, "model": model_path,
        "device": str(teacher.device), "dtype": str(teacher.dtype).replace("torch.", ""),
        "guidance_scale": guidance_scale, "seed": cfg.seed, "steps": job.step_count, "up_axis": up_axis,
        "new_uvs": mesh.new_uvs, "faces": int(mesh.faces.shape[0]),
        "texture_size": cfg.texture_size,
        "seen_fraction_of_islands": float((seen & covered).sum() / max(covered.sum(), 1)),
        "files": ["texture.png", "mesh.glb", "result.json"] + (["uvs.npy"] if mesh.new_uvs else []),
        "seconds": {"mesh": t_mesh - t0, "load_model": t_load - t_mesh, "optimise": t_opt - t_load,
                    "export": time.perf_counter() - t_opt},
        "config": dataclasses.asdict(cfg),
    }
    write_bytes_atomic(out / "result.json", (json.dumps(summary, indent=2) + "\n").encode())
    return summary
