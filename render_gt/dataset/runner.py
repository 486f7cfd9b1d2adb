"""Run a dataset: decide which scenes to render, hand them to a backend, keep the manifest true.

Backends: in this process (``workers=0``, for debugging), local worker processes (``workers>=1``),
or Ray tasks (``ray=ADDRESS``). All of them run ``scene_job.render_scene``, so the files are the
same whichever renders them. The manifest is written before any work (every scene pending) and
after each scene, once that scene's folder is in place.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from .. import writer
from . import contact_sheet
from .config import DatasetConfig, DatasetConfigError, identity_diff
from .manifest import Manifest, RunLock
from .progress import Progress
from .scene_job import SceneTask

#: Files and folders a run creates in OUT (and the only ones --overwrite deletes).
OWNED = ("dataset.json", "preview.png", "logs", ".lock")


@dataclass
class RunOptions:
    """How to run (never what to render: that is DatasetConfig).

    workers: local worker processes (0 = render in this process, no crash isolation).
    threads: Cycles threads per scene (None = the machine's cores split between workers).
    ray: Ray cluster address or "auto"; scenes become Ray tasks. ray_transfer: "shared" (tasks write
    to OUT, which every node must see) or "copy" (tasks render to a node-local folder and send the
    scene back to the driver, which writes it to OUT). ray_cpus_per_task: CPUs each task claims.
    """

    workers: int = 1
    threads: int | None = None
    ray: str | None = None
    ray_transfer: str = "shared"
    ray_cpus_per_task: int = 1
    retry_failed: bool = False
    overwrite: bool = False
    progress: bool = True
    contact_sheet: bool = True

    def validate(self) -> None:
        if self.retry_failed and self.overwrite:
            raise DatasetConfigError("--retry-failed resumes a dataset and --overwrite deletes it; use one")
        if self.workers < 0:
            raise DatasetConfigError(f"--workers must be >= 0, got {self.workers}")
        if self.threads is not None and self.threads < 0:
            raise DatasetConfigError(f"--threads must be >= 0, got {self.threads}")
        if self.ray_transfer not in ("shared", "copy"):
            raise DatasetConfigError(f"--ray-transfer must be 'shared' or 'copy', got {self.ray_transfer!r}")
        if self.ray_cpus_per_task < 1:
            raise DatasetConfigError(f"--ray-cpus-per-task must be >= 1, got {self.ray_cpus_per_task}")


@dataclass
class RunSummary:
    out: Path
    rendered: int = 0
    skipped: int = 0
    failed: list = field(default_factory=list)  # (name, seed, error)
    earlier_failed: int = 0
    pending: int = 0
    frames: int = 0
    seconds: float = 0.0
    worker_seconds: float = 0.0
    contact_sheet: Path | None = None
    #: Where the run's time went (seconds): "setup" (checks, manifest, until the first scene starts:
    #: worker start-up included), "scenes" (first start to last result), "contact_sheet".
    timing: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed

    def line(self) -> str:
        fpm = 60.0 * self.frames / self.seconds if self.seconds > 0 else 0.0
        parts = [f"{self.rendered} scenes rendered ({self.frames} frames, {fpm:.1f} frames/min)",
                 f"{self.skipped} already done", f"{len(self.failed)} failed"]
        if self.earlier_failed:
            parts.append(f"{self.earlier_failed} failed earlier (rerun with --retry-failed)")
        if self.pending:
            parts.append(f"{self.pending} pending")
        sheet = f"; contact sheet {self.contact_sheet}" if self.contact_sheet else ""
        return f"gen_dataset: {', '.join(parts)} in {self.seconds:.1f} s -> {self.out}{sheet}"


def _blender_version() -> str | None:
    bpy = sys.modules.get("bpy")
    return getattr(getattr(bpy, "app", None), "version_string", None)


def check_scene_config(cfg: DatasetConfig) -> None:
    """Sample scene 0's plan so bad gin files/bindings fail before any worker starts."""
    from ...procgen import scenes
    from .seeds import scene_seed

    try:
        scenes.plan(cfg.scene_type, scene_seed(cfg.seed, 0), cfg.gin_params, cfg.frames, cfg.gin_files)
    except (scenes.SceneConfigError, ValueError) as exc:
        raise DatasetConfigError(str(exc)) from None


def _foreign_entries(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name not in OWNED)


def open_dataset(cfg: DatasetConfig, opts: RunOptions) -> Manifest:
    """The manifest to continue (same settings) or a new one; refuses to mix different settings."""
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise DatasetConfigError(f"--out {out} exists and is not a folder")
    manifest_path = out / "dataset.json"
    if manifest_path.is_file():
        try:
            old = Manifest.load(out)
        except ValueError as exc:
            raise DatasetConfigError(f"{exc}; choose another --out") from None
        diff = identity_diff(old.config.get("identity", {}), cfg.identity())
        if diff and not opts.overwrite:
            raise DatasetConfigError(
                f"--out {out} holds a dataset made with different settings:\n  " + "\n  ".join(diff)
                + "\nRerun with the dataset's settings to resume it, choose another --out, or add --overwrite "
                "to delete that dataset and start a new one.")
        if not opts.overwrite:
            old.config.update({k: v for k, v in cfg.to_json().items() if k != "scenes"})
            old.config["scenes"] = max(old.config.get("scenes", 0), cfg.scenes)
            old.extend(cfg.seed, cfg.scenes)
            old.blender_version = _blender_version() or old.blender_version
            return old
        _delete_dataset(out, old)
    elif out.is_dir() and _foreign_entries(out):
        if opts.retry_failed:
            raise DatasetConfigError(f"--retry-failed: {out} has no dataset.json, so there is nothing to retry")
        raise DatasetConfigError(f"--out {out} is not empty and is not a ProcDream dataset (found "
                                 f"{', '.join(_foreign_entries(out)[:5])}); choose an empty or new folder")
    elif opts.retry_failed:
        raise DatasetConfigError(f"--retry-failed: {out} has no dataset.json, so there is nothing to retry")
    return Manifest.new(cfg.to_json(), cfg.seed, cfg.scenes, _blender_version())


def _delete_dataset(out: Path, old: Manifest) -> None:
    # Only what a run creates: scene folders listed in the manifest, staging leftovers, our files.
    names = {e.name for e in old.scenes}
    for p in out.iterdir():
        if p.name in names or p.name in OWNED[:3] or (p.name.startswith(".scene_") and ".tmp-" in p.name):
            shutil.rmtree(p) if p.is_dir() else p.unlink()


def default_threads(workers: int) -> int:
    """Cycles threads per worker: the cores split evenly, so N workers do not oversubscribe them."""
    if workers <= 1:
        return 0
    return max(1, (os.cpu_count() or 1) // workers)


def run(cfg: DatasetConfig, opts: RunOptions, env: dict | None = None) -> RunSummary:
    """Render the dataset described by ``cfg`` into ``cfg.out``. Raises DatasetConfigError before any
    work for bad settings; scene failures are recorded in the manifest and the summary, not raised."""
    cfg.validate()
    opts.validate()
    check_scene_config(cfg)
    out = Path(cfg.out)
    t0 = time.perf_counter()
    if out.exists() and not out.is_dir():
        raise DatasetConfigError(f"--out {out} exists and is not a folder")
    existed = out.exists()
    if existed and not (out / "dataset.json").exists() and _foreign_entries(out):
        open_dataset(cfg, opts)  # raises the "not a dataset" error before the lock file touches the folder
    out.mkdir(parents=True, exist_ok=True)
    summary = RunSummary(out)
    # The lock comes first: reading, deleting (--overwrite) or resuming a dataset another run is
    # writing would lose that run's work.
    with RunLock(out):
        try:
            manifest = open_dataset(cfg, opts)
        except DatasetConfigError:
            if not existed:
                shutil.rmtree(out, ignore_errors=True)  # leave no empty folder behind a refused run
            raise
        writer.clean_stale(out)
        wanted = manifest.scenes[:cfg.scenes]
        if opts.retry_failed:
            todo = [e for e in wanted if e.status == "failed"]
        else:
            todo = [e for e in wanted if e.status == "pending"]
            summary.earlier_failed = sum(e.status == "failed" for e in wanted)
        summary.skipped = sum(e.status == "done" for e in wanted)
        for e in todo:
            e.status, e.error, e.traceback = "pending", None, None
        manifest.save(out)

        threads = opts.threads if opts.threads is not None else default_threads(opts.workers)
        if opts.ray:
            threads = opts.threads if opts.threads is not None else opts.ray_cpus_per_task
        tasks = [SceneTask(cfg, e.index, e.seed, e.name, threads) for e in todo]
        progress = Progress(len(todo), cfg.frames, enabled=opts.progress)
        marks: dict[str, float] = {}
        started: set[int] = set()

        def on_event(ev: dict) -> None:
            e = manifest.scenes[ev["scene"]]
            kind = ev["event"]
            if kind in ("done", "failed") and e.index not in started:
                e.attempts += 1  # backends that cannot tell when a scene starts (Ray) report only results
            if kind == "start":
                started.add(e.index)
                marks.setdefault("first_start", time.perf_counter())
                e.attempts += 1
                manifest.save(out)  # so a killed run's attempts still count
                progress.start(e.name, e.index)
            elif kind == "progress":
                progress.frame(e.name, e.index, ev["done"], ev["total"])
            elif kind == "done":
                res = ev["result"]
                e.status, e.error, e.traceback = "done", None, None
                e.frames, e.seconds, e.rss_mb = res["frames"], res["seconds"], res.get("rss_mb")
                manifest.save(out)
                summary.rendered += 1
                summary.frames += res["frames"]
                summary.worker_seconds += res["seconds"]["total"]
                progress.finish(e.name, e.index, True, f"({res['seconds']['total']:.1f} s)")
            elif kind == "failed":
                e.status, e.error, e.traceback = "failed", ev["error"], ev.get("traceback")
                manifest.save(out)
                summary.failed.append((e.name, e.seed, ev["error"]))
                progress.finish(e.name, e.index, False, ev["error"])

        try:
            if not tasks:
                pass
            elif opts.ray:
                from .ray_backend import run_ray

                run_ray(opts.ray, tasks, out, on_event, transfer=opts.ray_transfer,
                        cpus_per_task=opts.ray_cpus_per_task)
            elif opts.workers == 0:
                _run_inline(tasks, out, on_event)
            else:
                from .pool import run_local

                run_local(tasks, out, opts.workers, on_event, out / "logs", env)
        finally:
            progress.close()
            marks["tasks_end"] = time.perf_counter()
        summary.pending = sum(e.status == "pending" for e in wanted)
        done = [e.name for e in wanted if e.status == "done"]
        if opts.contact_sheet and done and (summary.rendered or not (out / "preview.png").exists()):
            summary.contact_sheet = contact_sheet.make(out, done)
        elif (out / "preview.png").exists():
            summary.contact_sheet = out / "preview.png"
        first = marks.get("first_start", marks["tasks_end"])
        summary.timing = {"setup": first - t0, "scenes": marks["tasks_end"] - first,
                          "contact_sheet": time.perf_counter() - marks["tasks_end"]}
        manifest.last_run = {"seconds": time.perf_counter() - t0, **summary.timing,
                             "rendered": summary.rendered, "failed": len(summary.failed),
                             "workers": 0 if opts.ray else opts.workers, "ray": opts.ray}
        manifest.save(out)
    summary.seconds = time.perf_counter() - t0
    return summary


def _run_inline(tasks: list[SceneTask], out: Path, on_event) -> None:
    from .scene_job import render_scene

    for task in tasks:
        on_event({"event": "start", "scene": task.index})
        try:
            result = render_scene(task, out, progress=lambda d, t, i=task.index:
                                  on_event({"event": "progress", "scene": i, "done": d, "total": t}))
        except Exception as exc:  # every scene failure is recorded; the run goes on
            on_event({"event": "failed", "scene": task.index, "error": f"{type(exc).__name__}: {exc}",
                      "traceback": traceback.format_exc()})
        else:
            on_event({"event": "done", "scene": task.index, "result": result})
