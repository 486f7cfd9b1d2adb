"""Rock and tree generators: deterministic builds (in one process and across fresh ones),
closed manifold rocks of the documented size distribution, trees with instanced (never
realised) leaves at the requested height, and named range errors."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from conftest import run_python
from procdream.procgen.generators import rocks, trees
from procdream.procgen.generators.leaf_instances import ROTATION_ATTR, SCALE_ATTR
from procdream.procgen.params import ParamError, geometry_hash
from procdream.render_gt import compat
from procdream.render_gt.labels import category_of

pytestmark = pytest.mark.compat  # also on the Blender LTS releases (tests/test_versions.py)

KINDS = ("rock", "boulder", *trees.SPECIES)


def build(kind: str, seed: int) -> list:
    """The objects of one generated asset of ``kind`` from ``seed``."""
    rng = np.random.default_rng(seed)
    if kind == "rock":
        return [rocks.build(rocks.sample_params(rng))]
    if kind == "boulder":
        return [rocks.build(rocks.sample_boulder_params(rng))]
    return trees.build(trees.sample_params(rng, kind)).objects


def digest(objects) -> str:
    """geometry_hash plus the instancers' per-point rotation and scale, which it does not cover."""
    h = hashlib.sha256(geometry_hash(objects).encode())
    for obj in sorted(objects, key=lambda o: o.name):
        for name in (ROTATION_ATTR, SCALE_ATTR):
            attr = obj.data.attributes.get(name)
            if attr is not None:
                values = np.empty(len(attr.data) * (4 if attr.data_type == "QUATERNION" else 1), np.float32)
                attr.data.foreach_get("value", values)
                h.update(values.tobytes())
    return h.hexdigest()


def hashes(seed: int) -> dict[str, str]:
    """Digest of every kind built from ``seed``, each from a factory-reset Blender."""
    import bpy

    out = {}
    for kind in KINDS:
        bpy.ops.wm.read_factory_settings(use_empty=True)
        out[kind] = digest(build(kind, seed))
    return out


_CHILD = ("import json, sys; sys.path.insert(0, 'tests'); import test_rocks_trees as t; "
          "print(json.dumps(t.hashes(7)))")


def test_builds_are_deterministic_within_and_across_processes(bpy):
    first, again, other = hashes(7), hashes(7), hashes(8)
    assert first == again
    assert all(first[k] != other[k] for k in KINDS), "different seeds gave the same geometry"
    for _ in range(2):
        proc = run_python(["-c", _CHILD], timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert json.loads(proc.stdout.strip().splitlines()[-1]) == first


def _face_areas(mesh) -> np.ndarray:
    areas = np.empty(len(mesh.polygons))
    mesh.polygons.foreach_get("area", areas)
    return areas


def test_rocks_are_closed_manifold_and_sized(bpy):
    import bmesh

    rng = np.random.default_rng(0)
    params = [rocks.sample_params(rng) for _ in range(10)]
    params += [rocks.sample_boulder_params(rng) for _ in range(2)]
    # Every knob at its limit: the stages must still keep the mesh closed and non-degenerate.
    params.append(rocks.RockParams(subdivisions=2, n_extrusions=30, extrusion_radius_deg=60.0,
                                   extrusion_depth=0.5, smoothing=10, roughness=0.1, displacement=0.6,
                                   n_facets=12, flatten_bottom=0.5))
    for p in params:
        obj = rocks.build(p)
        bm = bmesh.new()
        bm.from_mesh(obj.data)
        assert all(len(e.link_faces) == 2 and e.is_manifold for e in bm.edges), p
        assert all(v.is_manifold for v in bm.verts), p
        bm.free()
        assert _face_areas(obj.data).min() > 1e-10, p
        assert len(obj.data.polygons) > 20 * 4 ** (p.subdivisions - 1), "no extrusion took effect"
        lo, hi = np.array(obj.bound_box).min(axis=0), np.array(obj.bound_box).max(axis=0)
        assert (hi - lo).max() == pytest.approx(p.size_m, rel=1e-4)
        assert lo[2] == pytest.approx(0.0, abs=1e-6) and np.allclose(lo[:2] + hi[:2], 0.0, atol=1e-5)
        assert category_of(obj) == "rock"


def test_rock_sizes_follow_the_documented_lognormals():
    rng = np.random.default_rng(1)
    sizes = np.array([rocks.sample_params(rng).size_m for _ in range(400)])
    assert ((sizes >= rocks.ROCK_SIZE_RANGE_M[0]) & (sizes <= rocks.ROCK_SIZE_RANGE_M[1])).all()
    assert np.median(sizes) == pytest.approx(rocks.ROCK_SIZE_MEDIAN_M, rel=0.15)
    assert np.log(sizes).std() == pytest.approx(rocks.ROCK_SIZE_SIGMA, rel=0.2)
    boulders = np.array([rocks.sample_boulder_params(rng).size_m for _ in range(50)])
    assert np.median(boulders) == pytest.approx(rocks.BOULDER_SIZE_MEDIAN_M, rel=0.2)
    assert boulders.min() >= rocks.BOULDER_SIZE_RANGE_M[0]


def _leaf_top_z(tree: trees.Tree, transforms: list) -> float:
    """Highest z over all instanced leaf cards (world space; the leaves object has no offset)."""
    card = np.array([v.co for v in tree.leaf_card.data.vertices] + [(0, 0, 0)])
    card = np.hstack([card, np.ones((len(card), 1))])
    transforms = np.array(transforms)
    return float((transforms[:, 2, :] @ card.T).max())


@pytest.mark.parametrize("species", trees.SPECIES)
def test_trees_have_instanced_leaves_and_the_requested_height(bpy, species):
    import mathutils

    rng = np.random.default_rng(2)
    for _ in range(2):
        p = trees.sample_params(rng, species)
        tree = trees.build(p)
        assert _face_areas(tree.trunk.data).min() > 1e-10
        assert category_of(tree.trunk) == ("plant" if species == "shrub" else "tree")
        corners = np.array([tree.trunk.matrix_world @ mathutils.Vector(c) for c in tree.trunk.bound_box])
        bottom, top = corners[:, 2].min(), corners[:, 2].max()
        assert abs(bottom) < 0.02 * p.height_m
        if species == "dead":
            assert tree.leaves is None and tree.leaf_card is None
            assert top - bottom == pytest.approx(p.height_m, rel=0.1)
            continue
        assert tree.leaf_card.hide_render and len(tree.leaf_card.data.polygons) <= 4
        depsgraph = bpy.context.evaluated_depsgraph_get()
        transforms = compat.top_level_instance_transforms(tree.leaves, depsgraph)
        assert len(transforms) == len(tree.leaves.data.vertices) > 0
        evaluated = tree.leaves.evaluated_get(depsgraph)
        if hasattr(evaluated, "evaluated_geometry"):  # 4.4+ can say what is instanced
            geometry = evaluated.evaluated_geometry()
            # Instances stay instances: nothing realised into the leaves object's own mesh.
            assert geometry.mesh is None or len(geometry.mesh.polygons) == 0
            assert [r.name for r in geometry.instance_references()] == [tree.leaf_card.name]
        top = max(top, _leaf_top_z(tree, transforms))
        assert top - bottom == pytest.approx(p.height_m, rel=0.1)


def test_leaf_instances_use_the_stored_rotation_and_scale(bpy):
    import mathutils

    tree = trees.build(trees.sample_params(np.random.default_rng(3), "broadleaf"))
    mesh = tree.leaves.data
    transforms = compat.top_level_instance_transforms(tree.leaves, bpy.context.evaluated_depsgraph_get())
    for i in (0, len(mesh.vertices) - 1):
        s = mesh.attributes[SCALE_ATTR].data[i].value
        rotation = mathutils.Quaternion(mesh.attributes[ROTATION_ATTR].data[i].value)
        expected = mathutils.Matrix.LocRotScale(mesh.vertices[i].co, rotation, (s, s, s))
        assert np.allclose(np.array(transforms[i]), np.array(expected), atol=1e-5)


@pytest.mark.parametrize(("make", "field"), [
    (lambda: rocks.build(rocks.RockParams(size_m=-1.0)), "size_m"),
    (lambda: rocks.build(rocks.RockParams(elongation=(1.0, 0.05, 1.0))), "elongation"),
    (lambda: rocks.build(rocks.RockParams(n_extrusions=100)), "n_extrusions"),
    (lambda: trees.build(trees.TreeParams(species="palm")), "species"),
    (lambda: trees.build(trees.TreeParams(levels=7)), "levels"),
    (lambda: trees.build(trees.TreeParams(branches_per_level=(6, 4, 99))), "branches_per_level"),
    (lambda: trees.build(trees.TreeParams(branches_per_level=(6, 4))), "branches_per_level"),
    (lambda: trees.build(trees.TreeParams(height_m=0.0)), "height_m"),
    (lambda: trees.sample_params(np.random.default_rng(0), "palm"), "species"),
])
def test_out_of_range_params_name_the_field(bpy, make, field):
    with pytest.raises(ParamError, match=field):
        make()
    assert len(bpy.data.objects) == 0
