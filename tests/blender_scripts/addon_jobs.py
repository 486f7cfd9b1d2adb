"""Child process: run one scenario against the INSTALLED extension's job operators; print RESULT JSON.

    python addon_jobs.py ZIP SCENARIO

BLENDER_USER_RESOURCES must be a folder owned by the test. The first child installs the zip there,
later ones only enable it (so the engine's numba cache in the extension folder is reused). Every
scenario ends by disabling the extension, which must stop the engine and every child process.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path

import bpy
import numpy as np

ZIP, SCENARIO = sys.argv[1], sys.argv[2]
MODULE = "bl_ext.user_default.procdream"
HERE = Path(__file__).resolve().parent
result: dict = {"scenario": SCENARIO}


#: A Python with the engine extra: this one in .venv; .venv's from the LTS test venvs, which have no
#: torch (tests/conftest.py sets PROCDREAM_TEST_ENGINE_PYTHON).
ENGINE_PYTHON = os.environ.get("PROCDREAM_TEST_ENGINE_PYTHON") or sys.executable


# ---- setup --------------------------------------------------------------------------------------
def enable():
    bpy.ops.wm.read_factory_settings(use_empty=False)
    if MODULE not in bpy.context.preferences.addons:
        installed = Path(os.environ["BLENDER_USER_RESOURCES"]) / "extensions" / "user_default" / "procdream"
        if installed.is_dir():
            bpy.ops.preferences.addon_enable(module=MODULE)
        else:
            bpy.ops.extensions.package_install_files(filepath=ZIP, repo="user_default", enable_on_install=True)
    assert MODULE in bpy.context.preferences.addons, "the extension is not enabled"
    prefs().device = "cpu"
    os.environ["PROCDREAM_ENGINE_PYTHON"] = ENGINE_PYTHON


def prefs():
    return bpy.context.preferences.addons[MODULE].preferences


def mod(name: str):
    return importlib.import_module(f"{MODULE}.addon.{name}")


def override():
    window = bpy.context.window_manager.windows[0]
    screen = bpy.data.screens["Layout"]
    area = next(a for a in screen.areas if a.type == "VIEW_3D")
    region = next(r for r in area.regions if r.type == "WINDOW")
    return bpy.context.temp_override(window=window, screen=screen, area=area, region=region)


def call(name: str, *args, **kwargs) -> dict:
    """Run bpy.ops.procdream.<name> in a 3D view; {"ret": [...]} or {"error": message}, with timing."""
    t0 = time.monotonic()
    with override():
        try:
            out = {"ret": sorted(getattr(bpy.ops.procdream, name)(*args, **kwargs))}
        except RuntimeError as exc:
            out = {"error": str(exc)}
    job = bpy.context.window_manager.procdream_job
    out.update(seconds=round(time.monotonic() - t0, 2), state=job.state, message=job.message,
               step=job.step, total=job.total, preview_image=job.preview_image, result_path=job.result_path)
    return out


def select(*objects):
    for obj in bpy.context.view_layer.objects:
        obj.select_set(obj in objects)
    bpy.context.view_layer.objects.active = objects[0] if objects else None


def mesh_state(obj) -> dict:
    me = obj.data
    co = np.empty(len(me.vertices) * 3, np.float32)
    me.vertices.foreach_get("co", co)
    return {"co": co.round(6).tolist(), "polygons": len(me.polygons), "loops": len(me.loops),
            "uv_maps": me.uv_layers.keys(), "materials": [m.name if m else None for m in me.materials]}


def fingerprint() -> dict:
    """What 'nothing changed in the scene' means for the bad-input checks."""
    return {
        "scenes": sorted(s.name for s in bpy.data.scenes),
        "objects": sorted(o.name for o in bpy.data.objects),
        "meshes": {m.name: (len(m.vertices), len(m.polygons), m.uv_layers.keys(), [x.name for x in m.materials if x])
                   for m in bpy.data.meshes},
        "materials": sorted(m.name for m in bpy.data.materials),
        "images": sorted(i.name for i in bpy.data.images if i.name != "ProcDream Preview"),
        "collections": sorted(c.name for c in bpy.data.collections),
        "props": sorted(k for o in bpy.data.objects for k in o.keys()),
    }


def image_mean(image) -> list[float]:
    px = np.empty(len(image.pixels), np.float32)
    image.pixels.foreach_get(px)
    return px.reshape(-1, image.channels)[:, :3].mean(axis=0).round(4).tolist()


def engine_pid():
    return mod("engine_session").SESSION.pid


def wait_until(predicate, timeout: float, poll: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return False


def running_job_at_step(n: int):
    """From a helper thread: wait until the active task runs an engine job at step >= n (reads plain Python
    attributes and asks the engine directly; no bpy)."""
    tasks = mod("tasks")

    def ready():
        task = tasks.active()
        if task is None or getattr(task, "phase", "") != "running" or task.client is None:
            return False
        try:
            return task.client.status(task.job_id)["step"] >= n
        except Exception:
            return False

    return ready


def server_children() -> list[int]:
    """Children of this process whose command line runs the engine server."""
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == me and b"procdream.gen3d.server" in cmdline:
            found.append(int(entry.name))
    return found


def paint_defaults(**kw):
    return dict({"prompt": "red", "guidance": "analytic", "texture_size": 256, "lr": 0.05}, **kw)


# ---- scenarios ----------------------------------------------------------------------------------
def scenario_paint(r):
    cube = bpy.data.objects["Cube"]
    old_material = cube.material_slots[0].material.name
    before = mesh_state(cube)
    select(cube)
    r["paint"] = call("paint_with_prompt", **paint_defaults(steps=800))
    after = mesh_state(cube)
    r["old_material"] = old_material
    r["slots"] = [s.material.name if s.material else None for s in cube.material_slots]
    r["old_material_in_data"] = old_material in bpy.data.materials
    r["mesh_unchanged"] = before["co"] == after["co"] and before["polygons"] == after["polygons"]
    mat = bpy.data.materials.get("ProcDream: red")
    r["material"] = mat.name if mat else None
    if mat:
        tex = [n for n in mat.node_tree.nodes if n.bl_idname == "ShaderNodeTexImage"]
        bsdf = next(n for n in mat.node_tree.nodes if n.bl_idname == "ShaderNodeBsdfPrincipled")
        r["base_color_linked"] = bsdf.inputs["Base Color"].is_linked
        r["image_mean"] = image_mean(tex[0].image)
        r["image_packed"] = tex[0].image.packed_file is not None
        r["image_file"] = tex[0].image.filepath
        r["material_record"] = json.loads(mat["procdream"])
        r["uv_node"] = [n.uv_map for n in mat.node_tree.nodes if n.bl_idname == "ShaderNodeUVMap"]
    faces = np.empty(len(cube.data.polygons), np.int32)
    cube.data.polygons.foreach_get("material_index", faces)
    r["face_material_indices"] = sorted(set(faces.tolist()))
    r["object_record"] = json.loads(cube["procdream"]) if "procdream" in cube else None
    r["preview_exists"] = "ProcDream Preview" in bpy.data.images
    r["user_dir"] = str(mod("paths").base_dir())
    r["textures"] = sorted(p.name for p in (mod("paths").base_dir() / "textures").iterdir())

    # A queue of two: the cube (its UVs) and an icosphere without UVs (the engine unwraps new ones).
    bpy.ops.mesh.primitive_ico_sphere_add(subdivisions=1, location=(3, 0, 0))
    ico = bpy.context.object
    ico.name = "Ico"
    while ico.data.uv_layers:
        ico.data.uv_layers.remove(ico.data.uv_layers[0])
    ico.data.update()
    ico_before = mesh_state(ico)
    select(cube, ico)
    r["queue"] = call("paint_with_prompt", **paint_defaults(prompt="blue", steps=30))
    ico_after = mesh_state(ico)
    r["ico_uv_maps"] = ico_after["uv_maps"]
    r["ico_materials"] = ico_after["materials"]
    r["ico_mesh_unchanged"] = ico_before["co"] == ico_after["co"] and ico_before["polygons"] == ico_after["polygons"]
    r["cube_materials_after_queue"] = [s.material.name for s in cube.material_slots]
    mat = bpy.data.materials.get(ico_after["materials"][-1] if ico_after["materials"] else "")
    r["ico_uv_node"] = [n.uv_map for n in mat.node_tree.nodes if n.bl_idname == "ShaderNodeUVMap"] if mat else None
    uv = ico.data.uv_layers.get("ProcDream UV")
    if uv is not None:
        uvs = np.empty(len(ico.data.loops) * 2, np.float32)
        uv.uv.foreach_get("vector", uvs)
        r["ico_uv_range"] = [float(uvs.min()), float(uvs.max())]


def scenario_sketch_real(r):
    """The real engine's sketch kind (skipped by the test when the engine has none)."""
    cube = bpy.data.objects["Cube"]
    bpy.ops.mesh.primitive_uv_sphere_add(radius=0.8, location=(0.0, 0.0, 1.2))
    sphere = bpy.context.object
    select(cube, sphere)
    before = {o.name for o in bpy.data.objects}
    r["kinds_probe"] = call("sketch_to_asset", prompt="a red mushroom", guidance="analytic", steps=5,
                            texture_size=256, mesh_resolution=48, target_faces=2000)
    r["objects"] = sorted(o.name for o in bpy.data.objects)
    new = [o for o in bpy.data.objects if o.name not in before and o.type == "MESH"]
    r["new_collections"] = [[c.name for c in o.users_collection] for o in new]
    bpy.context.view_layer.update()
    pts = [np.array([o.matrix_world @ v.co for v in o.data.vertices]) for o in new if len(o.data.vertices)]
    if pts:
        pts = np.concatenate(pts)
        r["new_bounds"] = [pts.min(axis=0).tolist(), pts.max(axis=0).tolist()]
    sketch = np.concatenate([np.array([o.matrix_world @ v.co for v in o.data.vertices]) for o in (cube, sphere)])
    r["sketch_bounds"] = [sketch.min(axis=0).tolist(), sketch.max(axis=0).tolist()]
    r["record"] = json.loads(new[0]["procdream"]) if new else None


def scenario_sketch_fake(r):
    """Sketch to asset against an engine serving the stand-in sketch kind (REMOTE mode)."""
    client = importlib.import_module(f"{MODULE}.gen3d.client")
    env_python = mod("engine_python").environment()
    env_python["PYTHONPATH"] = os.pathsep.join([str(HERE), env_python.get("PYTHONPATH", "")])
    engine = client.LocalEngine.start(ENGINE_PYTHON, Path(os.environ["BLENDER_USER_RESOURCES"]) / "fake-engine",
                                      device="cpu", env=env_python, extra_args=["--kinds-module", "fake_sketch_kind"])
    try:
        prefs().engine_mode = "REMOTE"
        prefs().engine_url = engine.url
        prefs().engine_token = engine.token
        cube = bpy.data.objects["Cube"]
        bpy.ops.mesh.primitive_uv_sphere_add(radius=0.8, location=(0.5, 0.0, 1.0))
        sphere = bpy.context.object
        sphere.name = "SketchSphere"
        select(cube, sphere)
        before = {o.name for o in bpy.data.objects}
        r["sketch"] = call("sketch_to_asset", prompt="a green mushroom", guidance="analytic", steps=3,
                           texture_size=256)
        new = [o for o in bpy.data.objects if o.name not in before]
        r["new_objects"] = [o.name for o in new]
        r["new_types"] = [o.type for o in new]
        r["collections"] = [[c.name for c in o.users_collection] for o in new]
        meshes = [o for o in new if o.type == "MESH"]
        if meshes:
            obj = meshes[0]
            bpy.context.view_layer.update()
            corners = np.array([obj.matrix_world @ v.co for v in obj.data.vertices])
            r["new_bounds"] = [corners.min(axis=0).tolist(), corners.max(axis=0).tolist()]
            r["record"] = json.loads(obj["procdream"])
            r["materials"] = [m.name for m in obj.data.materials if m]
        r["sketch_bounds"] = np.concatenate([
            np.array([o.matrix_world @ v.co for v in o.data.vertices]) for o in (cube, sphere)]).tolist()
        r["sketch_bounds"] = [np.min(r["sketch_bounds"], axis=0).tolist(), np.max(r["sketch_bounds"], axis=0).tolist()]
        r["sources_unchanged"] = sorted(o.name for o in (cube, sphere)) == sorted(
            o.name for o in bpy.data.objects if o.name in ("Cube", "SketchSphere"))
    finally:
        engine.stop()


def scenario_scene(r):
    original = bpy.context.scene
    r["original_name"] = original.name
    before = sorted(o.name for o in original.objects)
    r["bad"] = call("generate_scene", scene_type="meadow", seed=3, gin_params="trees.no_such_knob = 1")
    r["scenes_after_bad"] = sorted(s.name for s in bpy.data.scenes)
    r["gen"] = call("generate_scene", scene_type="meadow", seed=3, frames=2,
                    gin_params="terrain.resolution = 64; trees.density = 0; ground_cover.enabled = False; rocks.count = 2")
    window = bpy.context.window_manager.windows[0]
    new = window.scene
    r["active_scene"] = new.name
    r["scenes"] = sorted(s.name for s in bpy.data.scenes)
    r["new_objects"] = sorted(o.name for o in new.objects)
    r["new_types"] = sorted({o.type for o in new.objects})
    r["camera"] = new.camera.name if new.camera else None
    r["frames"] = [new.frame_start, new.frame_end]
    r["original_objects_before"] = before
    r["original_objects_after"] = sorted(o.name for o in bpy.data.scenes[r["original_name"]].objects)


def scenario_crash(r):
    cube = bpy.data.objects["Cube"]
    select(cube)
    killed = {}

    def killer():
        if wait_until(running_job_at_step(2), timeout=120):
            killed["pid"] = engine_pid()
            os.kill(killed["pid"], 9)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    r["long"] = call("paint_with_prompt", **paint_defaults(steps=100000))
    thread.join(5)
    r["killed_pid"] = killed.get("pid")
    r["crash_log"] = str(mod("engine_session").SESSION.crash_log)
    r["crash_log_exists"] = mod("engine_session").SESSION.crash_log is not None and \
        mod("engine_session").SESSION.crash_log.is_file()
    r["materials_after_crash"] = [s.material.name for s in cube.material_slots]
    r["next"] = call("paint_with_prompt", **paint_defaults(steps=20))
    r["new_pid"] = engine_pid()
    r["materials_after_next"] = [s.material.name for s in cube.material_slots]


def scenario_cancel(r):
    tasks, paint_task = mod("tasks"), mod("paint_task")
    engine_session = mod("engine_session")
    cube = bpy.data.objects["Cube"]
    select(cube)
    # 1. The synchronous operator, cancelled from another thread through the Cancel button's function.
    marks = {}

    def canceller():
        if wait_until(running_job_at_step(3), timeout=120):
            task = tasks.active()
            marks["job"], marks["client"] = task.job_id, task.client
            marks["t"] = time.monotonic()
            tasks.cancel_active()

    thread = threading.Thread(target=canceller, daemon=True)
    thread.start()
    r["sync"] = call("paint_with_prompt", **paint_defaults(steps=100000))
    r["sync_stop_s"] = round(time.monotonic() - marks["t"], 2) if "t" in marks else None
    thread.join(5)
    if "job" in marks:
        r["sync_engine_state"] = marks["client"].status(marks["job"])["state"]
    r["materials_after_sync"] = [s.material.name for s in cube.material_slots]

    # 2. The modal path: the task ticked like the timer does, the engine started on a thread, and
    #    bpy.ops.procdream.cancel_job pressed while it runs.
    engine_session.shutdown()  # so the threaded start is exercised too
    with override():
        ctx = bpy.context
        values = {"prompt": "red", "negative_prompt": "", "guidance": "analytic", "model_path": None,
                  "steps": 100000, "seed": 0, "guidance_scale": 100.0, "texture_size": 256,
                  "use_existing_uvs": True, "lr": 0.05, "preview_every": 5}
        item = paint_task.paint_item(cube, ctx.evaluated_depsgraph_get(), values)
        task = paint_task.PaintTask(engine_session.config_from(ctx), [item], values)
        t0 = time.monotonic()
        tasks.begin(task, ctx, modal=True)
        r["starting_state"] = ctx.window_manager.procdream_job.state
        done = False
        while not done and time.monotonic() - t0 < 120:
            done = task.tick(ctx)
            if task.phase == "running" and ctx.window_manager.procdream_job.step >= 3:
                break
            time.sleep(0.25)
        r["modal_poll_state"] = ctx.window_manager.procdream_job.state
        r["modal_step"] = ctx.window_manager.procdream_job.step
        r["modal_preview"] = ctx.window_manager.procdream_job.preview_image
        t_cancel = time.monotonic()
        r["cancel_op"] = sorted(bpy.ops.procdream.cancel_job())
        while not done and time.monotonic() - t_cancel < 60:
            done = task.tick(ctx)
            time.sleep(0.1)
        tasks.end(task)
        r["modal_stop_s"] = round(time.monotonic() - t_cancel, 2)
        r["modal_outcome"] = list(task.outcome or [])
        r["modal_engine_state"] = task.client.status(task.job_id)["state"] if task.job_id else None
        r["modal_state"] = ctx.window_manager.procdream_job.state
        try:
            bpy.ops.procdream.cancel_job()
            r["cancel_idle"] = "no error"
        except RuntimeError as exc:
            r["cancel_idle"] = str(exc)


def scenario_unregister(r):
    tasks, paint_task = mod("tasks"), mod("paint_task")
    engine_session = mod("engine_session")
    addon_pkg = importlib.import_module(f"{MODULE}.addon")
    cube = bpy.data.objects["Cube"]
    select(cube)
    # Leave a job running (modal mode, as from the UI) and disable the extension under it.
    with override():
        ctx = bpy.context
        values = {"prompt": "red", "guidance": "analytic", "steps": 100000, "seed": 0, "guidance_scale": 100.0,
                  "texture_size": 256, "use_existing_uvs": True, "lr": 0.05, "preview_every": 50,
                  "negative_prompt": "", "model_path": None}
        item = paint_task.paint_item(cube, ctx.evaluated_depsgraph_get(), values)
        task = paint_task.PaintTask(engine_session.config_from(ctx), [item], values)
        tasks.begin(task, ctx, modal=True)
        # What the modal operator does: its timer is registered with the task registry.
        tasks.set_timer(ctx.window_manager, ctx.window_manager.event_timer_add(0.25, window=ctx.window))
        t0 = time.monotonic()
        while task.phase != "running" and time.monotonic() - t0 < 120:
            if task.tick(ctx):
                break
            time.sleep(0.2)
    r["phase_before_disable"] = task.phase
    r["servers_before"] = len(server_children())
    client, job_id = task.client, task.job_id
    r["handlers_before"] = sum(1 for h in bpy.app.handlers.load_pre if "procdream" in getattr(h, "__module__", ""))
    bpy.ops.preferences.addon_disable(module=MODULE)
    r["disabled"] = MODULE not in bpy.context.preferences.addons
    r["servers_after"] = server_children()
    r["tasks_active"] = tasks.active() is not None
    r["tasks_timer"] = tasks._timer is not None
    r["children_left"] = len(mod("child_process")._children)
    r["engine_pid_after"] = engine_session.SESSION.pid
    handlers = []
    for name in dir(bpy.app.handlers):
        lst = getattr(bpy.app.handlers, name)
        if isinstance(lst, list):
            handlers += [f"{name}:{getattr(h, '__module__', '')}.{getattr(h, '__name__', h)}" for h in lst
                         if "procdream" in getattr(h, "__module__", "")]
    r["handlers_after"] = handlers
    r["wm_props"] = [p for p in bpy.types.WindowManager.bl_rna.properties.keys() if "procdream" in p]
    r["scene_props"] = [p for p in bpy.types.Scene.bl_rna.properties.keys() if "procdream" in p]
    r["types_left"] = [n for n in dir(bpy.types) if "PROCDREAM" in n.upper()]
    r["ops_left"] = dir(bpy.ops.procdream)
    del addon_pkg
    try:  # the engine is gone, so asking it must fail
        client.status(job_id)
        r["engine_still_answers"] = True
    except Exception:
        r["engine_still_answers"] = False


class Recorder:
    """A stand-in for UILayout that checks every call against the real UILayout API and records it."""

    FUNCS = bpy.types.UILayout.bl_rna.functions
    ATTRS = set(bpy.types.UILayout.bl_rna.properties.keys())
    ICONS = set(bpy.types.UILayout.bl_rna.functions["label"].parameters["icon"].enum_items.keys())

    def __init__(self, log):
        self.__dict__["_log"] = log

    def __setattr__(self, name, value):
        if name not in self.ATTRS:
            raise AttributeError(f"UILayout has no attribute {name!r}")
        self.__dict__[name] = value

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        if name not in self.FUNCS:
            raise AttributeError(f"UILayout has no function {name!r}")
        params = {p.identifier for p in self.FUNCS[name].parameters}

        def method(*args, **kwargs):
            unknown = set(kwargs) - params
            if unknown:
                raise TypeError(f"UILayout.{name}() got unknown keywords {sorted(unknown)}")
            icon = kwargs.get("icon")
            if icon is not None and icon not in self.ICONS:
                raise TypeError(f"unknown icon {icon!r}")
            if name in ("prop", "prop_enum") and args:
                data, prop = args[0], args[1]
                if prop not in data.bl_rna.properties:
                    raise TypeError(f"{type(data).__name__} has no property {prop!r}")
                self._log.append((name, prop))
            elif name == "operator":
                idname = args[0] if args else kwargs["operator"]
                cat, op = idname.split(".")
                if op not in dir(getattr(bpy.ops, cat)):
                    raise TypeError(f"no operator {idname}")
                self._log.append((name, idname, kwargs.get("text", "")))
                return Recorder(self._log)
            else:
                self._log.append((name, kwargs.get("text", "")))
            if name in ("row", "column", "box", "split", "column_flow", "grid_flow"):
                return Recorder(self._log)
            return None

        return method


def draw_all(states: dict) -> dict:
    out = {}
    panels = ["PROCDREAM_PT_engine", "PROCDREAM_PT_paint", "PROCDREAM_PT_sketch", "PROCDREAM_PT_procgen",
              "PROCDREAM_PT_dataset"]
    with override():
        for state_name, setup in states.items():
            setup()
            for panel in panels:
                cls = getattr(bpy.types, panel)
                log = []
                fake = type("FakePanel", (), {"layout": Recorder(log)})()
                try:
                    cls.draw(fake, bpy.context)
                    out[f"{state_name}/{panel}"] = {"ok": True, "calls": log}
                except Exception:
                    out[f"{state_name}/{panel}"] = {"ok": False, "error": traceback.format_exc(), "calls": log}
    return out


def scenario_ui(r):
    job = bpy.context.window_manager.procdream_job
    engine = bpy.context.window_manager.procdream_engine
    tasks, engine_task, session_mod = mod("tasks"), mod("engine_task"), mod("engine_session")
    preview_img = bpy.data.images.new("ProcDream Preview", 16, 16)
    r["bl_category"] = sorted({getattr(bpy.types, p).bl_category for p in (
        "PROCDREAM_PT_engine", "PROCDREAM_PT_paint", "PROCDREAM_PT_sketch", "PROCDREAM_PT_procgen",
        "PROCDREAM_PT_dataset")})

    class Running(engine_task.EngineTask):
        label = "Paint with prompt"

    fake_task = Running(session_mod.EngineConfig(), [], {})

    def idle():
        select(bpy.data.objects["Cube"])

    def running():
        tasks._active = fake_task
        job.state, job.kind, job.step, job.total, job.eta_s = "RUNNING", "Paint with prompt", 120, 800, 75.0
        job.message, job.object_name, job.object_index, job.object_count = "t=512", "Cube", 1, 2
        job.preview_image = preview_img.name

    def error():
        tasks._active = None
        job.state, job.message = "ERROR", "The engine stopped unexpectedly (exit code -9); it restarts on the next job."
        job.preview_image = ""
        select()

    def no_engine():
        job.state = "NONE"
        engine.status, engine.message = "ERROR", "No engine Python: set one in Preferences; or set PROCDREAM_ENGINE_PYTHON"
        session_mod.SESSION.last_crash = "The engine stopped unexpectedly; it restarts on the next job. Log: /x/engine.log"
        bpy.context.scene.procdream.paint.guidance = "analytic"

    def dataset_done():
        job.state, job.kind, job.step, job.total = "DONE", "Render dataset", 2, 2
        job.message, job.result_path = "gen_dataset: 1 scenes rendered", "/tmp/ds/preview.png"

    try:
        r["draws"] = draw_all({"idle": idle, "running": running, "error": error, "no_engine": no_engine,
                               "dataset_done": dataset_done})
    finally:
        tasks._active = None
        session_mod.SESSION.last_crash = ""


def scenario_bad_input(r):
    cube = bpy.data.objects["Cube"]
    r["before"] = fingerprint()
    checks = {}
    select()
    checks["no_selection_paint"] = call("paint_with_prompt", prompt="red", guidance="analytic")
    checks["no_selection_sketch"] = call("sketch_to_asset", prompt="red", guidance="analytic")
    empty = bpy.data.objects.new("Empty", None)
    bpy.context.scene.collection.objects.link(empty)
    r["before"] = fingerprint()  # the Empty is part of the scene from here on
    select(empty)
    checks["empty_selected"] = call("paint_with_prompt", prompt="red", guidance="analytic")
    select(cube)
    checks["empty_prompt"] = call("paint_with_prompt", prompt="   ", guidance="analytic")
    checks["no_model"] = call("paint_with_prompt", prompt="red", guidance="sd")
    checks["bad_texture_size"] = call("paint_with_prompt", prompt="red", guidance="analytic", texture_size=300)
    prefs().engine_mode = "REMOTE"
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens on this port now
    prefs().engine_url = f"http://127.0.0.1:{port}"
    prefs().engine_token = "x"
    checks["unreachable"] = call("paint_with_prompt", prompt="red", guidance="analytic", steps=10)
    prefs().engine_mode = "LOCAL"
    os.environ["PROCDREAM_ENGINE_PYTHON"] = "/no/such/python"
    checks["no_engine_python"] = call("paint_with_prompt", prompt="red", guidance="analytic", steps=10)
    broken = Path(os.environ["BLENDER_USER_RESOURCES"]) / "broken-python"
    broken.write_text("#!/bin/sh\necho 'ModuleNotFoundError: No module named torch' >&2\nexit 1\n")
    broken.chmod(0o755)
    os.environ["PROCDREAM_ENGINE_PYTHON"] = str(broken)
    checks["engine_start_failure"] = call("paint_with_prompt", prompt="red", guidance="analytic", steps=10)
    os.environ["PROCDREAM_ENGINE_PYTHON"] = ENGINE_PYTHON
    checks["no_output_dir"] = call("render_dataset")
    checks["bad_scene_binding"] = call("generate_scene", gin_params="terrain.no_such_field = 3")
    folder = Path(os.environ["BLENDER_USER_RESOURCES"]) / "offline-venv"
    checks["setup_offline"] = call("setup_engine", folder=str(folder))
    r["offline_folder_created"] = folder.exists()
    r["checks"] = checks
    r["after"] = fingerprint()


def scenario_dataset(r):
    out = Path(os.environ["BLENDER_USER_RESOURCES"]) / "dataset"
    r["run"] = call("render_dataset", output_dir=str(out), scene_type="meadow", scenes=1, frames=2,
                    resolution_x=64, resolution_y=48, samples=1, seed=0, gin_params="terrain.resolution = 64")
    r["files"] = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    r["scene_files"] = sorted(p.name for p in (out / "scene_000000").iterdir()) if (out / "scene_000000").is_dir() else []
    # Cancel: the modal path's task, stopped after it started.
    tasks, dataset_task = mod("tasks"), mod("dataset_task")
    out2 = Path(os.environ["BLENDER_USER_RESOURCES"]) / "dataset2"
    with override():
        ctx = bpy.context
        task = dataset_task.DatasetTask(out2, ["--scenes", "3", "--frames", "2", "--resolution", "64", "48",
                                               "--samples", "1"], 3, 2)
        tasks.begin(task, ctx, modal=True)
        pid = task.child.proc.pid
        time.sleep(1.0)
        task.tick(ctx)
        t0 = time.monotonic()
        tasks.cancel_active()
        done = False
        while not done and time.monotonic() - t0 < 30:
            done = task.tick(ctx)
        tasks.end(task)
        r["cancel_s"] = round(time.monotonic() - t0, 2)
        r["cancel_outcome"] = list(task.outcome or [])
        r["cancel_state"] = ctx.window_manager.procdream_job.state
        r["cancel_proc_gone"] = not Path(f"/proc/{pid}").exists() or \
            Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"


def scenario_setup(r):
    bpy.context.preferences.system.use_online_access = True
    r["online"] = bpy.app.online_access
    folder = Path(os.environ["BLENDER_USER_RESOURCES"]) / "venv-test"
    r["run"] = call("setup_engine", folder=str(folder), install_packages=False)
    r["engine_python"] = prefs().engine_python
    r["python_exists"] = (folder / "bin" / "python").exists()


SCENARIOS = {name[len("scenario_"):]: fn for name, fn in globals().items() if name.startswith("scenario_")}

try:
    enable()
    SCENARIOS[SCENARIO](result)
except Exception:
    result["traceback"] = traceback.format_exc()
finally:
    if MODULE in bpy.context.preferences.addons:
        try:
            bpy.ops.preferences.addon_disable(module=MODULE)
        except Exception:
            result.setdefault("traceback", traceback.format_exc())
    result["servers_at_exit"] = server_children()
print("RESULT " + json.dumps(result, default=str))
