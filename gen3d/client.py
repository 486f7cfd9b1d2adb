"""Client for the engine's HTTP job server, and a helper that starts and stops a local engine.

Standard library only: this module runs inside Blender's Python (numpy is used lazily, only by
:func:`encode_array` / :func:`encode_mesh`, and Blender ships numpy). It must never import
torch, fastapi or pydantic; a test checks that in a fresh interpreter.

Typical use::

    engine = LocalEngine.start("/path/to/engine/python", state_dir)
    job = engine.client.submit("paint", {"prompt": "mossy stone"}, encode_mesh(positions, faces))
    engine.client.wait(job, on_status=print)
    engine.client.download(job, out_dir)
    engine.stop()

Errors are :class:`EngineError` subclasses: :class:`EngineUnavailable` (no connection),
:class:`EngineRequestError` (4xx; ``field`` names the bad input), :class:`EngineJobFailed`,
:class:`EngineJobCancelled` and :class:`EngineStartError`.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import http.client
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .meshwire import encode_array, encode_mesh

__all__ = ["PROTOCOL", "EngineClient", "EngineError", "EngineJobCancelled", "EngineJobFailed",
           "EngineRequestError", "EngineStartError", "EngineUnavailable", "LocalEngine", "encode_array",
           "encode_mesh", "stop_stale_engine"]

#: The protocol version this client speaks; the server's ready line and /v1/info report theirs.
PROTOCOL = 1
SERVER_MODULE = "procdream.gen3d.server"
STATE_FILE = "engine.json"
TOKEN_FILE = "token"
LOG_FILE = "engine.log"
_CHUNK = 1 << 20
_NOTHING = object()


class EngineError(Exception):
    """Anything that went wrong talking to the engine. ``field`` names the bad input when known."""

    def __init__(self, message: str, *, http_status: int | None = None, field: str | None = None,
                 job: dict | None = None):
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.field = field
        #: The job's last status (for job errors).
        self.job = job


class EngineUnavailable(EngineError):
    """The engine could not be reached (connection refused, reset or timed out)."""


class EngineRequestError(EngineError):
    """The engine refused a request (HTTP 4xx): bad input, unknown job id, or a wrong token."""


class EngineJobFailed(EngineError):
    """The job failed on the engine; ``job["error"]`` is the one-line error, ``job["traceback"]`` the rest."""


class EngineJobCancelled(EngineError):
    """The job was cancelled before it finished."""


class EngineStartError(EngineError):
    """A local engine did not start; the message ends with the last lines of its log."""


def _plain_name(name: str) -> bool:
    return bool(name) and name == os.path.basename(name) and "\\" not in name and not name.startswith(".")


class EngineClient:
    """Calls to one engine at ``url`` (``http://127.0.0.1:PORT``) with its bearer token.

    ``timeout`` is seconds per request. Proxy settings from the environment are ignored: the engine
    is on loopback (or a URL the user typed), never behind the system's HTTP proxy.
    """

    def __init__(self, url: str, token: str, timeout: float = 30.0):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    # ---- transport ------------------------------------------------------------------------------
    def _unavailable(self, exc: BaseException) -> EngineUnavailable:
        reason = getattr(exc, "reason", None) or exc
        return EngineUnavailable(
            f"the engine is not reachable at {self.url} ({reason}). Check that the engine is running "
            "(start it again, or read its log for why it stopped) and that the URL and port are the ones "
            "its ready line printed.")

    def _http_error(self, exc: urllib.error.HTTPError) -> EngineError:
        try:
            body = json.loads(exc.read().decode("utf-8", "replace"))
            error = body["error"]
            field, message = error.get("field"), str(error.get("message"))
        except (ValueError, KeyError, TypeError, AttributeError, OSError):
            field, message = None, f"HTTP {exc.code} {exc.reason}"
        text = f"{field}: {message}" if field else message
        cls = EngineRequestError if 400 <= exc.code < 500 else EngineError
        return cls(text, http_status=exc.code, field=field)

    def _open(self, method: str, path: str, body: Any = None, timeout: float | None = None):
        data = None
        headers = {"Authorization": f"Bearer {self.token}"}
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            return self._opener.open(request, timeout=self.timeout if timeout is None else timeout)
        except urllib.error.HTTPError as exc:
            raise self._http_error(exc) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            raise self._unavailable(exc) from None

    def _read(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> bytes:
        with self._open(method, path, body, timeout) as response:
            try:
                return response.read()
            except (OSError, http.client.HTTPException) as exc:
                raise self._unavailable(exc) from None

    def _json(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> Any:
        return json.loads(self._read(method, path, body, timeout).decode("utf-8"))

    @staticmethod
    def _job_path(job_id: str, *rest: str) -> str:
        parts = [urllib.parse.quote(str(p), safe="") for p in (job_id, *rest)]
        return "/v1/jobs/" + "/".join(parts)

    # ---- API ------------------------------------------------------------------------------------
    def info(self) -> dict:
        """Version, protocol, device, job kinds (with params JSON schema), queue and limits."""
        return self._json("GET", "/v1/info")

    def submit(self, kind: str, params: Mapping | None = None, mesh: Mapping | None = None,
               timeout: float | None = None) -> str:
        """Queue a job; returns its id. ``mesh`` is a wire mesh (see :func:`encode_mesh`)."""
        body = {"kind": kind, "params": dict(params or {}), "mesh": None if mesh is None else dict(mesh)}
        return self._json("POST", "/v1/jobs", body, timeout)["id"]

    def status(self, job_id: str) -> dict:
        """``{id, kind, state, step, total, eta_s, message, error, result, ...}``; state is one of
        queued, running, done, failed, cancelled; eta_s is seconds left or None."""
        return self._json("GET", self._job_path(job_id))

    def jobs(self) -> list[dict]:
        return self._json("GET", "/v1/jobs")["jobs"]

    def preview(self, job_id: str) -> bytes | None:
        """The latest preview PNG bytes, or None if the job has not published one yet."""
        try:
            return self._read("GET", self._job_path(job_id, "preview"))
        except EngineRequestError as exc:
            if exc.http_status == 404 and exc.field == "preview":
                return None
            raise

    def cancel(self, job_id: str) -> dict:
        """Ask the engine to cancel; returns the status right after (a running job stops at its next step)."""
        return self._json("POST", self._job_path(job_id, "cancel"))

    def files(self, job_id: str) -> list[str]:
        """Names of the job's result files."""
        return [f["name"] for f in self._json("GET", self._job_path(job_id, "files"))["files"]]

    def download(self, job_id: str, dest_dir: str | Path, names: Iterable[str] | None = None) -> list[Path]:
        """Download result files (all by default) into ``dest_dir``; returns their paths.

        Each file is written to a hidden temporary name in ``dest_dir`` and renamed into place, so a
        reader never sees half a file and an interrupted download leaves none.
        """
        dest = Path(dest_dir)
        dest.mkdir(parents=True, exist_ok=True)
        paths = []
        for name in self.files(job_id) if names is None else names:
            if not _plain_name(name):
                raise EngineError(f"refusing to write result file {name!r}: not a plain file name")
            fd, tmp = tempfile.mkstemp(dir=dest, prefix=f".{name}.", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as out, self._open("GET", self._job_path(job_id, "files", name)) as resp:
                    while True:
                        try:
                            chunk = resp.read(_CHUNK)
                        except (OSError, http.client.HTTPException) as exc:
                            raise self._unavailable(exc) from None
                        if not chunk:
                            break
                        out.write(chunk)
                os.chmod(tmp, 0o644)  # mkstemp makes 0600; results are ordinary user files
                os.replace(tmp, dest / name)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            paths.append(dest / name)
        return paths

    def wait(self, job_id: str, poll_s: float = 0.5, on_status: Callable[[dict], None] | None = None,
             should_cancel: Callable[[], bool] | None = None, timeout_s: float | None = None) -> dict:
        """Poll until the job finishes; returns the final status of a done job.

        ``on_status(status)`` is called after every poll; when ``should_cancel()`` first returns
        true the job is cancelled (and waited for). Raises :class:`EngineJobFailed`,
        :class:`EngineJobCancelled`, or :class:`EngineError` after ``timeout_s`` seconds.
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        cancel_sent = False
        while True:
            status = self.status(job_id)
            if on_status is not None:
                on_status(status)
            state = status["state"]
            if state == "done":
                return status
            if state == "failed":
                raise EngineJobFailed(f"job {job_id} ({status['kind']}) failed: {status['error']}", job=status)
            if state == "cancelled":
                raise EngineJobCancelled(f"job {job_id} ({status['kind']}) was cancelled", job=status)
            if not cancel_sent and should_cancel is not None and should_cancel():
                self.cancel(job_id)
                cancel_sent = True
            if deadline is not None and time.monotonic() > deadline:
                raise EngineError(f"job {job_id} did not finish within {timeout_s} s", job=status)
            time.sleep(poll_s)

    def shutdown(self, timeout: float | None = None) -> None:
        """Ask the engine process to exit (it answers first, then stops)."""
        self._read("POST", "/v1/shutdown", timeout=timeout)


# ---- processes ----------------------------------------------------------------------------------
def _pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (a zombie counts as gone)."""
    if pid <= 0:
        return False
    if os.name == "nt":
        import ctypes

        # os.kill(pid, 0) on Windows would terminate the process; ask the kernel instead.
        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        ok = kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        kernel32.CloseHandle(handle)
        return bool(ok) and code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        # A dead child nobody has reaped yet still answers kill(0); its state letter is Z.
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _cmdline_is_server(pid: int) -> bool | None:
    """True/False from /proc/<pid>/cmdline; None where that cannot be read (not Linux)."""
    try:
        return SERVER_MODULE.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None


def _wait_gone(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while _pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def stop_stale_engine(state_dir: str | Path, timeout_s: float = 10.0) -> int | None:
    """Stop an engine left running by an earlier session (e.g. after Blender crashed).

    Reads ``state_dir/engine.json``; the process it names is stopped only if it is provably ours:
    its command line names the server module, or its /v1/info (with the stored token) reports that
    pid. It is asked to shut down over HTTP first, then terminated, then killed. Returns the pid
    stopped, or None.
    """
    state_dir = Path(state_dir)
    state_file = state_dir / STATE_FILE
    record = _read_json(state_file)
    pid = record.get("pid") if record else None
    if not isinstance(pid, int) or not _pid_alive(pid):
        state_file.unlink(missing_ok=True)
        return None
    ours = _cmdline_is_server(pid) is True
    url = record.get("url")
    try:
        token = (state_dir / TOKEN_FILE).read_text().strip()
    except OSError:
        token = None
    if url and token:
        client = EngineClient(url, token, timeout=3)
        try:
            if client.info().get("pid") == pid:
                ours = True
                client.shutdown()
        except EngineError:
            pass  # not reachable or not ours; fall back to signals if the command line says it is
    if not ours:
        state_file.unlink(missing_ok=True)  # the pid was reused by some other program; leave it alone
        return None
    try:
        if not _wait_gone(pid, timeout_s):
            os.kill(pid, signal.SIGTERM)  # on Windows this is TerminateProcess
            if not _wait_gone(pid, 5) and os.name != "nt":
                os.kill(pid, signal.SIGKILL)
                _wait_gone(pid, 5)
    except ProcessLookupError:
        pass  # it exited between the check and the signal
    state_file.unlink(missing_ok=True)
    return pid


class LocalEngine:
    """An engine server process started by this client (see :meth:`start`).

    The process runs in its own session / process group, so a Ctrl-C in the terminal Blender was
    started from does not kill it mid-job; it is stopped by :meth:`stop`, by the context manager,
    at interpreter exit (atexit), or, after a crash, by the next :meth:`start` with the same
    ``state_dir``. Its stderr (the engine log) goes to ``state_dir/engine.log``; the last 50 lines
    are also kept in memory for error messages.
    """

    def __init__(self, process: subprocess.Popen, ready: dict, token: str, state_dir: Path,
                 threads: Sequence[threading.Thread], stderr_tail: collections.deque):
        self.process = process
        self.ready = ready
        self.url: str = ready["url"]
        self.device: str = ready.get("device", "cpu")
        self.token = token
        self.state_dir = state_dir
        self.client = EngineClient(self.url, token)
        self._threads = threads
        self._stderr_tail = stderr_tail
        atexit.register(self._stop_at_exit)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def log_path(self) -> Path:
        return self.state_dir / LOG_FILE

    def stderr_tail(self) -> str:
        return "\n".join(self._stderr_tail)

    @classmethod
    def start(cls, python: str | Path, state_dir: str | Path, device: str = "auto",
              env: Mapping[str, str] | None = None, timeout_s: float = 120.0,
              extra_args: Sequence[str] = ()) -> LocalEngine:
        """Start ``python -m procdream.gen3d.server`` on a free loopback port and wait until it is ready.

        ``state_dir`` holds the token, ``engine.json`` ({pid, url, started}) and the log; an engine
        left there by an earlier crash is stopped first. ``env`` adds to (does not replace) this
        process's environment. ``extra_args`` go to the server (e.g. ``["--kinds-module", "m"]``).
        Raises :class:`EngineStartError` with the end of the engine log if it exits or is not ready
        within ``timeout_s`` seconds.
        """
        state_dir = Path(state_dir)
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        stop_stale_engine(state_dir)
        cmd = [str(python), "-m", SERVER_MODULE, "--host", "127.0.0.1", "--port", "0",
               "--token-file", str(state_dir / TOKEN_FILE), "--device", device, *extra_args]
        child_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
        if os.name == "nt":
            flags = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.CREATE_NO_WINDOW
            detach: dict[str, Any] = {"creationflags": flags}
        else:
            detach = {"start_new_session": True}
        try:
            process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace",
                                       bufsize=1, env=child_env, cwd=state_dir, **detach)
        except OSError as exc:
            raise EngineStartError(f"could not run the engine Python {python!r}: {exc}") from None

        ready_queue: queue.Queue = queue.Queue()
        stderr_tail: collections.deque = collections.deque(maxlen=50)
        threads = [threading.Thread(target=_drain_stdout, args=(process.stdout, ready_queue), daemon=True,
                                    name="procdream-engine-stdout"),
                   threading.Thread(target=_drain_stderr, args=(process.stderr, stderr_tail,
                                                                state_dir / LOG_FILE),
                                    daemon=True, name="procdream-engine-stderr")]
        for thread in threads:
            thread.start()

        def fail(reason: str) -> EngineStartError:
            if process.poll() is None:
                _terminate(process)
            threads[1].join(2)  # let the last log lines arrive
            tail = "\n".join(stderr_tail) or "(the engine wrote nothing to stderr)"
            return EngineStartError(f"{reason}; command: {' '.join(cmd)}\nlast lines of the engine log "
                                    f"({state_dir / LOG_FILE}):\n{tail}")

        deadline = time.monotonic() + timeout_s
        while True:
            try:
                ready = ready_queue.get(timeout=0.1)
            except queue.Empty:
                ready = _NOTHING
            if ready is None:  # stdout closed: the process is exiting without having been ready
                try:
                    code = process.wait(5)
                except subprocess.TimeoutExpired:
                    code = "unknown"
                raise fail(f"the engine exited (code {code}) before it was ready")
            if isinstance(ready, dict):
                break
            if time.monotonic() > deadline:
                raise fail(f"the engine was not ready within {timeout_s} s")
        if ready.get("protocol") != PROTOCOL:
            raise fail(f"the engine speaks protocol {ready.get('protocol')}, this client speaks {PROTOCOL}; "
                       "install matching ProcDream versions in Blender and in the engine Python")
        token = (state_dir / TOKEN_FILE).read_text().strip()
        _write_json_atomic(state_dir / STATE_FILE, {"pid": process.pid, "url": ready["url"], "started": time.time(),
                                                    "python": str(python), "protocol": PROTOCOL})
        return cls(process, ready, token, state_dir, threads, stderr_tail)

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ask the engine to shut down; terminate it after ``timeout_s`` seconds, kill it 5 s later."""
        if self.process.poll() is None:
            try:
                self.client.shutdown(timeout=min(timeout_s, 5.0))
            except EngineError:
                pass  # not answering: the signals below still work
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                _terminate(self.process)
        for thread in self._threads:
            thread.join(2)
        record = _read_json(self.state_dir / STATE_FILE)
        if record and record.get("pid") == self.process.pid:
            (self.state_dir / STATE_FILE).unlink(missing_ok=True)
        atexit.unregister(self._stop_at_exit)

    def _stop_at_exit(self) -> None:
        try:
            self.stop(timeout_s=3.0)
        except Exception as exc:  # at exit nobody can act on it; say so and move on
            print(f"procdream: could not stop the engine (pid {self.pid}): {exc}", file=sys.stderr)

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _terminate(process: subprocess.Popen) -> None:
    """Terminate, then kill after 5 s; on POSIX the signals go to the process group the engine leads."""
    def send(kill: bool) -> None:
        try:
            if os.name == "nt":
                process.kill() if kill else process.terminate()
            else:
                os.killpg(process.pid, signal.SIGKILL if kill else signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass

    send(kill=False)
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        send(kill=True)
        process.wait(5)


def _drain_stdout(stream: Any, ready_queue: queue.Queue) -> None:
    # Reading to EOF keeps the pipe from filling; only the ready line matters.
    for line in stream:
        line = line.strip()
        if line.startswith("{"):
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict) and message.get("event") == "ready":
                ready_queue.put(message)
    ready_queue.put(None)


def _drain_stderr(stream: Any, tail: collections.deque, log_path: Path) -> None:
    with contextlib.ExitStack() as stack:
        try:
            log = stack.enter_context(open(log_path, "w", encoding="utf-8"))
        except OSError:
            log = None  # the in-memory tail still works
        for line in stream:
            tail.append(line.rstrip("\n"))
            if log is not None:
                log.write(line)
                log.flush()
