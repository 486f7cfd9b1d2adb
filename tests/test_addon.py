"""The add-on registers in-process (the bpy-module case) and its engine lookup names problems."""

from __future__ import annotations

import sys

import pytest


@pytest.fixture
def addon(bpy):
    import procdream

    procdream.register()
    try:
        yield bpy
    finally:
        procdream.unregister()


def test_register_and_unregister_leave_no_trace(bpy):
    import procdream

    before = sorted(name for name in dir(bpy.types) if "PROCDREAM" in name)
    procdream.register()
    try:
        assert hasattr(bpy.types, "PROCDREAM_PT_engine")
        assert bpy.context.window_manager.procdream_engine.status == "UNKNOWN"
    finally:
        procdream.unregister()
    assert sorted(name for name in dir(bpy.types) if "PROCDREAM" in name) == before == []
    assert not hasattr(bpy.types.WindowManager, "procdream_engine")


def test_check_engine_names_a_missing_interpreter(addon, monkeypatch, tmp_path):
    monkeypatch.setenv("PROCDREAM_ENGINE_PYTHON", str(tmp_path / "python9"))
    with pytest.raises(RuntimeError, match="PROCDREAM_ENGINE_PYTHON does not exist: .*python9"):
        addon.ops.procdream.check_engine()
    assert addon.context.window_manager.procdream_engine.status == "ERROR"


def test_check_engine_reports_a_broken_interpreter(addon, monkeypatch, tmp_path):
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'boom: no such module' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PROCDREAM_ENGINE_PYTHON", str(fake))
    with pytest.raises(RuntimeError, match=r"exit 3\): boom: no such module"):
        addon.ops.procdream.check_engine()


def test_engine_python_resolution(monkeypatch, tmp_path):
    from procdream.addon import engine_python

    monkeypatch.delenv("PROCDREAM_ENGINE_PYTHON", raising=False)
    # This venv has the engine extra, so the bpy-module case falls back to it.
    assert engine_python.resolve("") == (sys.executable, "this Python")
    not_exec = tmp_path / "python"
    not_exec.write_text("")
    with pytest.raises(engine_python.EngineConfigError, match="from preferences is not executable"):
        engine_python.resolve(str(not_exec))
    monkeypatch.setenv("PROCDREAM_ENGINE_PYTHON", sys.executable)
    assert engine_python.resolve("") == (sys.executable, "PROCDREAM_ENGINE_PYTHON")
    monkeypatch.setattr(engine_python, "_has_engine_packages", lambda: False)
    monkeypatch.delenv("PROCDREAM_ENGINE_PYTHON")
    with pytest.raises(engine_python.EngineConfigError, match="No engine Python"):
        engine_python.resolve("")
