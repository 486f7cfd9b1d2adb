"""Child process: install the built zip into a fresh bpy, enable, exercise, disable; print JSON.

Run with BLENDER_USER_RESOURCES set to an empty folder, so nothing touches the real profile.
"""

import json
import os
import sys

import bpy

zip_path = sys.argv[1]
module = "bl_ext.user_default.procdream"
site = os.path.join(os.environ["BLENDER_USER_RESOURCES"], "extensions", ".local", "lib",
                    f"python{sys.version_info[0]}.{sys.version_info[1]}", "site-packages")


def registered_classes():
    # PropertyGroups and AddonPreferences are not listed in bpy.types, so ask each base class.
    bases = (bpy.types.Operator, bpy.types.Panel, bpy.types.PropertyGroup, bpy.types.AddonPreferences,
             bpy.types.Menu, bpy.types.UIList)
    return sorted(cls.__name__ for base in bases for cls in base.__subclasses__()
                  if "procdream" in cls.__module__ and cls.is_registered)


def snapshot():
    return {
        "registered": registered_classes(),
        "types": sorted(name for name in dir(bpy.types) if "PROCDREAM" in name.upper()),
        "all_types": len(dir(bpy.types)),
        "wm_props": sorted(bpy.types.WindowManager.bl_rna.properties.keys()),
        "scene_props": sorted(bpy.types.Scene.bl_rna.properties.keys()),
        "object_props": sorted(bpy.types.Object.bl_rna.properties.keys()),
        "ops": sorted(dir(bpy.ops.procdream)),
    }


result = {"before": snapshot()}
ret = bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
result["install"] = sorted(ret)
result["enabled"] = module in bpy.context.preferences.addons.keys()
result["during"] = snapshot()
result["site_packages"] = sorted(os.listdir(site)) if os.path.isdir(site) else []
result["panel_category"] = bpy.types.PROCDREAM_PT_engine.bl_category \
    if hasattr(bpy.types, "PROCDREAM_PT_engine") else None
result["prefs_class"] = type(bpy.context.preferences.addons[module].preferences).__name__ \
    if result["enabled"] else None

# Background mode: the operator runs synchronously and raises with the message on failure.
os.environ["PROCDREAM_ENGINE_PYTHON"] = os.path.join(os.environ["BLENDER_USER_RESOURCES"], "no-such-python")
try:
    bpy.ops.procdream.check_engine()
    result["bad_python_error"] = None
except RuntimeError as exc:
    result["bad_python_error"] = str(exc)
result["bad_python_status"] = bpy.context.window_manager.procdream_engine.status

# The LTS test venvs have no torch: the tests name .venv's Python (see tests/conftest.py).
os.environ["PROCDREAM_ENGINE_PYTHON"] = os.environ.get("PROCDREAM_TEST_ENGINE_PYTHON") or sys.executable
result["check"] = sorted(bpy.ops.procdream.check_engine())
state = bpy.context.window_manager.procdream_engine
result["check_state"] = {"status": state.status, "device": state.device, "message": state.message}

bpy.ops.preferences.addon_disable(module=module)
result["disabled"] = module not in bpy.context.preferences.addons.keys()
result["after"] = snapshot()
result["site_packages_after"] = sorted(os.listdir(site)) if os.path.isdir(site) else []
print("RESULT " + json.dumps(result))
