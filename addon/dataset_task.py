"""Render dataset: ``procdream.render_gt.dataset.cli`` in a fresh Blender process.

Progress comes from its stderr lines (``[  t s] scene_000000: frame k/n``); the summary and the
contact sheet from stdout. Cancel terminates the process group (the runner writes every file to a
temporary name and renames it, so a killed run leaves no half-written frame, and rerunning resumes).
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

from ..render_gt.dataset import launch
from . import preview
from .child_process import ChildProcess
from .tasks import JobStateView, Task, TaskError

MODULE = "procdream.render_gt.dataset.cli"
_FRAME = re.compile(r"\]\s*(scene_\d+): frame (\d+)/(\d+)")
_SCENE_END = re.compile(r"\]\s*(scene_\d+): (done|FAILED)")


def _extension_site_packages() -> list[str]:
    """Where Blender installed the extension's bundled wheels (gin, OpenEXR): the child needs them too."""
    marker = os.sep + "extensions" + os.sep + ".local" + os.sep
    return [p for p in sys.path if marker in p and p.endswith("site-packages")]


def command(args: list[str]) -> tuple[list[str], dict]:
    argv, env = launch.python_command(MODULE, args=args)
    extra = _extension_site_packages()
    if extra:
        env["PYTHONPATH"] = os.pathsep.join([*extra, *filter(None, [env.get("PYTHONPATH", "")])])
    env["PYTHONUNBUFFERED"] = "1"
    return argv, env


class DatasetTask(Task):
    label = "Render dataset"

    def __init__(self, out_dir: Path, args: list[str], scenes: int, frames: int):
        super().__init__()
        self.out_dir, self.args, self.scenes, self.frames = out_dir, args, scenes, frames
        self.child: ChildProcess | None = None
        self.frames_done: dict[str, int] = {}
        self.finished_scenes: dict[str, str] = {}
        self.summary = ""
        self.contact_sheet = ""

    def begin(self, context) -> None:
        argv, env = command(["--out", str(self.out_dir), *self.args])
        try:
            self.child = ChildProcess(argv, env=env)
        except OSError as exc:
            raise TaskError(f"could not start Blender for the dataset run ({argv[0]}): {exc}") from None
        JobStateView(context).set(state="RUNNING", total=self.scenes * self.frames, object_count=self.scenes,
                                  message=f"Rendering into {self.out_dir}", result_path=str(self.out_dir))

    def on_cancel(self) -> None:
        pass  # tick() stops the process (it owns it); abort() stops it from other threads

    def abort(self) -> None:
        self.request_cancel()
        if self.child is not None:
            self.child.stop(grace_s=3.0)

    def tick(self, context) -> bool:
        job = JobStateView(context)
        self._read(job)
        if self.cancelled:
            self.child.stop(grace_s=3.0)
            self._read(job)
            return self.finish(context, "CANCELLED", f"Dataset run stopped; finished scenes in {self.out_dir} "
                               "are kept, and rendering again resumes from there")
        code = self.child.poll()
        if code is None:
            return False
        self._read(job)
        if self.contact_sheet and Path(self.contact_sheet).is_file():
            try:
                job.set(preview_image=preview.show_file(self.contact_sheet), result_path=self.contact_sheet)
            except RuntimeError:
                pass  # an unreadable sheet is no reason to fail the run
        if code == 0:
            message = self.summary or f"Dataset done in {self.out_dir}"
            if self.contact_sheet and self.contact_sheet not in message:
                message += f"; contact sheet: {self.contact_sheet}"
            return self.finish(context, "DONE", message)
        tail = self.child.tail_text(8)
        if code == 1:
            self.warnings.append(f"some scenes failed; see {self.out_dir / 'dataset.json'}")
            return self.finish(context, "DONE", self.summary or "Dataset run finished with failures")
        if code == 2:
            last = (tail.strip().splitlines() or ["no message"])[-1]
            return self.finish(context, "ERROR", f"the dataset settings were refused: {last}")
        return self.finish(context, "ERROR", f"the dataset run stopped (exit code {code}); last output:\n{tail}")

    def _read(self, job: JobStateView) -> None:
        for stream, line in self.child.drain():
            if stream == "stdout":
                if line.startswith("gen_dataset:"):
                    self.summary = line
                elif line.startswith("contact sheet:"):
                    self.contact_sheet = line.split(":", 1)[1].strip()
                continue
            match = _FRAME.search(line)
            if match:
                name, done = match.group(1), int(match.group(2))
                self.frames_done[name] = max(done, self.frames_done.get(name, 0))
                job.set(object_name=name, object_index=len(self.frames_done))
            match = _SCENE_END.search(line)
            if match:
                self.finished_scenes[match.group(1)] = match.group(2)
            if line.strip():
                job.set(message=line.split("] ", 1)[-1][:200])
        step = sum(self.frames_done.values())
        total = self.scenes * self.frames
        elapsed = time.monotonic() - self.started
        eta = elapsed / step * (total - step) if 0 < step < total else -1.0
        job.set(step=min(step, total), eta_s=eta)
