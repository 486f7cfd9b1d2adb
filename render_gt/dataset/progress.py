"""Progress display: a bar for the run and one per scene in flight (tqdm), or plain lines. bpy-free.

tqdm draws bars only on a terminal; in logs (CI, Ray, a file) every event is one plain line so the
log stays readable. Without tqdm (Blender's own Python) the plain lines are used everywhere.
"""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, n_scenes: int, frames_per_scene: int, enabled: bool = True, stream=None):
        self.stream = stream or sys.stderr
        self.frames = frames_per_scene
        self.enabled = enabled
        self.t0 = time.perf_counter()
        self._scene_bars: dict[int, object] = {}
        self._run = None
        self._tqdm = None
        if enabled and getattr(self.stream, "isatty", lambda: False)():
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            self._tqdm = tqdm
        if self._tqdm:
            self._run = self._tqdm(total=n_scenes, desc="dataset", unit="scene", file=self.stream, position=0)

    def _line(self, text: str) -> None:
        if self.enabled:
            print(f"[{time.perf_counter() - self.t0:7.1f}s] {text}", file=self.stream, flush=True)

    def start(self, name: str, index: int) -> None:
        if self._tqdm:
            self._scene_bars[index] = self._tqdm(total=self.frames, desc=name, unit="frame", leave=False,
                                                 file=self.stream)
        else:
            self._line(f"{name}: started")

    def frame(self, name: str, index: int, done: int, total: int) -> None:
        bar = self._scene_bars.get(index)
        if bar is not None:
            bar.n = done
            bar.refresh()
        else:
            self._line(f"{name}: frame {done}/{total}")

    def finish(self, name: str, index: int, ok: bool, detail: str = "") -> None:
        bar = self._scene_bars.pop(index, None)
        if bar is not None:
            bar.close()
        if self._run is not None:
            self._run.update(1)
            if not ok:
                self._run.write(f"{name}: FAILED {detail}", file=self.stream)
        else:
            self._line(f"{name}: {'done' if ok else 'FAILED'} {detail}".rstrip())

    def close(self) -> None:
        for bar in self._scene_bars.values():
            bar.close()
        if self._run is not None:
            self._run.close()
