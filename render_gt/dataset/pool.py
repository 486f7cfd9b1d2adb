"""Local parallelism: N worker processes, each with its own Blender, fed one scene at a time. bpy-free.

A worker that dies (a crash inside Blender, the OOM killer, a SIGKILL) takes only its current scene
down: that scene is reported failed with the worker's exit status and the end of its log, and a
fresh worker takes its place. Scenes are handed out as workers become free, so a slow scene does
not hold up the others.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
from collections import deque
from collections.abc import Callable
from pathlib import Path

from .launch import python_command
from .scene_job import SceneTask
from .worker import FD_ENV, task_to_json

WORKER_MODULE = __package__ + ".worker"


class WorkerStartError(RuntimeError):
    """A worker process exited before it was ready: an environment problem, not a scene problem."""


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def exit_reason(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


class _Worker:
    def __init__(self, slot: int, log_dir: Path, env: dict | None):
        self.slot = slot
        self.log_path = log_dir / f"worker-{slot}.log"
        read_fd, write_fd = os.pipe()
        argv, full_env = python_command(WORKER_MODULE, env)
        full_env[FD_ENV] = str(write_fd)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                                         pass_fds=(write_fd,), env=full_env, text=True)
        os.close(write_fd)  # the worker now holds the only write end: EOF means it is gone
        self.read_fd = read_fd
        self.buffer = b""
        self.task: SceneTask | None = None
        self.ready = False

    def send(self, out: Path) -> None:
        self.proc.stdin.write(json.dumps({"task": task_to_json(self.task), "out": str(out)}) + "\n")
        self.proc.stdin.flush()

    def lines(self, chunk: bytes) -> list[dict]:
        self.buffer += chunk
        *complete, self.buffer = self.buffer.split(b"\n")
        return [json.loads(line) for line in complete if line.strip()]

    def stop(self) -> None:
        """Close stdin (the worker's signal to exit), wait briefly, then kill."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.read_fd)


def run_local(tasks: list[SceneTask], out: Path, workers: int, on_event: Callable[[dict], None],
              log_dir: Path, env: dict | None = None) -> None:
    """Render ``tasks`` with ``workers`` processes; report every event through ``on_event``.

    Events: {"event": "start"|"progress"|"done"|"failed", "scene": index, ...}. Returns when every
    task is done or failed. Raises WorkerStartError when workers cannot start at all.
    """
    pending = deque(tasks)
    log_dir.mkdir(parents=True, exist_ok=True)
    sel = selectors.DefaultSelector()
    pool: list[_Worker] = []

    def spawn(slot: int) -> None:
        w = _Worker(slot, log_dir, env)
        pool.append(w)
        sel.register(w.read_fd, selectors.EVENT_READ, w)

    def assign(w: _Worker) -> None:
        if pending:
            w.task = pending.popleft()
            on_event({"event": "start", "scene": w.task.index, "worker": w.slot})
            try:
                w.send(out)
            except OSError:
                pass  # it died; its EOF arrives next and reports the scene
        else:
            w.task = None
            try:
                w.proc.stdin.close()  # nothing left: let it exit
            except OSError:
                pass

    try:
        for slot in range(min(workers, len(pending))):
            spawn(slot)
        while pending or any(w.task is not None for w in pool):
            for key, _ in sel.select(timeout=1.0):
                w: _Worker = key.data
                chunk = os.read(w.read_fd, 1 << 16)
                if chunk:
                    for msg in w.lines(chunk):
                        if msg["event"] == "ready":
                            w.ready = True
                            assign(w)
                        elif msg["event"] == "progress":
                            on_event(msg)
                        elif msg["event"] in ("done", "failed"):
                            on_event(msg)
                            if msg.get("fatal"):
                                w.task = None  # it exits now; its EOF brings a replacement
                            else:
                                assign(w)
                    continue
                sel.unregister(w.read_fd)
                code = w.proc.wait()
                pool.remove(w)
                w.stop()
                if not w.ready:
                    raise WorkerStartError(f"a dataset worker process could not start ({exit_reason(code)}); "
                                           f"end of {w.log_path}:\n{log_tail(w.log_path)}")
                if w.task is not None:
                    on_event({"event": "failed", "scene": w.task.index,
                              "error": f"worker process died ({exit_reason(code)}) while rendering this scene",
                              "traceback": f"end of {w.log_path}:\n{log_tail(w.log_path)}"})
                if pending:
                    spawn(w.slot)
    finally:
        for w in pool:
            if w.task is not None and w.proc.poll() is None:
                w.proc.kill()
            w.stop()
        sel.close()
