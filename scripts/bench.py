"""ProcDream benchmarks. Prints one JSON object; figures that compare are ratios from this run.

    python scripts/bench.py [--only NAME ...] [--repeat N]

Each benchmark is a function registered with ``@bench``; later issues add theirs here. These
machines are noisy, so compare ratios taken in one run, never absolute seconds across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

BENCHES: dict[str, Callable[[int], dict]] = {}


def bench(name: str):
    def register(fn):
        BENCHES[name] = fn
        return fn

    return register


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``repeat`` calls, in seconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


@bench("blender")
def blender_basics(repeat: int) -> dict:
    """Fixed costs every bpy test and dataset scene pays: import, factory reset, a tiny render."""
    t0 = time.perf_counter()
    import bpy

    import_s = time.perf_counter() - t0
    from procdream.procgen import placeholder_scene

    reset_s = timed(lambda: bpy.ops.wm.read_factory_settings(use_empty=True), repeat)

    def render(samples):
        placeholder_scene.build(64, 48, samples)
        return lambda: bpy.ops.render.render(write_still=False)

    spp1 = timed(render(1), repeat)
    spp16 = timed(render(16), repeat)
    return {
        "import_bpy_s": round(import_s, 3),
        "factory_reset_s": round(reset_s, 4),
        "cycles_64x48_1spp_s": round(spp1, 3),
        "cycles_64x48_16spp_s": round(spp16, 3),
        "ratio_16spp_over_1spp": round(spp16 / spp1, 2),
    }


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


@bench("render_gt")
def render_gt_overhead(repeat: int) -> dict:
    """Ground-truth cost on a procgen scene (meadow, seed 0: terrain, rocks, trees, ~9k grass
    clumps and ~8k leaf cards), 320x240, 16 spp, its camera trajectory over ``5 * repeat`` frames.

    RGB+GT is render_sequence writing every dataset file; RGB-only renders the same scene,
    frames and samples to PNGs. Every run builds the scene afresh and changes frame every
    render, as a dataset does, so each includes its first-frame sync. This machine's speed
    drifts by 10% over minutes, so the persistent-data baseline and RGB+GT alternate for
    ``ROUNDS`` rounds and the ratio is of their summed times. Memory: RSS after the 2nd and the
    last GT frame of the last round, in one process.
    """
    import tempfile

    import bpy

    from procdream.procgen.scenes import compose
    from procdream.render_gt import RenderConfig, render_sequence

    rounds = 2
    cfg = RenderConfig(320, 240, 16)
    frames = list(range(1, 5 * repeat + 1))

    def build():
        bpy.ops.wm.read_factory_settings(use_empty=True)
        compose("meadow", 0, n_frames=len(frames))
        scene = bpy.context.scene
        scene.render.engine = "CYCLES"
        scene.cycles.samples, scene.cycles.use_denoising = cfg.samples, False
        scene.render.resolution_x, scene.render.resolution_y = cfg.width, cfg.height
        return scene

    rss = {}

    def progress(done, total):
        if done in (2, total):
            rss[done] = _rss_mib()

    def rgb_only(tmp, persistent: bool) -> float:
        scene = build()
        scene.render.use_persistent_data = persistent
        t0 = time.perf_counter()
        for f in frames:
            scene.frame_set(f)
            scene.render.filepath = str(Path(tmp) / f"rgb_{f:04d}.png")
            bpy.ops.render.render(write_still=True)
        return time.perf_counter() - t0

    def rgb_gt(tmp, i: int) -> float:
        scene = build()
        t0 = time.perf_counter()
        render_sequence(scene, frames, Path(tmp) / f"gt_{i}", cfg, progress=progress)
        return time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        rgb_s = rgb_only(tmp, persistent=False)
        persistent, gt = [], []
        for i in range(rounds):
            persistent.append(rgb_only(tmp, persistent=True))
            gt.append(rgb_gt(tmp, i))
    n = len(frames)
    return {
        "scene": "meadow seed 0",
        "rounds": rounds,
        "rgb_only_frame_s": round(rgb_s / n, 3),
        "rgb_plus_gt_frame_s": round(sum(gt) / (rounds * n), 3),
        "ratio_gt_over_rgb": round(sum(gt) / rounds / rgb_s, 3),
        # The GT pipeline turns on persistent data; an RGB-only run could too.
        "rgb_only_persistent_data_frame_s": round(sum(persistent) / (rounds * n), 3),
        "ratio_gt_over_rgb_persistent_data": round(sum(gt) / sum(persistent), 3),
        "ratio_gt_over_rgb_persistent_data_per_round": [round(g / p, 3) for g, p in zip(gt, persistent, strict=True)],
        "frames": n,
        "rss_after_2_frames_mib": round(rss[2], 1),
        "rss_after_last_frame_mib": round(rss[n], 1),
    }


@bench("engine_load")
def engine_load(repeat: int) -> dict:
    """16 loopback clients submit (with a mesh), poll and cancel jobs for ``8 * repeat`` s against a
    real engine process serving the tests' job kinds, while one more times GET /v1/info: p50/p99
    latency, jobs, 429s, and the engine's RSS before and after (after a 2-s warm-up run)."""
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from test_engine_contract import run_load, start_engine

    with tempfile.TemporaryDirectory() as tmp:
        engine = start_engine(Path(tmp), "--keep", "100000", "--max-queued", "32")
        try:
            run_load(engine, clients=4, seconds=2.0)
            figures = run_load(engine, clients=16, seconds=8.0 * repeat)
        finally:
            engine.stop()
    figures["problems"] = figures["problems"][:5]
    return figures


@bench("transpiler")
def transpiler_speed(repeat: int) -> dict:
    """Transpile and rebuild a 500-node random geometry-nodes graph (target: < 2 s together)."""
    import bpy

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from test_transpiler import random_graph

    from procdream.procgen.transpiler import transpile

    bpy.ops.wm.read_factory_settings(use_empty=True)
    tree = random_graph(bpy, 500, seed=3)
    source = {}

    def run_transpile():
        source["text"] = transpile(tree)

    def run_rebuild():
        ns = {"__name__": "bench"}
        exec(compile(source["text"], "<transpiled>", "exec"), ns)
        ns["build"](bpy.data.node_groups.new("rebuilt", "GeometryNodeTree"))

    transpile_s = timed(run_transpile, repeat)
    rebuild_s = timed(run_rebuild, repeat)
    return {"nodes": len(tree.nodes), "links": len(tree.links), "transpile_s": round(transpile_s, 3),
            "rebuild_s": round(rebuild_s, 3), "total_s": round(transpile_s + rebuild_s, 3),
            "source_lines": source["text"].count("\n")}


@bench("procgen_scenes")
def procgen_scenes(repeat: int) -> dict:
    """Per scene type at default settings: build time, object/instance counts, peak memory and a
    320x240 16-spp Cycles render; one fresh process per type so peak memory is that scene's."""
    import subprocess

    from procdream.procgen.scenes import SCENE_TYPES

    out = {}
    script = Path(__file__).resolve().parent / "preview_scenes.py"
    for scene_type in SCENE_TYPES:
        proc = subprocess.run([sys.executable, str(script), "--types", scene_type, "--json",
                               "--out", "out/bench_previews"], capture_output=True, text=True)
        if proc.returncode != 0:
            out[scene_type] = {"error": proc.stderr.strip().splitlines()[-1:]}
            continue
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        out[scene_type] = {k: row[k] for k in ("build_s", "render_s", "objects", "instances", "peak_rss_mib")}
    return out


def _gen_dataset(out: Path, *args: str) -> tuple[float, dict]:
    """Run scripts/gen_dataset.py in a fresh process; (wall seconds, manifest)."""
    import shutil
    import subprocess

    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve().parent / "gen_dataset.py"), "--out",
                           str(out), "--quiet", *args], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return wall, json.loads((out / "dataset.json").read_text())


@bench("gen_dataset")
def gen_dataset_speed(repeat: int) -> dict:
    """The demo preset (meadow, 4 frames, 320x240, 16 spp) over 2 scenes with 1 and 2 worker
    processes: frames per minute; the job machinery's per-frame cost while scenes run (IPC,
    manifest, hand-over: scene-phase wall time minus the worker's build+render time) as a share of
    render time; the once-per-run start-up (interpreter, bpy import in parent and worker) and
    contact sheet. Then 6 light scenes in one worker: its memory after each."""
    preset = ["--scenes", "2", "--frames", "4", "--resolution", "320", "240", "--samples", "16"]
    out = Path("out/bench_dataset")
    result = {}
    for workers in (1, 2):
        wall, m = _gen_dataset(out / f"w{workers}", *preset, "--workers", str(workers))
        frames = sum(s["frames"] for s in m["scenes"])
        inside = sum(s["seconds"]["total"] for s in m["scenes"])
        render = sum(s["seconds"]["render"] for s in m["scenes"])
        build = sum(s["seconds"]["build"] for s in m["scenes"])
        row = {"wall_s": round(wall, 2), "frames": frames, "frames_per_min": round(60 * frames / wall, 2),
               "build_s_per_scene": round(build / len(m["scenes"]), 2), "render_s_per_frame": round(render / frames, 3)}
        run = m["last_run"]
        # Per-frame machinery: while scenes run, time not spent inside render_scene (IPC, manifest
        # writes, hand-over). Start-up and the contact sheet are once per run, reported apart.
        row["startup_s"] = round(run["setup"] + (wall - run["seconds"]), 2)
        row["contact_sheet_s"] = round(run["contact_sheet"], 3)
        if workers == 1:
            machinery = run["scenes"] - inside
            row["machinery_s_per_frame"] = round(machinery / frames, 4)
            row["machinery_share_of_render"] = round(machinery / render, 4)
            row["whole_run_overhead_share"] = round((wall - inside) / render, 4)
        result[f"workers_{workers}"] = row
    result["speedup_2_over_1_workers"] = round(result["workers_2"]["frames_per_min"]
                                               / result["workers_1"]["frames_per_min"], 3)
    light = ["--scenes", "6", "--frames", "1", "--resolution", "64", "48", "--samples", "1",
             "--gin-param", "terrain.resolution = 48", "--workers", "1"]
    _, m = _gen_dataset(out / "memory", *light)
    result["worker_rss_mb_after_each_scene"] = [round(s["rss_mb"] or 0, 1) for s in m["scenes"]]
    return result


def _time_steps(guidance, step, warmup: int, steps: int) -> tuple[float, float]:
    """(wall seconds, seconds inside the UNet) of ``steps`` calls of ``step`` after ``warmup`` calls.
    The UNet's forward is wrapped with a timer (synchronised on CUDA) and restored afterwards."""
    import torch

    sync = torch.cuda.synchronize if guidance.device.type == "cuda" else (lambda: None)
    unet_s = [0.0]
    forward = guidance.unet.forward

    def timed_forward(*a, **k):
        sync()
        t0 = time.perf_counter()
        out = forward(*a, **k)
        sync()
        unet_s[0] += time.perf_counter() - t0
        return out

    guidance.unet.forward = timed_forward
    try:
        for _ in range(warmup):
            step()
        unet_s[0] = 0.0
        sync()
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
        return time.perf_counter() - t0, unet_s[0]
    finally:
        guidance.unet.forward = forward


def _paint_iteration(model: Path, steps: int, faces_subdiv: int = 4) -> dict:
    """Seconds per Latent-Paint iteration with the SD backend at ``model``, and the UNet's share."""
    import numpy as np
    import trimesh

    from procdream.gen3d.guidance.base import GuidanceConfig
    from procdream.gen3d.paint.config import PaintConfig
    from procdream.gen3d.paint.latent_paint import LatentPaint
    from procdream.gen3d.paint.mesh import prepare_mesh
    from procdream.gen3d.paint.run import get_guidance

    g = get_guidance("sd", str(model), "auto", GuidanceConfig())
    sphere = trimesh.creation.icosphere(subdivisions=faces_subdiv)
    mesh = prepare_mesh(sphere.vertices, sphere.faces, None, up_axis="y", unwrap_resolution=512)
    job = LatentPaint(mesh, g, "a wooden chair", cfg=PaintConfig(steps=10**9))
    total, unet = _time_steps(g, job.step, warmup=3, steps=steps)  # warm-up: numba cache, cuDNN, allocator
    return {"device": str(g.device), "dtype": str(g.dtype).replace("torch.", ""), "faces": int(len(sphere.faces)),
            "s_per_iter": round(total / steps, 5), "unet_s_per_iter": round(unet / steps, 5),
            "share_outside_unet": round(1 - unet / total, 4),
            "projected_5000_iters_min": round(total / steps * 5000 / 60, 2), "iters_timed": steps,
            "texels_seen": float(np.mean(job.seen.cpu().numpy()))}


@bench("paint")
def paint_speed(repeat: int) -> dict:
    """Latent-Paint: rasterizer ms for 100k faces at 64x64 (numba, CPU); one iteration with the tiny
    random SD (CPU here) and the share outside the UNet; on CUDA also SD-1.5-shaped random weights in
    fp16 (true timings; target 5000 iterations < 3 min on an H100)."""
    import torch

    from procdream.gen3d.guidance.random_sd import build_random_sd
    from procdream.gen3d.raster.bench import bench_raster

    models = Path("out/bench_models")
    result = {"raster": bench_raster(n_faces=100_000, size=64, repeat=max(5, repeat))}
    tiny = models / "tiny_sd"
    if not (tiny / "model_index.json").is_file():
        build_random_sd(tiny, "tiny", seed=0)
    result["tiny_sd"] = _paint_iteration(tiny, steps=20 * repeat)
    if torch.cuda.is_available():
        sd15 = models / "sd15_random"
        if not (sd15 / "model_index.json").is_file():
            build_random_sd(sd15, "sd15", seed=0, dtype="float16")
        result["sd15_fp16"] = _paint_iteration(sd15, steps=50 * repeat)
    else:
        result["sd15_fp16"] = "skipped: no CUDA device"
    return result


def _sketch_iteration(model: Path, steps: int, small: bool) -> dict:
    """Seconds per Sketch-to-asset iteration with the SD backend at ``model`` and the UNet's share."""
    import trimesh

    from procdream.gen3d.guidance.base import GuidanceConfig
    from procdream.gen3d.nerf.hashgrid import HashGridConfig
    from procdream.gen3d.nerf.model import LatentNeRFConfig
    from procdream.gen3d.nerf.occupancy import OccupancyConfig
    from procdream.gen3d.nerf.render import RenderConfig
    from procdream.gen3d.nerf.sketch import SketchConfig, load_sketch
    from procdream.gen3d.nerf.train import SketchTrainer, TrainConfig
    from procdream.gen3d.paint.run import get_guidance

    g = get_guidance("sd", str(model), "auto", GuidanceConfig())
    box = trimesh.creation.box(extents=(1.0, 0.6, 0.8))
    if small:  # the test sizes
        cfg = TrainConfig(steps=10**9, render_size=32, model=LatentNeRFConfig(grid=HashGridConfig(
            n_levels=8, log2_table_size=15, finest_resolution=256)), render=RenderConfig(n_samples=32),
            occupancy=OccupancyConfig(resolution=32), sketch=SketchConfig(grid_resolution=64))
    else:  # REFERENCE sizes: 64x64 latents, 64 samples per ray, 16-level 2^19 grid
        cfg = TrainConfig(steps=10**9)
    field, _ = load_sketch(box.vertices, box.faces, cfg.sketch)
    trainer = SketchTrainer(field, g, "a wooden crate", cfg=cfg)
    infos = []
    # Warm-up past the occupancy grid's first updates.
    total, unet = _time_steps(g, lambda: infos.append(trainer.step()), warmup=40, steps=steps)
    info = infos[-1]
    return {"device": str(g.device), "render": cfg.render_size, "samples_per_ray": cfg.render.n_samples,
            "s_per_iter": round(total / steps, 4), "unet_s_per_iter": round(unet / steps, 4),
            "share_outside_unet": round(1 - unet / total, 4),
            "evaluated_sample_fraction": round(info.evaluated_fraction, 3),
            "projected_5000_iters_min": round(total / steps * 5000 / 60, 2), "iters_timed": steps}


@bench("sketch")
def sketch_speed(repeat: int) -> dict:
    """Sketch to asset: iteration time and the share outside the UNet, on the CPU with the tiny random
    SD at test sizes and at REFERENCE sizes; on CUDA with SD-1.5-shaped random weights in fp16 (target:
    5000 iterations < 6 min on an H100; threestudio's Latent-NeRF takes ~65 min on an A100)."""
    import torch

    from procdream.gen3d.guidance.random_sd import build_random_sd

    models = Path("out/bench_models")
    tiny = models / "tiny_sd"
    if not (tiny / "model_index.json").is_file():
        build_random_sd(tiny, "tiny", seed=0)
    result = {"tiny_sd_test_sizes": _sketch_iteration(tiny, 5 * repeat, small=True),
              "tiny_sd_reference_sizes": _sketch_iteration(tiny, 2 * repeat, small=False)}
    if torch.cuda.is_available():
        sd15 = models / "sd15_random"
        if not (sd15 / "model_index.json").is_file():
            build_random_sd(sd15, "sd15", seed=0, dtype="float16")
        result["sd15_fp16"] = _sketch_iteration(sd15, 50 * repeat, small=False)
    else:
        result["sd15_fp16"] = "skipped: no CUDA device"
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run ProcDream benchmarks; print one JSON object.")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHES), help="run only these")
    parser.add_argument("--repeat", type=int, default=3, help="timing repeats per figure (median)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    results = {}
    # Blender and Cycles log to fd 1 from C; send that to stderr so stdout is only the JSON.
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        for name in args.only or sorted(BENCHES):
            results[name] = BENCHES[name](args.repeat)
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
    print(json.dumps({
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "repeat": args.repeat,
        "results": results,
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
