"""Build and render one scene of a dataset into ``OUT/scene_NNNNNN``, atomically. Needs bpy.

This is the unit of work every backend runs: the in-process loop, the local worker processes and
the Ray tasks all call ``render_scene``, so they produce the same files.
"""

from __future__ import annotations

import gc
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from .. import writer
from .config import DatasetConfig

#: Fault injection for testing the runner itself: "raise:3,crash:5" makes scene 3 raise and scene 5
#: kill its worker process with SIGKILL. Read once per scene; never set in production.
FAULT_ENV = "PROCDREAM_DATASET_FAULTS"


class InjectedFault(RuntimeError):
    """Raised for a scene listed in PROCDREAM_DATASET_FAULTS (runner tests)."""


@dataclass
class SceneTask:
    """What a worker needs for one scene; plain data, so it crosses process and Ray boundaries."""

    config: DatasetConfig
    index: int
    seed: int
    name: str
    #: Cycles threads (0 = all cores).
    threads: int = 0


def _injected_fault(index: int) -> str | None:
    for item in filter(None, os.environ.get(FAULT_ENV, "").split(",")):
        kind, _, idx = item.partition(":")
        if idx.strip() == str(index):
            return kind.strip()
    return None


def rss_mb() -> float | None:
    """Current resident memory of this process in MB (Linux /proc; None elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return None


def reset_blender() -> None:
    """Drop every datablock of the previous scene so memory stays flat over many scenes."""
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.data.orphans_purge(do_recursive=True)
    gc.collect()


def render_scene(task: SceneTask, out_root: str | Path, progress=None) -> dict:
    """Build scene ``task.index`` from its seed and render every frame into ``out_root/task.name``.

    The frames are assembled in a hidden staging folder that is renamed into place only when the
    whole scene (every frame and scene.json) is written, so a kill at any point leaves either the
    previous state or the finished scene. ``progress(done, total)`` is called after each frame.
    Returns timings (seconds) and memory; raises whatever building or rendering raises.
    """
    import bpy

    from ...procgen import scenes
    from ..render import render_sequence

    cfg = task.config
    fault = _injected_fault(task.index)
    if fault == "raise":
        raise InjectedFault(f"fault injected for scene {task.index} by {FAULT_ENV}")
    t0 = time.perf_counter()
    reset_blender()
    plan = scenes.plan(cfg.scene_type, task.seed, cfg.gin_params, cfg.frames, cfg.gin_files)
    scenes.build(plan)
    t1 = time.perf_counter()
    if fault == "crash":
        os.kill(os.getpid(), signal.SIGKILL)
    final = Path(out_root) / task.name
    staged = writer.staging_dir(final)
    info = {"name": task.name, "index": task.index, "seed": task.seed, "scene_type": cfg.scene_type,
            "params": plan.to_json()}
    render_sequence(bpy.context.scene, list(range(1, cfg.frames + 1)), staged, cfg.render_config(task.threads),
                    scene_info=info, progress=progress)
    t2 = time.perf_counter()
    writer.commit_dir(staged, final)
    reset_blender()
    return {"frames": cfg.frames, "rss_mb": rss_mb(),
            "seconds": {"build": t1 - t0, "render": t2 - t1, "total": time.perf_counter() - t0}}
