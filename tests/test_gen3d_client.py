"""The standard-library client against a real engine process started with LocalEngine.

The server subprocess serves the ``test_*`` job kinds of ``tests/test_gen3d_server.py`` (imported
with ``--kinds-module``; PYTHONPATH gets the tests folder for that).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import procdream
from procdream.gen3d.client import (
    EngineClient,
    EngineJobCancelled,
    EngineJobFailed,
    EngineRequestError,
    EngineStartError,
    EngineUnavailable,
    LocalEngine,
    _pid_alive,
    encode_mesh,
    stop_stale_engine,
)

TESTS = Path(__file__).resolve().parent
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def start_engine(state_dir: Path, *extra_args: str) -> LocalEngine:
    path = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p)
    return LocalEngine.start(sys.executable, state_dir, device="cpu", env={"PYTHONPATH": path}, timeout_s=60,
                             extra_args=["--kinds-module", "test_gen3d_server", *extra_args])


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    engine = start_engine(tmp_path_factory.mktemp("engine"))
    yield engine
    engine.stop()
    assert not engine.alive()


def test_ready_line_and_state_file(engine):
    ready = engine.ready
    assert ready["event"] == "ready" and ready["protocol"] == 1 and ready["device"] == "cpu"
    assert ready["version"] == procdream.__version__ and ready["pid"] == engine.pid
    assert ready["url"].startswith("http://127.0.0.1:") and int(ready["url"].rsplit(":", 1)[1]) > 0
    state = json.loads((engine.state_dir / "engine.json").read_text())
    assert state["pid"] == engine.pid and state["url"] == engine.url and state["started"] > 0
    assert (engine.state_dir / "token").stat().st_mode & 0o777 == 0o600
    info = engine.client.info()
    assert info["pid"] == engine.pid and "test_echo" in info["kinds"]
    assert "engine ready" in engine.log_path.read_text()


def test_submit_wait_preview_and_download(engine, tmp_path):
    positions = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], np.float64)
    job_id = engine.client.submit("test_echo", {"prompt": "mossy stone", "steps": 5},
                                  encode_mesh(positions, [[0, 1, 2]]))
    seen = []
    final = engine.client.wait(job_id, poll_s=0.02, on_status=seen.append)
    assert final["state"] == "done" and final["result"]["faces"] == 1 and final["step"] == 5
    assert seen[-1] == final and all(s["id"] == job_id for s in seen)
    assert engine.client.preview(job_id).startswith(PNG_SIGNATURE)
    assert engine.client.files(job_id) == ["echo.txt", "texture.png"]
    paths = engine.client.download(job_id, tmp_path / "out")
    assert paths == [tmp_path / "out" / "echo.txt", tmp_path / "out" / "texture.png"]
    assert paths[0].read_text() == "mossy stone" and paths[1].read_bytes().startswith(PNG_SIGNATURE)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["echo.txt", "texture.png"]  # no temp files


def test_request_errors_name_the_field(engine):
    with pytest.raises(EngineRequestError) as info:
        engine.client.submit("test_echo", {"prompt": "x", "steps": 0})
    assert info.value.http_status == 422 and info.value.field == "params.steps"
    assert str(info.value).startswith("params.steps: ")
    with pytest.raises(EngineRequestError) as info:
        engine.client.submit("test_mesh", {}, {"positions": {"dtype": "float32", "shape": [1, 3], "data": "@"},
                                               "faces": {"dtype": "int32", "shape": [1, 3], "data": ""}})
    assert info.value.field == "mesh.positions"
    with pytest.raises(EngineRequestError) as info:
        engine.client.status("no-such-job")
    assert info.value.http_status == 404 and info.value.field == "id"
    with pytest.raises(EngineRequestError) as info:
        EngineClient(engine.url, "wrong-token").info()
    assert info.value.http_status == 403


def test_failed_job_raises_and_engine_keeps_serving(engine):
    job_id = engine.client.submit("test_fail")
    with pytest.raises(EngineJobFailed, match="boom") as info:
        engine.client.wait(job_id, poll_s=0.02)
    assert info.value.job["state"] == "failed" and "run_fail" in info.value.job["traceback"]
    assert engine.client.wait(engine.client.submit("test_echo", {"prompt": "ok"}), poll_s=0.02)["state"] == "done"


def test_cancel_from_wait(engine):
    job_id = engine.client.submit("test_loop", {"steps": 1000, "sleep_s": 0.02})
    steps = []
    with pytest.raises(EngineJobCancelled) as info:
        engine.client.wait(job_id, poll_s=0.02, on_status=lambda s: steps.append(s["step"]),
                           should_cancel=lambda: steps[-1] >= 3)
    assert info.value.job["state"] == "cancelled"
    assert 3 <= info.value.job["step"] < 100
    assert engine.client.preview(job_id) is None


def test_unreachable_engine_names_the_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(EngineUnavailable) as info:
        EngineClient(url, "token", timeout=5).info()
    assert url in str(info.value) and "running" in str(info.value)


def test_stale_engine_from_a_crash_is_stopped_and_stop_leaves_no_process(tmp_path):
    crashed = start_engine(tmp_path)  # never stopped: as if Blender had crashed
    engine = start_engine(tmp_path)
    try:
        assert engine.pid != crashed.pid
        assert crashed.process.wait(timeout=5) is not None
        assert not _pid_alive(crashed.pid)
        assert json.loads((tmp_path / "engine.json").read_text())["pid"] == engine.pid
        assert engine.client.info()["pid"] == engine.pid
    finally:
        engine.stop()
        crashed.stop()
    assert not engine.alive() and not _pid_alive(engine.pid)
    with pytest.raises(ProcessLookupError):
        os.kill(engine.pid, 0)
    assert not (tmp_path / "engine.json").exists()


def test_stale_record_naming_another_program_is_left_alone(tmp_path):
    # After a reboot the recorded pid may belong to anything; here it is this test process.
    (tmp_path / "engine.json").write_text(json.dumps({"pid": os.getpid(), "url": "http://127.0.0.1:9"}))
    (tmp_path / "token").write_text("t")
    assert stop_stale_engine(tmp_path, timeout_s=1) is None
    assert not (tmp_path / "engine.json").exists()


def test_start_error_carries_the_engine_log(tmp_path):
    with pytest.raises(EngineStartError) as info:
        start_engine(tmp_path, "--kinds-module", "no_such_kinds_module_xyz")
    assert "no_such_kinds_module_xyz" in str(info.value) and "exited" in str(info.value)
    assert not (tmp_path / "engine.json").exists()


def test_importing_the_client_pulls_in_no_engine_packages():
    code = ("import sys, json, procdream.gen3d.client\n"
            "print(json.dumps(sorted(m for m in ('torch', 'fastapi', 'pydantic', 'uvicorn', 'numpy', 'starlette')"
            " if m in sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []
