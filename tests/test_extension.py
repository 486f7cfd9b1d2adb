"""The built extension zip validates, installs into bpy 5.0.1, registers and unregisters cleanly."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest

import build_extension
from conftest import ROOT, run_python

pytestmark = pytest.mark.compat  # also on the Blender LTS releases (tests/test_versions.py)


@pytest.fixture(scope="module")
def built_zip(tmp_path_factory) -> Path:
    return build_extension.build(tmp_path_factory.mktemp("dist"))


def test_zip_contents(built_zip):
    assert built_zip.name == "procdream-0.1.0.zip"
    names = zipfile.ZipFile(built_zip).namelist()
    assert "blender_manifest.toml" in names and "__init__.py" in names
    assert "addon/operators/check_engine.py" in names
    assert any(n.startswith("wheels/gin_config-") for n in names)
    assert any(n.startswith("wheels/openexr-") and "manylinux" in n for n in names)
    for excluded in ("tests/", ".venv/", "__pycache__/", ".git/", "dist/"):
        assert not any(excluded in n for n in names), excluded
    assert not any(n.endswith(".pyc") for n in names)


def test_unknown_wheel_name_is_a_clear_error(tmp_path):
    with pytest.raises(build_extension.BuildError, match="not a valid wheel file name"):
        build_extension.fetch_wheels(["./wheels/not-a-wheel.zip"], root=tmp_path)


def test_install_register_unregister(built_zip, tmp_path):
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "user"))
    env.pop("PROCDREAM_ENGINE_PYTHON", None)
    proc = run_python([str(ROOT / "tests/blender_scripts/install_extension.py"), str(built_zip)], env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    r = json.loads(lines[-1][len("RESULT "):])

    assert r["install"] == ["FINISHED"] and r["enabled"]
    assert r["before"]["registered"] == r["before"]["types"] == r["before"]["ops"] == []
    assert {"PROCDREAM_PT_engine", "PROCDREAM_OT_check_engine", "PROCDREAM_PG_engine_state",
            "PROCDREAM_AP_preferences"} <= set(r["during"]["registered"])
    assert {"PROCDREAM_PT_engine", "PROCDREAM_OT_check_engine"} <= set(r["during"]["types"])
    assert "check_engine" in r["during"]["ops"]
    assert "procdream_engine" in r["during"]["wm_props"]
    # The job operators, their panels and settings.
    assert {"paint_with_prompt", "sketch_to_asset", "generate_scene", "render_dataset", "cancel_job",
            "setup_engine", "copy_as_python"} <= set(r["during"]["ops"])
    assert {"PROCDREAM_PT_paint", "PROCDREAM_PT_sketch", "PROCDREAM_PT_procgen", "PROCDREAM_PT_dataset",
            "PROCDREAM_PG_job_state", "PROCDREAM_PG_settings", "PROCDREAM_PG_paint_settings"} <= \
        set(r["during"]["registered"])
    assert "procdream_job" in r["during"]["wm_props"] and "procdream" in r["during"]["scene_props"]
    assert r["panel_category"] == "ProcDream"
    assert r["prefs_class"] == "PROCDREAM_AP_preferences"
    # The bundled wheels were installed into the extension's own site-packages.
    assert "gin" in r["site_packages"] and any(n.startswith("OpenEXR") for n in r["site_packages"])

    assert "does not exist" in r["bad_python_error"] and "no-such-python" in r["bad_python_error"]
    assert r["bad_python_status"] == "ERROR"
    assert r["check"] == ["FINISHED"], r["check_state"]
    assert r["check_state"]["status"] == "OK" and r["check_state"]["device"] in ("cpu", "cuda")

    assert r["disabled"]
    assert r["after"] == r["before"], "disabling left classes, operators or properties behind"
    assert "gin" not in r["site_packages_after"]
