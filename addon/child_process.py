"""A child process whose output is read line by line on threads, so polling never blocks Blender.

The child leads its own process group (POSIX), so :meth:`ChildProcess.stop` also ends whatever it
started (the dataset runner's worker processes). Every child is tracked in a module set and
:func:`stop_all` ends them when the add-on is disabled or Blender exits.
"""

from __future__ import annotations

import atexit
import collections
import os
import queue
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence

_children: set[ChildProcess] = set()
_lock = threading.Lock()


class ChildProcess:
    def __init__(self, argv: Sequence[str], env: Mapping[str, str] | None = None, cwd: str | None = None,
                 keep_lines: int = 200):
        self.argv = [str(a) for a in argv]
        self.lines: queue.Queue = queue.Queue()
        self.tail: collections.deque = collections.deque(maxlen=keep_lines)
        flags = ({"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP} if os.name == "nt"
                 else {"start_new_session": True})
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace",
                                     bufsize=1, env=None if env is None else dict(env), cwd=cwd, **flags)
        with _lock:
            _children.add(self)
        self._threads = [threading.Thread(target=self._read, args=(stream, name), daemon=True,
                                          name=f"procdream-child-{name}")
                         for stream, name in ((self.proc.stdout, "stdout"), (self.proc.stderr, "stderr"))]
        for thread in self._threads:
            thread.start()

    def _read(self, stream, name: str) -> None:
        for line in stream:
            line = line.rstrip("\n")
            self.tail.append(line)
            self.lines.put((name, line))

    def drain(self) -> list[tuple[str, str]]:
        """(stream name, line) pairs read since the last call."""
        out = []
        while True:
            try:
                out.append(self.lines.get_nowait())
            except queue.Empty:
                return out

    def poll(self) -> int | None:
        """The exit code once the child ended and its output was read, else None."""
        code = self.proc.poll()
        if code is None:
            return None
        for thread in self._threads:
            thread.join(5)
        with _lock:
            _children.discard(self)
        return code

    def stop(self, grace_s: float = 5.0) -> None:
        """Terminate the child and its process group; kill after ``grace_s`` seconds."""
        if self.proc.poll() is None:
            self._signal(kill=False)
            try:
                self.proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                self._signal(kill=True)
                self.proc.wait(5)
        for thread in self._threads:
            thread.join(2)
        with _lock:
            _children.discard(self)

    def _signal(self, kill: bool) -> None:
        try:
            if os.name == "nt":
                self.proc.kill() if kill else self.proc.terminate()
            else:
                os.killpg(self.proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass

    def tail_text(self, lines: int = 15) -> str:
        return "\n".join(list(self.tail)[-lines:])


def stop_all() -> None:
    with _lock:
        children = list(_children)
    for child in children:
        child.stop(grace_s=3.0)


# Blender quits without disabling add-ons: a dataset run or an engine setup must not outlive it.
atexit.register(stop_all)
