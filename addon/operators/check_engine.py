"""procdream.check_engine: ask the engine Python what it can do (packages, device, model)."""

from __future__ import annotations

import json
import subprocess

import bpy

from .. import engine_python, preferences

#: Importing torch in a cold interpreter takes several seconds; a minute means it is stuck.
TIMEOUT_S = 60.0

_running: set[subprocess.Popen] = set()


def kill_running():
    for proc in list(_running):
        proc.kill()
        proc.wait()
    _running.clear()


def _command(context) -> list[str]:
    prefs = preferences.get(context)
    python, _source = engine_python.resolve(prefs.engine_python if prefs else "")
    cmd = [python, "-m", "procdream.gen3d.environment"]
    if prefs:
        cmd += ["--device", prefs.device]
        if prefs.model_path:
            cmd += ["--model", bpy.path.abspath(prefs.model_path)]
    return cmd


def _apply(state, python: str, returncode: int, out: str, err: str) -> tuple[set, str]:
    """Store the report on ``state``; return (report type, message) for ``Operator.report``."""
    state.python = python
    try:
        report = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        tail = (err.strip().splitlines() or ["no output"])[-1]
        state.status, state.device = "ERROR", ""
        state.message = f"Engine Python failed (exit {returncode}): {tail}"
        return {"ERROR"}, state.message
    state.device = report.get("device") or ""
    if report["ok"]:
        state.status = "OK"
        state.message = f"ProcDream {report['procdream']} engine on {state.device}"
        if report.get("gpu"):
            state.message += f" ({report['gpu']})"
        if report["problems"]:
            state.message += "; " + "; ".join(report["problems"])
        return {"INFO"}, state.message
    state.status = "ERROR"
    state.message = "; ".join(report["problems"] + report["fixes"])
    return {"ERROR"}, state.message


class PROCDREAM_OT_check_engine(bpy.types.Operator):
    """Check that the engine Python has the packages, device and model it needs"""

    bl_idname = "procdream.check_engine"
    bl_label = "Check engine"

    _proc = None
    _timer = None
    _elapsed = 0.0

    def _start(self, context):
        state = context.window_manager.procdream_engine
        try:
            cmd = _command(context)
        except engine_python.EngineConfigError as exc:
            state.status, state.message = "ERROR", str(exc)
            self.report({"ERROR"}, str(exc))
            return None
        state.status, state.message = "CHECKING", "Checking " + cmd[0]
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=engine_python.environment(),
        )
        _running.add(proc)
        return proc

    def _finish(self, context, proc, out, err):
        _running.discard(proc)
        kind, msg = _apply(context.window_manager.procdream_engine, proc.args[0], proc.returncode, out, err)
        self.report(kind, msg)
        return {"FINISHED"} if kind == {"INFO"} else {"CANCELLED"}

    def execute(self, context):
        # Scripts and background mode: block until the answer is in.
        proc = self._start(context)
        if proc is None:
            return {"CANCELLED"}
        try:
            out, err = proc.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            err += f"\ntimed out after {TIMEOUT_S:.0f} s"
        return self._finish(context, proc, out, err)

    def invoke(self, context, event):
        if bpy.app.background:
            return self.execute(context)
        self._proc = self._start(context)
        if self._proc is None:
            return {"CANCELLED"}
        self._elapsed = 0.0
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.2, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type == "ESC":
            return self._cancel(context, "Engine check cancelled")
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        self._elapsed += 0.2
        if self._proc.poll() is None:
            if self._elapsed > TIMEOUT_S:
                return self._cancel(context, f"Engine check timed out after {TIMEOUT_S:.0f} s")
            self._redraw(context)
            return {"RUNNING_MODAL"}
        context.window_manager.event_timer_remove(self._timer)
        out, err = self._proc.communicate()
        self._redraw(context)
        return self._finish(context, self._proc, out, err)

    def _cancel(self, context, message):
        context.window_manager.event_timer_remove(self._timer)
        self._proc.kill()
        self._proc.communicate()
        _running.discard(self._proc)
        state = context.window_manager.procdream_engine
        state.status, state.message = "UNKNOWN", message
        self.report({"WARNING"}, message)
        self._redraw(context)
        return {"CANCELLED"}

    @staticmethod
    def _redraw(context):
        for area in context.screen.areas if context.screen else ():
            if area.type == "VIEW_3D":
                area.tag_redraw()
