"""Ground cover: grass, flowers and small plants scattered on the terrain with geometry nodes.

Placement depends on slope, height and a noise density mask, all evaluated in a shared
geometry-nodes group (``procdream_scatter``). Each kind gets its own host object (so the
segmentation knows grass from flowers) whose evaluated geometry is instances only: nothing
is realised. Prototype meshes live in a collection that is not linked to the scene, so they
render only through their instances. Units: metres, densities per square metre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..nodes import NodeWrangler, node_group
from ..params import check, param
from .terrain import NEAR_ATTRIBUTE

KINDS = ("grass", "flower", "plant")
#: CoverLayer.mask -> the terrain face attribute that selects where instances may be distributed.
MASKS = {"near": NEAR_ATTRIBUTE, "view_near": "procdream_view_near", "view_far": "procdream_view_far"}
#: Distance (m) from a camera within which view masks count ground as seen.
MASK_DISTANCE_M = {"view_near": 20.0, "view_far": 70.0}
CATEGORY = {"grass": "grass", "flower": "flower", "plant": "plant"}


@dataclass
class CoverLayer:
    density_per_m2: float = param(2.0, 0.0, 400.0, "1/m^2", "instances per square metre before masking")
    max_slope_deg: float = param(32.0, 0.0, 90.0, "deg", "no cover on steeper ground")
    min_height_m: float = param(-1e4, -1e4, 1e4, "m", "no cover below this terrain height")
    max_height_m: float = param(1e4, -1e4, 1e4, "m", "no cover above this terrain height")
    mask_scale_m: float = param(6.0, 0.1, 1000.0, "m", "wavelength of the patchiness noise")
    mask_threshold: float = param(0.45, 0.0, 1.0, "", "noise above this keeps cover (higher = sparser)")
    scale_min: float = param(0.7, 0.01, 10.0, "", "smallest instance scale")
    scale_max: float = param(1.3, 0.01, 10.0, "", "largest instance scale")
    seed: int = param(0, 0, 2**31 - 1, "", "seed of the point distribution and mask")
    mask: str = param("view_far", choices=tuple(MASKS), doc="where on the terrain: the near grid, or the "
                      "ground some frame sees within 20 m (view_near) / 70 m (view_far)")


@dataclass
class GroundCoverParams:
    grass: CoverLayer = field(default_factory=lambda: CoverLayer(density_per_m2=6.0))
    flower: CoverLayer = field(default_factory=lambda: CoverLayer(density_per_m2=0.4, mask_threshold=0.55))
    plant: CoverLayer = field(default_factory=lambda: CoverLayer(density_per_m2=0.3, mask_threshold=0.5))
    blade_count: int = param(7, 1, 40, "", "blades per grass clump")
    blade_height_m: float = param(0.3, 0.02, 2.0, "m", "grass blade height")
    flower_height_m: float = param(0.35, 0.05, 2.0, "m", "flower stem height")
    plant_height_m: float = param(0.4, 0.05, 3.0, "m", "small plant height")
    shape_seed: int = param(0, 0, 2**31 - 1, "", "seed of the prototype shapes")


def sample_params(rng: np.random.Generator, density_scale: float = 1.0) -> GroundCoverParams:
    def layer(density, threshold):
        return CoverLayer(density_per_m2=float(density * density_scale * rng.uniform(0.6, 1.4)),
                          max_slope_deg=float(rng.uniform(25.0, 40.0)),
                          mask_scale_m=float(rng.uniform(3.0, 12.0)),
                          mask_threshold=float(np.clip(threshold + rng.normal(0, 0.04), 0, 1)),
                          scale_min=float(rng.uniform(0.6, 0.9)), scale_max=float(rng.uniform(1.1, 1.5)),
                          seed=int(rng.integers(0, 2**31 - 1)))

    return GroundCoverParams(grass=layer(6.0, 0.42), flower=layer(0.4, 0.55), plant=layer(0.3, 0.5),
                             blade_count=int(rng.integers(4, 10)),
                             blade_height_m=float(rng.uniform(0.15, 0.45)),
                             flower_height_m=float(rng.uniform(0.2, 0.5)),
                             plant_height_m=float(rng.uniform(0.2, 0.6)),
                             shape_seed=int(rng.integers(0, 2**31 - 1)))


# -- prototypes -----------------------------------------------------------------------------------

def _mesh(name, verts, faces, material):
    import bpy

    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata([tuple(map(float, v)) for v in verts], [], [tuple(f) for f in faces])
    mesh.validate()
    if material is not None:
        mesh.materials.append(material)
    return bpy.data.objects.new(name, mesh)


def grass_clump(params: GroundCoverParams, material=None):
    """Thin curved blades (two triangles each) leaning out from the origin."""
    rng = np.random.default_rng(params.shape_seed)  # explicit seed parameter, not global state
    verts, faces = [], []
    for _ in range(params.blade_count):
        ang = rng.uniform(0, 2 * math.pi)
        lean = rng.uniform(0.1, 0.5)
        h = params.blade_height_m * rng.uniform(0.7, 1.2)
        w = 0.012
        d = np.array([math.cos(ang), math.sin(ang), 0.0])
        side = np.array([-d[1], d[0], 0.0]) * w
        base = d * rng.uniform(0, 0.04)
        mid = base + d * lean * h * 0.4 + np.array([0, 0, h * 0.55])
        tip = base + d * lean * h + np.array([0, 0, h])
        i = len(verts)
        verts += [base - side, base + side, mid + side * 0.6, mid - side * 0.6, tip]
        faces += [(i, i + 1, i + 2, i + 3), (i + 3, i + 2, i + 4)]
    return _mesh("grass_clump", verts, faces, material)


def flower(params: GroundCoverParams, stem_material=None, petal_material=None):
    """A stem (thin quad) and a ring of petals at the top."""
    h = params.flower_height_m
    verts = [(-0.004, 0, 0), (0.004, 0, 0), (0.004, 0, h), (-0.004, 0, h)]
    faces = [(0, 1, 2, 3)]
    centre = len(verts)
    verts.append((0, 0, h + 0.005))
    n = 6
    for k in range(n):
        a0, a1 = 2 * math.pi * k / n, 2 * math.pi * (k + 0.5) / n
        r = h * 0.12
        verts += [(r * math.cos(a0), r * math.sin(a0), h), (1.3 * r * math.cos(a1), 1.3 * r * math.sin(a1), h + 0.01)]
    for k in range(n):
        a, b, c = centre + 1 + 2 * k, centre + 2 + 2 * k, centre + 1 + (2 * k + 2) % (2 * n)
        faces.append((centre, a, b, c))
    obj = _mesh("flower", verts, faces, stem_material)
    if petal_material is not None:
        obj.data.materials.append(petal_material)
        for poly in obj.data.polygons[1:]:
            poly.material_index = 1
    return obj


def small_plant(params: GroundCoverParams, material=None):
    """Three crossed leaf cards, the classic cheap bush."""
    h = params.plant_height_m
    verts, faces = [], []
    for k in range(3):
        a = math.pi * k / 3
        dx, dy = math.cos(a) * h * 0.4, math.sin(a) * h * 0.4
        i = len(verts)
        verts += [(-dx, -dy, 0), (dx, dy, 0), (dx * 1.3, dy * 1.3, h), (-dx * 1.3, -dy * 1.3, h)]
        faces.append((i, i + 1, i + 2, i + 3))
    return _mesh("small_plant", verts, faces, material)


# -- the scatter node group -------------------------------------------------------------------------

SCATTER_GROUP = "procdream_scatter"
SCATTER_INPUTS = (
    # (name, socket type, default)
    ("Terrain", "NodeSocketObject", None),
    ("Prototypes", "NodeSocketCollection", None),
    ("Density", "NodeSocketFloat", 1.0),
    ("Min Normal Z", "NodeSocketFloat", 0.8),
    ("Min Height", "NodeSocketFloat", -1e4),
    ("Max Height", "NodeSocketFloat", 1e4),
    ("Mask Scale", "NodeSocketFloat", 6.0),
    ("Mask Threshold", "NodeSocketFloat", 0.45),
    ("Scale Min", "NodeSocketFloat", 0.7),
    ("Scale Max", "NodeSocketFloat", 1.3),
    ("Seed", "NodeSocketInt", 0),
    ("Mask", "NodeSocketString", NEAR_ATTRIBUTE),
)


@node_group(SCATTER_GROUP, modifier=True)
def scatter_group(nw: NodeWrangler) -> None:
    """The shared geometry-nodes group; built once per file (call ``scatter_group()``)."""
    inp = {name: nw.expose_input(name, stype, default) for name, stype, default in SCATTER_INPUTS}
    terrain = nw.new_node("object_info", attrs={"transform_space": "RELATIVE"},
                          input_kwargs={"Object": inp["Terrain"]})
    normal_z = nw.new_node("separate_xyz", [nw.new_node("normal")]).outputs["Z"]
    height = nw.new_node("separate_xyz", [nw.new_node("position")]).outputs["Z"]
    mask_noise = nw.new_node("noise", input_kwargs={
        "Vector": nw.vector_math("DIVIDE", nw.new_node("position"), nw.new_node("combine_xyz", [
            inp["Mask Scale"], inp["Mask Scale"], inp["Mask Scale"]])),
        "W": nw.math("MULTIPLY", inp["Seed"], 1e-3)},
        attrs={"noise_dimensions": "4D"})
    keep = nw.new_node("FunctionNodeBooleanMath", [
        nw.compare("GREATER_EQUAL", normal_z, inp["Min Normal Z"]),
        nw.new_node("FunctionNodeBooleanMath", [
            nw.compare("GREATER_EQUAL", height, inp["Min Height"]),
            nw.compare("LESS_EQUAL", height, inp["Max Height"])], {"operation": "AND"})],
        {"operation": "AND"})
    keep = nw.new_node("FunctionNodeBooleanMath", [
        keep, nw.compare("GREATER_THAN", mask_noise.outputs["Fac"], inp["Mask Threshold"])],
        {"operation": "AND"})
    # Cover only on the terrain's near grid, and there only where the layer's mask is set; a missing
    # attribute does not restrict. Both, because a missing view mask must never open the 4 km far
    # field (6 grass clumps/m^2 there is 10^8 instances).
    for name in (NEAR_ATTRIBUTE, inp["Mask"]):
        attr = nw.new_node("named_attribute", attrs={"data_type": "FLOAT"}, input_kwargs={"Name": name})
        ok = nw.new_node("FunctionNodeBooleanMath", [
            nw.new_node("FunctionNodeBooleanMath", [(attr, "Exists")], {"operation": "NOT"}),
            nw.compare("GREATER_THAN", (attr, "Attribute"), 0.5)], {"operation": "OR"})
        keep = nw.new_node("FunctionNodeBooleanMath", [keep, ok], {"operation": "AND"})
    points = nw.new_node("distribute_points", attrs={"distribute_method": "RANDOM"}, input_kwargs={
        "Mesh": terrain.outputs["Geometry"], "Selection": keep, "Density": inp["Density"],
        "Seed": inp["Seed"]})
    protos = nw.new_node("collection_info", attrs={"transform_space": "ORIGINAL"}, input_kwargs={
        "Collection": inp["Prototypes"], "Separate Children": True, "Reset Children": True})
    # Random Value's inputs by index: 2/3 = float min/max, 4/5 = int min/max.
    pick = nw.new_node("random_value", attrs={"data_type": "INT"}, input_kwargs={
        4: 0, 5: 1000, "Seed": nw.math("ADD", inp["Seed"], 1.0)})
    yaw = nw.new_node("random_value", attrs={"data_type": "FLOAT"}, input_kwargs={
        2: 0.0, 3: 2 * math.pi, "Seed": nw.math("ADD", inp["Seed"], 2.0)})
    scale = nw.new_node("random_value", attrs={"data_type": "FLOAT"}, input_kwargs={
        2: inp["Scale Min"], 3: inp["Scale Max"], "Seed": nw.math("ADD", inp["Seed"], 3.0)})
    instances = nw.new_node("instance_on_points", input_kwargs={
        "Points": points.outputs["Points"], "Instance": protos, "Pick Instance": True,
        "Instance Index": _random_output(pick),
        "Rotation": nw.new_node("combine_xyz", [0.0, 0.0, _random_output(yaw)]),
        "Scale": _random_output(scale)})
    nw.connect(instances, nw.new_node("group_output").inputs[0])


def _random_output(node):
    """Random Value has one output per data type; pick the enabled one."""
    return next(s for s in node.outputs if s.enabled)


def scatter_host(name: str, category: str, layer: CoverLayer, prototypes: list, terrain_obj, collection=None):
    """An object whose evaluated geometry is ``layer``'s instances of ``prototypes`` on the terrain.

    The prototypes go into a collection that is not linked to the scene, so they render only
    through their instances.
    """
    import bpy

    from ...render_gt.labels import set_label

    check(layer)
    proto_coll = bpy.data.collections.new(f"{name}_prototypes")
    for obj in prototypes:
        if obj.users_collection:
            for c in obj.users_collection:
                c.objects.unlink(obj)
        proto_coll.objects.link(obj)
    host = bpy.data.objects.new(name, bpy.data.meshes.new(name))
    (collection or bpy.context.scene.collection).objects.link(host)
    group = scatter_group()
    mod = host.modifiers.new("scatter", "NODES")
    mod.node_group = group
    values = {"Terrain": terrain_obj, "Prototypes": proto_coll, "Density": layer.density_per_m2,
              "Min Normal Z": math.cos(math.radians(layer.max_slope_deg)),
              "Min Height": layer.min_height_m, "Max Height": layer.max_height_m,
              "Mask Scale": layer.mask_scale_m, "Mask Threshold": layer.mask_threshold,
              "Scale Min": layer.scale_min, "Scale Max": layer.scale_max, "Seed": layer.seed,
              "Mask": MASKS[layer.mask]}
    for item in group.interface.items_tree:
        if getattr(item, "in_out", None) == "INPUT" and item.name in values:
            mod[item.identifier] = values[item.name]
    set_label(host, category)
    return host


def build(params: GroundCoverParams, terrain_obj, materials: dict | None = None, collection=None) -> list:
    """One host object per kind with its scatter modifier; returns the hosts."""
    check(params)
    materials = materials or {}
    protos = {
        "grass": [grass_clump(params, materials.get("grass"))],
        "flower": [flower(params, materials.get("grass"), materials.get("petal"))],
        "plant": [small_plant(params, materials.get("leaf"))],
    }
    hosts = []
    for kind in KINDS:
        layer: CoverLayer = getattr(params, kind)
        if layer.density_per_m2 <= 0:
            continue
        hosts.append(scatter_host(f"{kind}_cover", CATEGORY[kind], layer, protos[kind], terrain_obj, collection))
    return hosts
