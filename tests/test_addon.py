"""The add-on registers in-process (the bpy-module case) and its engine lookup names problems."""

from __future__ import annotations

import sys

import pytest

pytestmark = pytest.mark.compat  # also on the Blender LTS releases (tests/test_versions.py)


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
    assert not hasattr(bpy.types.WindowManager, "procdream_job")
    assert not hasattr(bpy.types.Scene, "procdream")
    assert not any("procdream" in getattr(h, "__module__", "") for h in bpy.app.handlers.load_pre)


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
    if engine_python._has_engine_packages():
        # .venv has the engine extra, so the bpy-module case falls back to it.
        assert engine_python.resolve("") == (sys.executable, "this Python")
    else:  # an LTS test venv: no torch here, and nothing configured
        with pytest.raises(engine_python.EngineConfigError, match="No engine Python"):
            engine_python.resolve("")
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


def _cube(bpy, name="Cube", **kwargs):
    bpy.ops.mesh.primitive_cube_add(**kwargs)
    obj = bpy.context.object
    obj.name = name
    return obj


def test_mesh_export_reads_the_evaluated_mesh_without_touching_it(bpy):
    import numpy as np

    from procdream.addon.mesh_export import MeshExportError, export_object, join

    cube = _cube(bpy, location=(1.0, 2.0, 3.0))
    meshes_before = len(bpy.data.meshes)
    out = export_object(cube, bpy.context.evaluated_depsgraph_get())
    assert out.positions.dtype == np.float32 and out.positions.shape == (8, 3)
    assert np.allclose(out.positions.mean(axis=0), (1, 2, 3))  # world space
    assert out.faces.shape == (12, 3) and out.corner_loops.shape == (12, 3) and out.uv_faces.shape == (12, 3, 2)
    assert out.same_topology and out.uv_map == "UVMap" and out.n_loops == 24
    # Every corner's loop belongs to the vertex of that corner.
    loop_verts = np.array([lp.vertex_index for lp in cube.data.loops])
    assert (loop_verts[out.corner_loops] == out.faces).all()
    # Faces point outwards (from the centre).
    tri = out.positions[out.faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    assert ((normal * (tri.mean(axis=1) - (1, 2, 3))).sum(axis=1) > 0).all()

    # A mirroring transform keeps them outward; a subdivision modifier changes the topology.
    cube.scale = (-1.0, 1.0, 1.0)
    cube.modifiers.new("subsurf", "SUBSURF").levels = 1
    out = export_object(cube, bpy.context.evaluated_depsgraph_get())
    tri = out.positions[out.faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    assert ((normal * (tri.mean(axis=1) - out.positions.mean(axis=0))).sum(axis=1) > 0).all()
    assert not out.same_topology and out.faces.shape[0] == 48
    assert len(cube.data.vertices) == 8 and len(bpy.data.meshes) == meshes_before  # nothing added or applied

    other = _cube(bpy, name="Other", location=(5.0, 0.0, 0.0))
    joined = join([export_object(o, bpy.context.evaluated_depsgraph_get()) for o in (cube, other)])
    assert joined.faces.max() == joined.positions.shape[0] - 1 and joined.faces[48:].min() == out.positions.shape[0]

    empty = bpy.data.objects.new("Empty", None)
    with pytest.raises(MeshExportError, match=r"'Empty' is not a mesh \(it is empty\)"):
        export_object(empty, bpy.context.evaluated_depsgraph_get())


def test_new_uvs_go_to_a_new_uv_map_and_conflicts_are_counted(bpy):
    import numpy as np

    from procdream.addon.results import fill_uv_map

    bpy.ops.mesh.primitive_plane_add()
    mesh = bpy.context.object.data
    mesh.calc_loop_triangles()
    corner_loops = np.array([t.loops[:] for t in mesh.loop_triangles])  # 2 triangles share 2 loops
    uvs = np.random.default_rng(0).random((2, 3, 2)).astype(np.float32)
    name, conflicts = fill_uv_map(mesh, corner_loops, uvs)
    assert name == "ProcDream UV" and conflicts == 2 and mesh.uv_layers.keys() == ["UVMap", "ProcDream UV"]
    got = np.array([d.vector[:] for d in mesh.uv_layers[name].uv])
    assert np.allclose(got[corner_loops[0]], uvs[0])  # the first triangle's UVs win
    # Consistent UVs: no conflict.
    same = got[corner_loops].astype(np.float32)
    assert fill_uv_map(mesh, corner_loops, same)[1] == 0
