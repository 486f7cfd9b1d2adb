"""The job operators of the INSTALLED extension, end to end: Paint with prompt against a real engine
process, Sketch to asset, procedural scenes, datasets, engine crashes, cancel, clean unregister,
panel drawing in every state, and bad input.

Each test runs one scenario of tests/blender_scripts/addon_jobs.py in a fresh child Python with the
bpy module, under a temporary BLENDER_USER_RESOURCES shared by this module (the first child installs
the zip built from this checkout, later ones enable it, so the engine's numba cache is reused).
Operators run in background mode, i.e. synchronously; the modal path's task is driven tick by tick
the way the timer drives it.
"""

from __future__ import annotations

import ast
import json
import os
import tomllib
from pathlib import Path

import numpy as np
import pytest

import build_extension
from conftest import ENGINE_PYTHON, ROOT, run_python

pytestmark = pytest.mark.slow
# Every scenario but the real engine's sketch (engine-side, no Blender in it) also runs on the LTS
# releases, with .venv's Python as the engine (conftest.ENGINE_PYTHON).

#: One thread per process: on shared 2-core machines, torch's and numba's thread pools fighting other
#: processes made the engine's steps up to 10x slower.
THREADS = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def built_zip(tmp_path_factory) -> Path:
    return build_extension.build(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def user_resources(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("user")


@pytest.fixture
def scenario(built_zip, user_resources):
    def run(name: str, timeout: float = 300) -> dict:
        env = dict(os.environ, BLENDER_USER_RESOURCES=str(user_resources), PROCDREAM_ENGINE_PYTHON=ENGINE_PYTHON,
                   **THREADS)
        proc = run_python([str(ROOT / "tests/blender_scripts/addon_jobs.py"), str(built_zip), name], env=env,
                          timeout=timeout)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
        r = json.loads(lines[-1][len("RESULT "):])
        assert "traceback" not in r, r["traceback"] + "\n" + proc.stderr[-3000:]
        # Every scenario ends by disabling the extension: no engine may outlive it.
        assert r["servers_at_exit"] == [], r
        return r

    return run


@pytest.mark.compat
def test_paint_with_prompt_adds_a_material_and_changes_nothing_else(scenario):
    r = scenario("paint")
    assert r["paint"].get("ret") == ["FINISHED"], r["paint"]
    assert r["paint"]["state"] == "DONE" and "ProcDream: red" in r["paint"]["message"]
    assert r["material"] == "ProcDream: red"
    red, green, blue = r["image_mean"]
    assert red > 0.8 and green < 0.2 and blue < 0.2, r["image_mean"]
    assert r["base_color_linked"] and r["image_packed"]
    # The old material stays, in the file and in the slot list; every face uses the new one.
    assert r["old_material_in_data"] and r["slots"] == [r["old_material"], "ProcDream: red"]
    assert r["face_material_indices"] == [1]
    assert r["mesh_unchanged"]
    # The cube has UVs: they were used, and the material reads that map.
    assert r["uv_node"] == ["UVMap"]
    rec = r["object_record"]
    assert rec == r["material_record"]
    assert rec["prompt"] == "red" and rec["seed"] == 0 and rec["guidance"] == "analytic" and rec["steps"] == 800
    assert "model" in rec and rec["result"]["test_prior"] and rec["result"]["steps"] == 800
    assert rec["engine_job"]["kind"] == "paint" and rec["settings"]["lr"] == pytest.approx(0.05)
    # Texture saved under the extension's user directory, preview shown while it ran.
    assert "/extensions/.user/user_default/procdream" in r["user_dir"]
    assert any(name.startswith("red_") for name in r["textures"])
    assert r["preview_exists"] and r["paint"]["preview_image"] == "ProcDream Preview"

    # Two selected meshes are queued; the one without UVs gets a "ProcDream UV" map.
    q = r["queue"]
    assert q.get("ret") == ["FINISHED"] and "2 objects done" in q["message"], q
    assert r["cube_materials_after_queue"] == [r["old_material"], "ProcDream: red", "ProcDream: blue"]
    # Names stay unique: the cube's blue material came first.
    assert r["ico_uv_maps"] == ["ProcDream UV"] and r["ico_materials"] == ["ProcDream: blue.001"]
    assert r["ico_uv_node"] == ["ProcDream UV"] and r["ico_mesh_unchanged"]
    assert 0.0 <= r["ico_uv_range"][0] < r["ico_uv_range"][1] <= 1.0


@pytest.mark.compat
def test_sketch_to_asset_imports_the_result_where_the_sketch_was(scenario):
    r = scenario("sketch_fake")
    assert r["sketch"].get("ret") == ["FINISHED"], r["sketch"]
    # The stand-in's params schema is smaller than the real job's: what it does not know is left out.
    assert "does not take: mesh_resolution, preview_every, refine_steps" in r["sketch"]["message"]
    assert r["new_types"] == ["MESH"] and r["collections"] == [["ProcDream"]]
    assert r["new_objects"] == ["ProcDream: a green mushroom"]
    (lo, hi), (slo, shi) = r["new_bounds"], r["sketch_bounds"]
    # The stand-in returns the sketch itself (glTF Y-up); the importer turns it back to Blender's Z-up.
    assert max(abs(a - b) for a, b in zip(lo + hi, slo + shi, strict=True)) < 1e-3, (r["new_bounds"], r["sketch_bounds"])
    assert r["record"]["prompt"] == "a green mushroom" and r["record"]["result"]["fake"]
    assert r["record"]["settings"]["sketch_objects"] == ["Cube", "SketchSphere"]
    assert r["materials"] == ["ProcDream: a green mushroom"] and r["sources_unchanged"]


def test_sketch_to_asset_with_the_real_engine(scenario):
    r = scenario("sketch_real")
    probe = r["kinds_probe"]
    assert probe.get("ret") == ["FINISHED"], probe  # the engine serves the built-in "sketch" kind
    assert any(name.startswith("ProcDream: a red mushroom") for name in r["objects"])
    assert r["new_collections"] and all(c == ["ProcDream"] for c in r["new_collections"])
    # Near the sketch: the result's box overlaps the sketch's, and is not much larger than it.
    (lo, hi), (slo, shi) = (np.array(b) for b in r["new_bounds"]), (np.array(b) for b in r["sketch_bounds"])
    size = shi - slo
    assert (lo < shi).all() and (hi > slo).all(), (r["new_bounds"], r["sketch_bounds"])
    assert (lo > slo - 0.5 * size).all() and (hi < shi + 0.5 * size).all(), (r["new_bounds"], r["sketch_bounds"])
    assert r["record"]["prompt"] == "a red mushroom" and r["record"]["result"]


@pytest.mark.compat
def test_generate_scene_builds_a_new_scene_and_keeps_the_current_one(scenario):
    r = scenario("scene")
    assert "error" in r["bad"] and "bad scene settings" in r["bad"]["error"], r["bad"]
    assert r["scenes_after_bad"] == [r["original_name"]]
    assert r["gen"].get("ret") == ["FINISHED"], r["gen"]
    assert r["active_scene"] == "ProcDream meadow 3" and r["active_scene"] in r["scenes"]
    assert r["camera"] and "CAMERA" in r["new_types"] and any(n.startswith("terrain") for n in r["new_objects"])
    assert r["frames"] == [1, 2]
    assert r["original_objects_after"] == r["original_objects_before"] == ["Camera", "Cube", "Light"]


@pytest.mark.compat
def test_engine_crash_is_reported_and_the_next_job_restarts_it(scenario):
    r = scenario("crash")
    assert r["killed_pid"], "the job never reached step 2"
    err = r["long"].get("error", "")
    assert "stopped unexpectedly" in err and "restarts on the next job" in err and "Log: " in err, r["long"]
    assert r["long"]["state"] == "ERROR" and r["crash_log_exists"]
    assert "ProcDream: red" not in r["materials_after_crash"]
    assert r["next"].get("ret") == ["FINISHED"], r["next"]
    assert r["new_pid"] and r["new_pid"] != r["killed_pid"]
    assert r["materials_after_next"][-1] == "ProcDream: red"


@pytest.mark.compat
def test_cancel_reaches_the_engine_quickly(scenario):
    r = scenario("cancel")
    # Synchronous operator, cancelled from another thread: no exception, CANCELLED, the engine job cancelled.
    assert r["sync"].get("ret") == ["CANCELLED"] and r["sync"]["state"] == "CANCELLED", r["sync"]
    assert r["sync_engine_state"] == "cancelled" and r["sync_stop_s"] < 10
    assert r["materials_after_sync"] == ["Material"]
    # Modal path: threaded engine start, then the Cancel operator.
    assert r["starting_state"] == "STARTING"
    assert r["modal_step"] >= 3 and r["modal_poll_state"] == "RUNNING", r
    assert r["cancel_op"] == ["FINISHED"]
    assert r["modal_engine_state"] == "cancelled" and r["modal_state"] == "CANCELLED"
    assert r["modal_outcome"][0] == "WARNING" and "cancelled" in r["modal_outcome"][1]
    assert r["modal_stop_s"] < 10
    assert "No ProcDream job is running" in r["cancel_idle"]


@pytest.mark.compat
def test_disabling_stops_the_running_job_and_leaves_nothing_behind(scenario):
    r = scenario("unregister")
    assert r["phase_before_disable"] == "running" and r["servers_before"] == 1
    assert r["handlers_before"] == 1
    assert r["disabled"]
    assert r["servers_after"] == [] and r["engine_pid_after"] is None and not r["engine_still_answers"]
    assert not r["tasks_active"] and not r["tasks_timer"] and r["children_left"] == 0
    assert r["handlers_after"] == [] and r["wm_props"] == [] and r["scene_props"] == []
    assert r["types_left"] == [] and r["ops_left"] == []


def _labels(draw: dict) -> list[str]:
    return [c[-1] for c in draw["calls"] if c[0] == "label"]


@pytest.mark.compat
def test_panels_draw_in_every_state(scenario):
    r = scenario("ui")
    assert r["bl_category"] == ["ProcDream"]
    failures = {k: v["error"] for k, v in r["draws"].items() if not v["ok"]}
    assert failures == {}, "\n".join(f"{k}:\n{v}" for k, v in failures.items())
    d = r["draws"]
    ops = {k: [c[1] for c in v["calls"] if c[0] == "operator"] for k, v in d.items()}
    assert "procdream.paint_with_prompt" in ops["idle/PROCDREAM_PT_paint"]
    assert "procdream.sketch_to_asset" in ops["idle/PROCDREAM_PT_sketch"]
    assert "procdream.generate_scene" in ops["idle/PROCDREAM_PT_procgen"]
    assert "procdream.render_dataset" in ops["idle/PROCDREAM_PT_dataset"]
    assert "1 mesh selected (one job each)" in _labels(d["idle/PROCDREAM_PT_paint"])
    # Running: state, object i/n, progress, ETA, preview, Cancel.
    running = d["running/PROCDREAM_PT_paint"]
    labels = _labels(running)
    assert "Running: Paint with prompt" in labels and "Object 1/2: Cube" in labels and "ETA 1 min 15 s" in labels
    assert ("progress", "Step 120 / 800") in [tuple(c) for c in running["calls"]]
    assert any(c[0] in ("template_icon", "label") and ("template_icon" == c[0] or "Preview" in c[-1])
               for c in running["calls"])
    assert "procdream.cancel_job" in ops["running/PROCDREAM_PT_paint"]
    assert "procdream.cancel_job" not in ops["running/PROCDREAM_PT_sketch"]
    # Error: the message is shown; no Cancel.
    err = _labels(d["error/PROCDREAM_PT_paint"])
    assert "Error: Paint with prompt" in err and any("stopped unexpectedly" in x for x in err)
    assert "procdream.cancel_job" not in ops["error/PROCDREAM_PT_paint"]
    assert "Select one or more mesh objects" in err
    # No engine: the engine panel says what to do and offers the setup.
    engine = _labels(d["no_engine/PROCDREAM_PT_engine"])
    assert "Problem" in engine and any("No engine Python" in x for x in engine)
    assert "it restarts on the next job. Log: /x/engine.log" in " ".join(engine)
    assert "procdream.setup_engine" in ops["no_engine/PROCDREAM_PT_engine"]
    assert "Test prior: flat colours only, not a model" in _labels(d["no_engine/PROCDREAM_PT_paint"])
    assert "/tmp/ds/preview.png" in _labels(d["dataset_done/PROCDREAM_PT_dataset"])


@pytest.mark.compat
def test_bad_input_is_explained_and_changes_nothing(scenario):
    r = scenario("bad_input")
    c = r["checks"]
    expected = {
        "no_selection_paint": "Nothing is selected: select a mesh object",
        "no_selection_sketch": "Nothing is selected: select a mesh object",
        "empty_selected": "works on mesh objects; the selection (Empty (empty)) has none",
        "empty_prompt": "The prompt is empty",
        "no_model": "set a model in Preferences > Add-ons > ProcDream, or choose the analytic test prior",
        "bad_texture_size": "texture size 300 is not one of",
        "unreachable": "not reachable",
        "no_engine_python": "does not exist: /no/such/python",
        "engine_start_failure": "The engine did not start",
        "no_output_dir": "Set an output folder",
        "bad_scene_binding": "bad scene settings",
        "setup_offline": "Online access is off",
    }
    for name, text in expected.items():
        assert text in c[name].get("error", ""), (name, c[name])
    assert "Check Engine URL and Token" in c["unreachable"]["error"]
    # The engine log's last lines are part of the message.
    assert "No module named torch" in c["engine_start_failure"]["error"]
    assert "Allow Online Access" in c["setup_offline"]["error"] and "-m venv" in c["setup_offline"]["error"]
    assert not r["offline_folder_created"]
    assert r["after"] == r["before"]


@pytest.mark.compat
def test_render_dataset_runs_reports_and_cancels(scenario):
    r = scenario("dataset")
    run = r["run"]
    assert run.get("ret") == ["FINISHED"] and run["state"] == "DONE", run
    assert "contact sheet" in run["message"] and run["message"].rstrip().endswith("preview.png")
    assert run["step"] == run["total"] == 2
    assert run["preview_image"] == "ProcDream Preview" and run["result_path"].endswith("preview.png")
    assert {"dataset.json", "preview.png", "scene_000000"} <= set(r["files"])
    assert {"scene.json", "frame_0001", "frame_0002"} <= set(r["scene_files"])
    assert r["cancel_state"] == "CANCELLED" and r["cancel_outcome"][0] == "WARNING"
    assert r["cancel_proc_gone"] and r["cancel_s"] < 10


@pytest.mark.compat
def test_setup_engine_makes_a_venv_and_uses_it(scenario):
    r = scenario("setup")
    assert r["online"]
    assert r["run"].get("ret") == ["FINISHED"] and r["run"]["state"] == "DONE", r["run"]
    assert r["python_exists"] and r["engine_python"].endswith("venv-test/bin/python")


def _tuple_constant(path: Path, name: str) -> tuple:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} not found in {path}")


def test_constants_mirror_their_sources():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert list(_tuple_constant(ROOT / "addon/engine_setup.py", "ENGINE_REQUIREMENTS")) == extras["engine"]
    assert _tuple_constant(ROOT / "addon/properties.py", "SCENE_TYPES") == \
        _tuple_constant(ROOT / "procgen/scenes.py", "SCENE_TYPES")
