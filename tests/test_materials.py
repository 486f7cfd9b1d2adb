"""Material generators: every kind renders in Cycles, sampling is seeded, builds are
deterministic and range-checked, and the registry names its kinds."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from procdream.procgen.materials import MATERIALS, make
from procdream.procgen.params import ParamError, check
from procdream.procgen.transpiler import describe_tree

pytestmark = pytest.mark.compat  # also on the Blender LTS releases (tests/test_versions.py)

REQUIRED = {"grass", "dirt", "sand", "snow", "rock", "mud", "moss", "gravel",
            "bark", "leaf", "water", "ice", "lichen_stone"}
KINDS = sorted(MATERIALS)
#: Render grid: one sphere per material, CELL x CELL pixels each.
COLUMNS, CELL, SPACING = 6, 8, 2.5


def _tree(material) -> dict:
    desc = dataclasses.asdict(describe_tree(material.node_tree))
    desc.pop("name")
    return desc


def _render_scene(bpy, tmp_path, materials):
    scene = bpy.context.scene
    rows = math.ceil(len(materials) / COLUMNS)
    for i, material in enumerate(materials):
        column, row = i % COLUMNS, i // COLUMNS
        bpy.ops.mesh.primitive_uv_sphere_add(segments=16, ring_count=8, radius=1.0,
                                             location=(column * SPACING, 0.0, -row * SPACING))
        sphere = bpy.context.object
        sphere.modifiers.new("subdiv", "SUBSURF").render_levels = 1
        sphere.data.materials.append(material)
    bpy.ops.object.light_add(type="SUN", rotation=(0.6, 0.3, 0.0))
    # Side view: leaf cards are drawn in UV, and a sphere's equator shows the middle of the blade.
    bpy.ops.object.camera_add(location=((COLUMNS - 1) * SPACING / 2, -20.0, -(rows - 1) * SPACING / 2),
                              rotation=(math.pi / 2, 0.0, 0.0))
    camera = bpy.context.object
    camera.data.type = "ORTHO"
    camera.data.ortho_scale = COLUMNS * SPACING
    scene.camera = camera
    scene.world = bpy.data.worlds.new("sky")
    scene.world.color = (0.3, 0.4, 0.5)
    render = scene.render
    render.engine = "CYCLES"
    render.resolution_x, render.resolution_y, render.resolution_percentage = COLUMNS * CELL, rows * CELL, 100
    render.threads_mode, render.threads = "FIXED", 2
    render.image_settings.file_format = "OPEN_EXR"
    render.filepath = str(tmp_path / "materials.exr")
    scene.cycles.device = "CPU"
    scene.cycles.samples = 1
    scene.cycles.use_adaptive_sampling = False
    scene.cycles.use_denoising = False
    assert bpy.ops.render.render(write_still=True) == {"FINISHED"}
    image = bpy.data.images.load(render.filepath)
    pixels = np.empty(len(image.pixels), np.float32)
    image.pixels.foreach_get(pixels)
    # Blender images start at the bottom row; flip so row 0 of the grid is at the top.
    return pixels.reshape(rows * CELL, COLUMNS * CELL, 4)[::-1, :, :3]


def test_every_kind_renders_in_cycles(bpy, tmp_path):
    rng = np.random.default_rng(0)
    rgb = _render_scene(bpy, tmp_path, [make(kind, rng) for kind in KINDS])
    assert np.isfinite(rgb).all()
    for i, kind in enumerate(KINDS):
        row, column = divmod(i, COLUMNS)
        cell = rgb[row * CELL:(row + 1) * CELL, column * CELL:(column + 1) * CELL]
        assert cell.std() > 0.0, f"{kind}: its cell is one flat colour"


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_same_material_other_seed_other_params(bpy, kind):
    gen = MATERIALS[kind]
    a, b = gen.sample_params(np.random.default_rng(11)), gen.sample_params(np.random.default_rng(11))
    assert a == b
    assert gen.sample_params(np.random.default_rng(12)) != a
    first, second = gen.build(a), gen.build(b)
    assert first.name == kind and second.name.startswith(kind)
    assert _tree(first) == _tree(second)


def test_sampled_params_stay_in_their_ranges():
    for kind, gen in MATERIALS.items():
        for seed in range(20):
            params = gen.sample_params(np.random.default_rng(seed))
            assert params.kind == kind
            check(params)


def test_out_of_range_params_name_the_field(bpy):
    params = MATERIALS["rock"].sample_params(np.random.default_rng(0))
    bad_nested = dataclasses.replace(params, optics=dataclasses.replace(params.optics, roughness=(0.5, 1.5)))
    with pytest.raises(ParamError, match=r"Optics\.roughness"):
        MATERIALS["rock"].build(bad_nested)
    bad_colour = dataclasses.replace(params, palette=dataclasses.replace(params.palette, mid=(0.2, -0.1, 0.3)))
    with pytest.raises(ParamError, match=r"Palette\.mid"):
        MATERIALS["rock"].build(bad_colour)
    bad_kind = dataclasses.replace(params, macro=dataclasses.replace(params.macro, kind="plasma"))
    with pytest.raises(ParamError, match=r"Pattern\.kind"):
        MATERIALS["rock"].build(bad_kind)
    assert not bpy.data.materials, "a rejected build must not leave a material behind"


def test_registry_and_unknown_kind(bpy):
    assert len(MATERIALS) >= 16 and REQUIRED <= set(MATERIALS)
    with pytest.raises(ValueError, match="lava.*known kinds: .*grass.*water"):
        make("lava", np.random.default_rng(0))
