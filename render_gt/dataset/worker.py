"""A local worker process: renders the scenes its parent sends, one at a time. Needs bpy.

Protocol (JSON lines): the parent writes tasks to the worker's stdin; the worker writes events to
the pipe whose fd is in ``PROCDREAM_WORKER_FD`` (its stdout and stderr belong to Blender's render
log, which goes to a log file). Events: ``ready``; ``progress`` (scene, done, total); ``done``
(scene, result); ``failed`` (scene, error, traceback). EOF on stdin ends the worker.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from dataclasses import asdict
from pathlib import Path

from .config import DatasetConfig
from .scene_job import SceneTask, render_scene

FD_ENV = "PROCDREAM_WORKER_FD"


def task_to_json(task: SceneTask) -> dict:
    d = asdict(task)
    d["config"] = task.config.to_json()
    return d


def task_from_json(d: dict) -> SceneTask:
    cfg = dict(d["config"])
    cfg.pop("identity", None)
    cfg["out"] = Path(cfg["out"])
    return SceneTask(DatasetConfig(**cfg), d["index"], d["seed"], d["name"], d.get("threads", 0))


def _watch_parent(parent: int) -> None:
    # A killed parent cannot tell its workers to stop; without this an orphan would keep
    # rendering and race the next run over the same scene folder.
    while True:
        if os.getppid() != parent:
            os._exit(1)
        time.sleep(0.5)


def main() -> int:
    events = os.fdopen(int(os.environ[FD_ENV]), "w", buffering=1)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()

    def send(**event):
        events.write(json.dumps(event) + "\n")

    # Load Blender and the scene code before saying ready: start-up is paid once per worker.
    import bpy  # noqa: F401

    from ...procgen import scenes  # noqa: F401
    from ..render import render_sequence  # noqa: F401

    send(event="ready", pid=os.getpid())
    for line in sys.stdin:
        if not line.strip():
            continue
        msg = json.loads(line)
        task = task_from_json(msg["task"])
        out = msg["out"]
        try:
            result = render_scene(task, out, progress=lambda done, total, i=task.index:
                                  send(event="progress", scene=i, done=done, total=total))
        except Exception as exc:  # every scene failure is reported, the worker goes on
            error, tb = f"{type(exc).__name__}: {exc}", traceback.format_exc()
            try:
                from .scene_job import reset_blender

                reset_blender()
            except Exception:  # a worker that cannot reset exits; the parent blames the scene it had
                send(event="failed", scene=task.index, error=error, traceback=tb, fatal=True)
                return 1
            send(event="failed", scene=task.index, error=error, traceback=tb)
        else:
            send(event="done", scene=task.index, result=result)
    return 0
