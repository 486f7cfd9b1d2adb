"""``OUT/dataset.json``: the run manifest, and the lock that keeps two runs off one folder. bpy-free.

The manifest is the truth about which scenes are finished: a scene becomes ``done`` only after its
folder has been renamed into place, so a scene folder without a ``done`` entry is redone.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ... import __version__
from .. import writer
from .seeds import scene_name, scene_seed

FORMAT = "procdream-dataset"
#: Version of the dataset layout (DESIGN.md). Bumped when files or conventions change.
FORMAT_VERSION = 1
STATUSES = ("pending", "done", "failed")


@dataclass
class SceneEntry:
    index: int
    name: str
    seed: int
    status: str = "pending"
    error: str | None = None
    traceback: str | None = None
    frames: int = 0
    #: build / render / total seconds inside the worker, for the bench and for people.
    seconds: dict = field(default_factory=dict)
    #: Resident memory of the worker after the scene (MB); shows whether memory stays flat.
    rss_mb: float | None = None
    attempts: int = 0


@dataclass
class Manifest:
    config: dict
    scenes: list[SceneEntry]
    procdream_version: str = __version__
    blender_version: str | None = None
    #: Timing of the latest run (seconds: setup, scenes, contact_sheet; counts), for people and the bench.
    last_run: dict = field(default_factory=dict)

    @classmethod
    def new(cls, config: dict, base_seed: int, n_scenes: int, blender_version: str | None) -> Manifest:
        m = cls(config, [], blender_version=blender_version)
        m.extend(base_seed, n_scenes)
        return m

    def extend(self, base_seed: int, n_scenes: int) -> None:
        """Add pending entries up to ``n_scenes`` scenes (a rerun may ask for more)."""
        for i in range(len(self.scenes), n_scenes):
            self.scenes.append(SceneEntry(i, scene_name(i), scene_seed(base_seed, i)))

    def to_json(self) -> dict:
        counts = {s: sum(e.status == s for e in self.scenes) for s in STATUSES}
        return {"format": FORMAT, "version": FORMAT_VERSION, "procdream_version": self.procdream_version,
                "blender_version": self.blender_version, "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "config": self.config, "summary": counts, "last_run": self.last_run, "scenes": [asdict(e) for e in self.scenes]}

    def save(self, out: Path) -> None:
        writer.save_json(Path(out) / "dataset.json", self.to_json())

    @classmethod
    def load(cls, out: Path) -> Manifest:
        path = Path(out) / "dataset.json"
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path} cannot be read as a ProcDream manifest: {exc}") from None
        if data.get("format") != FORMAT:
            raise ValueError(f"{path} is not a ProcDream dataset manifest (format {data.get('format')!r})")
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(f"{path} has dataset format version {data.get('version')}; this ProcDream writes "
                             f"version {FORMAT_VERSION}")
        try:
            scenes = [SceneEntry(**e) for e in data.get("scenes", [])]
            config = data["config"]
        except (TypeError, KeyError, AttributeError) as exc:
            raise ValueError(f"{path} is not a valid ProcDream manifest ({type(exc).__name__}: {exc})") from None
        return cls(config, scenes, data.get("procdream_version", "?"), data.get("blender_version"),
                   data.get("last_run", {}))


class RunLock:
    """An exclusive ``flock`` on ``OUT/.lock``; the kernel drops it if the run is killed."""

    def __init__(self, out: Path):
        self.path = Path(out) / ".lock"
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise RuntimeError(f"another gen_dataset run (pid {holder}) is writing to {self.path.parent}; "
                               "wait for it or stop it first") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
