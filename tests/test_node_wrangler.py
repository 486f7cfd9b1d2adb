"""NodeWrangler helpers build what they say, and the transpiled __main__ paths recreate
materials, worlds, node groups and modifiers under their original names."""

from __future__ import annotations

import runpy

import pytest

from procdream.procgen.nodes import NodeWrangler, NodeWranglerError, node_group
from procdream.procgen.transpiler import transpile

pytestmark = pytest.mark.compat  # also on the Blender LTS releases (tests/test_versions.py)


def test_inputs_accept_nodes_sockets_pairs_values_and_lists(bpy):
    tree = bpy.data.node_groups.new("t", "GeometryNodeTree")
    nw = NodeWrangler(tree)
    a = nw.new_node("value", outputs={0: 2.0})
    b = nw.math("MULTIPLY", a, 3.0)
    assert b.inputs[0].links[0].from_node == a and b.inputs[1].default_value == 3.0
    vec = nw.new_node("combine_xyz", input_kwargs={"X": (b, "Value"), "Y": b.outputs[0], "Z": 0.5})
    assert [s.is_linked for s in vec.inputs] == [True, True, False] and vec.inputs[2].default_value == 0.5
    join = nw.new_node("join_geometry", input_kwargs={"Geometry": [nw.new_node("GeometryNodeMeshCube"),
                                                                   nw.new_node("GeometryNodeMeshIcoSphere")]})
    assert [lk.from_node.bl_idname for lk in sorted(join.inputs[0].links, key=lambda lk: lk.multi_input_sort_id)] \
        == ["GeometryNodeMeshCube", "GeometryNodeMeshIcoSphere"]
    with pytest.raises(NodeWranglerError, match="no socket 'Scael'; available: 'Vector', 'Scale'"):
        nw.new_node("noise", input_kwargs={"Scael": 1.0})


def test_helpers(bpy):
    tree = bpy.data.node_groups.new("t", "GeometryNodeTree")
    nw = NodeWrangler(tree)
    pos = nw.new_node("position")
    sep = nw.new_node("separate_xyz", [pos])
    cmp = nw.compare("GREATER_THAN", (sep, "Z"), 0.5)
    assert (cmp.data_type, cmp.operation) == ("FLOAT", "GREATER_THAN")
    sw = nw.switch(cmp, 1.0, 2.0)
    assert sw.input_type == "FLOAT" and sw.inputs["Switch"].links[0].from_node == cmp
    cap = nw.capture(nw.new_node("GeometryNodeMeshGrid"), {"height": ("FLOAT", (sep, "Z"))}, domain="FACE")
    assert cap.domain == "FACE" and [i.name for i in cap.capture_items] == ["height"]
    ramp = nw.color_ramp(sw, [(0.2, (1, 0, 0, 1)), (0.5, (0, 1, 0, 1)), (0.9, (0, 0, 1, 1))], "CONSTANT")
    els = ramp.color_ramp.elements
    assert [round(e.position, 6) for e in els] == [0.2, 0.5, 0.9] and ramp.color_ramp.interpolation == "CONSTANT"
    curve = nw.float_curve(sw, [(0.0, 0.1), (0.5, 0.8), (1.0, 0.3)])
    assert [tuple(round(v, 6) for v in p.location) for p in curve.mapping.curves[0].points] == \
        [(0.0, 0.1), (0.5, 0.8), (1.0, 0.3)]
    sock = nw.expose_input("Height", "NodeSocketFloat", 1.5, min=0.0, max=10.0)
    item = tree.interface.items_tree["Height"]
    assert (item.default_value, item.min_value, item.max_value) == (1.5, 0.0, 10.0)
    assert sock.node.bl_idname == "NodeGroupInput" and nw.expose_input("Height") == sock  # added once
    assert nw.new_node("CompositorNodeMath", attrs={"operation": "POWER"}).bl_idname == "ShaderNodeMath"


def test_node_group_decorator_builds_once(bpy):
    @node_group("Doubler", "ShaderNodeTree")
    def doubler(nw):
        x = nw.expose_input("X")
        nw.nodes.new("NodeGroupOutput")
        nw.tree.interface.new_socket("Y", in_out="OUTPUT", socket_type="NodeSocketFloat")
        nw.connect(nw.math("MULTIPLY", x, 2.0), nw.nodes["Group Output"].inputs[0])

    mat = bpy.data.materials.new("m")
    nw = NodeWrangler(mat)
    g1, g2 = nw.group(doubler, {"X": 1.0}), nw.group(doubler, {"X": 2.0})
    assert g1.node_tree == g2.node_tree == bpy.data.node_groups["Doubler"]
    assert len([g for g in bpy.data.node_groups if g.name.startswith("Doubler")]) == 1


@pytest.mark.parametrize("kind", ["world", "node_group", "modifier", "compositor"])
def test_transpiled_main_recreates_under_the_original_name(bpy, tmp_path, kind):
    if kind == "world":
        target = bpy.data.worlds.new("Overcast")
        NodeWrangler(target).new_node("ShaderNodeTexSky", name="Sky")
    elif kind == "compositor":
        scene = bpy.context.scene
        if hasattr(scene, "compositing_node_group"):  # 5.0: a node group
            tree = bpy.data.node_groups.new("Scatter", "CompositorNodeTree")
            scene.compositing_node_group = tree
        else:  # 4.x: the scene's own tree
            scene.use_nodes = True
            tree = scene.node_tree
            tree.nodes.clear()
        NodeWrangler(tree).new_node("CompositorNodeBlur", name="Cube")
        target = scene
    else:
        tree = bpy.data.node_groups.new("Scatter", "GeometryNodeTree")
        NodeWrangler(tree).new_node("GeometryNodeMeshCube", name="Cube", input_kwargs={"Size": (2.0, 1.0, 1.0)})
        target = tree
        if kind == "modifier":
            obj = bpy.data.objects.new("Host", bpy.data.meshes.new("Host"))
            obj.modifiers.new("GeometryNodes", "NODES").node_group = tree
            target = obj
    path = tmp_path / "out.py"
    path.write_text(transpile(target))
    # The original is renamed so the rebuilt datablock can take its name (4.x's compositor is the
    # scene's own tree: it has no name of its own, and is rebuilt in place).
    if kind == "world":
        target.name = "old"
    elif not (kind == "compositor" and tree.is_embedded_data):
        tree.name = "old"
    runpy.run_path(str(path), run_name="__main__")
    if kind == "world":
        assert "Sky" in bpy.data.worlds["Overcast"].node_tree.nodes
    elif kind == "compositor":
        scene = bpy.context.scene
        if hasattr(scene, "compositing_node_group"):
            rebuilt = scene.compositing_node_group
            assert rebuilt.name == "Scatter"
        else:  # 4.x: the scene's own tree, rebuilt in place (4.2 and 4.5 even name it differently)
            rebuilt = scene.node_tree
            assert rebuilt.is_embedded_data
        assert [n.bl_idname for n in rebuilt.nodes] == ["CompositorNodeBlur"]
    else:
        rebuilt = bpy.data.node_groups["Scatter"]
        assert tuple(rebuilt.nodes["Cube"].inputs["Size"].default_value) == (2.0, 1.0, 1.0)
        if kind == "modifier":
            assert [m.node_group.name for m in bpy.data.objects["Host"].modifiers] == ["old", "Scatter"]
