"""One engine per Blender session, shared by every job.

``LOCAL`` mode starts ``python -m procdream.gen3d.server`` with the engine Python
(:func:`.engine_python.resolve`) through :class:`LocalEngine`; its token, state file and log live in
the user directory's ``engine/`` folder (a stale engine from a crashed Blender is stopped there
first). ``REMOTE`` mode talks to a running engine at the preferences' URL and token.

Starting a local engine takes seconds (the engine imports torch), so the UI calls :meth:`request`
with ``wait=False``: a daemon thread starts the engine while the modal operator keeps polling
:meth:`poll`. Background mode passes ``wait=True`` and blocks. A request with other settings (another
Python, device or URL) stops the old engine and starts a new one.

An engine that dies (its process exits, or it stops answering while a job polls it) is dropped with
:meth:`crashed`: the job reports it with the log path, and the next :meth:`request` starts a new
one. :func:`shutdown` stops a started engine; the add-on calls it when it is disabled.

Only the standard library and :mod:`..gen3d.client` (itself stdlib-only) are used: never torch.
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..gen3d.client import EngineClient, EngineError, EngineRequestError, EngineUnavailable, LocalEngine
from . import engine_python, paths, preferences

#: Seconds per request while a job runs (loopback: normally milliseconds). The UI waits this long at
#: most per timer tick when an engine hangs; submitting a mesh gets SUBMIT_TIMEOUT_S.
REQUEST_TIMEOUT_S = 5.0
SUBMIT_TIMEOUT_S = 120.0
#: Seconds a local engine may take to print its ready line (cold torch import, slow disks).
START_TIMEOUT_S = 180.0
#: Consecutive failed status requests to a local engine whose process still runs before it counts as hung.
MAX_UNANSWERED = 3


class EngineSessionError(RuntimeError):
    """The engine could not be started or reached; the message says what to do."""


@dataclass(frozen=True)
class EngineConfig:
    mode: str = "LOCAL"
    python: str = ""
    python_source: str = ""
    device: str = "auto"
    url: str = ""
    token: str = field(default="", repr=False)
    state_dir: str = ""
    env: tuple = field(default=(), compare=False, repr=False)


def config_from(context) -> EngineConfig:
    """The engine settings from the add-on preferences (defaults when registered without them).

    Raises :class:`.engine_python.EngineConfigError` when no engine Python can be found.
    """
    prefs = preferences.get(context)
    mode = prefs.engine_mode if prefs else "LOCAL"
    device = prefs.device if prefs else "auto"
    if mode == "REMOTE":
        url = (prefs.engine_url or "").strip()
        if not url:
            raise engine_python.EngineConfigError(
                "No engine URL: set Engine URL in Preferences > Add-ons > ProcDream, or set Engine to "
                "'Start locally'")
        return EngineConfig(mode="REMOTE", url=url, token=(prefs.engine_token or "").strip(), device=device)
    python, source = engine_python.resolve(prefs.engine_python if prefs else "")
    return EngineConfig(mode="LOCAL", python=python, python_source=source, device=device,
                        state_dir=str(paths.user_dir("engine")),
                        env=tuple(sorted(engine_python.environment().items())))


class EngineSession:
    def __init__(self):
        self._lock = threading.RLock()
        self._config: EngineConfig | None = None
        self._engine: LocalEngine | None = None
        self._client: EngineClient | None = None
        self._info: dict | None = None
        self._thread: threading.Thread | None = None
        self._error: Exception | None = None
        self._generation = 0
        self._unanswered = 0
        #: Copy of the log of the last engine that died (the next engine overwrites engine.log).
        self.crash_log: Path | None = None
        self.last_crash: str = ""

    # ---- state ----------------------------------------------------------------------------------
    @property
    def info(self) -> dict:
        with self._lock:
            return dict(self._info or {})

    @property
    def pid(self) -> int | None:
        with self._lock:
            return self._engine.pid if self._engine is not None else None

    @property
    def log_path(self) -> Path | None:
        with self._lock:
            if self._engine is not None:
                return self._engine.log_path
            if self._config is not None and self._config.state_dir:
                return Path(self._config.state_dir) / "engine.log"
            return None

    def starting(self) -> bool:
        with self._lock:
            return self._thread is not None

    def describe(self) -> tuple[str, str]:
        """(state, one line) for the panel: state is NONE, STARTING, READY or CRASHED."""
        with self._lock:
            if self._thread is not None:
                return "STARTING", "Engine starting..."
            if self._client is not None:
                info = self._info or {}
                where = f"pid {self._engine.pid}" if self._engine is not None else self._client.url
                return "READY", f"Engine {info.get('version', '?')} on {info.get('device', '?')} ({where})"
            if self.last_crash:
                return "CRASHED", self.last_crash
            return "NONE", "Engine not started (starts with the first job)"

    def job_kinds(self) -> set[str]:
        with self._lock:
            return set((self._info or {}).get("kinds", {}))

    # ---- start ----------------------------------------------------------------------------------
    def request(self, config: EngineConfig, wait: bool) -> None:
        """Make sure an engine for ``config`` runs or is starting; with ``wait`` block until it is up
        (errors are then raised by :meth:`poll`)."""
        with self._lock:
            if self._config == config and (self._thread is not None or self._usable_locked()):
                thread = self._thread
            else:
                self._stop_locked()
                self._config, self._error, self._unanswered = config, None, 0
                self._generation += 1
                thread = threading.Thread(target=self._start, args=(config, self._generation), daemon=True,
                                          name="procdream-engine-start")
                self._thread = thread
                thread.start()
        if wait and thread is not None:
            thread.join()

    def _usable_locked(self) -> bool:
        return self._client is not None and (self._engine is None or self._engine.alive())

    def _start(self, config: EngineConfig, generation: int) -> None:
        engine = client = info = error = None
        try:
            if config.mode == "LOCAL":
                engine = LocalEngine.start(config.python, config.state_dir, device=config.device,
                                           env=dict(config.env), timeout_s=START_TIMEOUT_S)
                client = EngineClient(engine.url, engine.token, timeout=REQUEST_TIMEOUT_S)
            else:
                client = EngineClient(config.url, config.token, timeout=REQUEST_TIMEOUT_S)
            info = client.info()
        except EngineUnavailable as exc:
            error = EngineSessionError(
                f"{exc.message} Check Engine URL and Token in Preferences > Add-ons > ProcDream, or set Engine "
                "to 'Start locally'." if config.mode == "REMOTE" else f"The engine did not answer: {exc.message}")
        except EngineRequestError as exc:
            error = EngineSessionError(f"The engine at {client.url} refused the request ({exc.message}); "
                                       "copy the token from the engine's token file into Preferences > "
                                       "Add-ons > ProcDream > Token")
        except EngineError as exc:  # EngineStartError: its message ends with the engine log's tail
            error = EngineSessionError(f"The engine did not start: {exc.message}\nCheck the engine Python "
                                       "(Preferences > Add-ons > ProcDream > Check engine).")
        except Exception as exc:  # a bug or an OS error must still reach the user, not a dead thread
            error = EngineSessionError(f"The engine did not start: {type(exc).__name__}: {exc}")
        with self._lock:
            current = generation == self._generation
            if current:
                self._thread = None
                if error is None:
                    self._engine, self._client, self._info = engine, client, info
                    self.last_crash = ""
                else:
                    self._error = error
        if not current and engine is not None:
            engine.stop(timeout_s=5.0)  # superseded (settings changed, or the add-on was disabled)
        elif error is not None and engine is not None:
            engine.stop(timeout_s=5.0)

    def poll(self) -> EngineClient | None:
        """The client once the engine is up, None while it starts; raises the start error (once)."""
        with self._lock:
            if self._error is not None:
                error, self._error, self._config = self._error, None, None
                raise error
            if self._thread is not None:
                return None
            if self._client is None:
                raise EngineSessionError("The engine is not running; start the job again")
            return self._client

    # ---- health ---------------------------------------------------------------------------------
    def check_alive(self) -> str | None:
        """None while the engine is fine; otherwise drop it and return the crash message."""
        with self._lock:
            if self._engine is not None and not self._engine.alive():
                return self._crashed_locked()
        return None

    def answered(self) -> None:
        with self._lock:
            self._unanswered = 0

    def unanswered(self, exc: EngineUnavailable) -> str | None:
        """A request failed to connect. None when it may be a hiccup (the local process still runs);
        otherwise the engine is dropped and the message to report is returned."""
        with self._lock:
            self._unanswered += 1
            if self._engine is not None:
                if self._engine.alive() and self._unanswered < MAX_UNANSWERED:
                    return None
                return self._crashed_locked()
            if self._client is None:
                return "The engine is gone; start the job again"
            url = self._client.url
            self._client, self._info, self._config = None, None, None
            self.last_crash = (f"The engine at {url} stopped answering ({exc.message}); check that it still "
                               "runs. ProcDream connects again on the next job.")
            return self.last_crash

    def _crashed_locked(self) -> str:
        engine = self._engine
        self._engine, self._client, self._info, self._config = None, None, None, None
        code = engine.process.poll()
        if code is None:  # alive but not answering: hung; stop it so the next job gets a fresh one
            engine.stop(timeout_s=2.0)
            how = "stopped answering"
        else:
            engine.stop(timeout_s=0.5)  # reaps it, drains its log
            how = f"stopped unexpectedly (exit code {code})"
        log = engine.log_path
        self.crash_log = log
        try:
            self.crash_log = log.with_name("engine-crash.log")
            shutil.copyfile(log, self.crash_log)
        except OSError:
            self.crash_log = log
        self.last_crash = f"The engine {how}; it restarts on the next job. Log: {self.crash_log}"
        return self.last_crash

    # ---- stop -----------------------------------------------------------------------------------
    def _stop_locked(self) -> None:
        engine = self._engine
        self._engine, self._client, self._info, self._thread = None, None, None, None
        self._generation += 1  # a start still in flight stops its engine when it finishes
        if engine is not None:
            engine.stop(timeout_s=5.0)

    def shutdown(self, join_s: float = 20.0) -> None:
        with self._lock:
            thread = self._thread
            self._stop_locked()
            self._config, self._error = None, None
        if thread is not None:
            thread.join(join_s)


SESSION = EngineSession()


def shutdown() -> None:
    """Stop the engine this session started (a remote engine is left running)."""
    SESSION.shutdown()
