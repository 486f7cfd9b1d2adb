"""Where the Blender 4.2/4.5 and 5.0 APIs differ for scene building, in one module, each with its reason."""

from __future__ import annotations


def node_tree(block):
    """The node tree of a material or world. Blender 5.0 gives every new one a tree; 4.x makes it
    only when ``use_nodes`` is switched on (with the same default nodes)."""
    if block.node_tree is None:
        block.use_nodes = True
    return block.node_tree


def _enum_ids(struct_type, prop: str) -> set[str]:
    return {i.identifier for i in struct_type.bl_rna.properties[prop].enum_items}


def physical_sky_type() -> str:
    """Blender 5.0 renamed the Nishita sky: SINGLE_SCATTERING is the old model, MULTIPLE_SCATTERING
    the new one; 4.x calls it NISHITA."""
    import bpy

    items = _enum_ids(bpy.types.ShaderNodeTexSky, "sky_type")
    return "MULTIPLE_SCATTERING" if "MULTIPLE_SCATTERING" in items else "NISHITA"


def sky_aerosol_attr() -> str:
    """Blender 5.0 renamed the sky's ``dust_density`` to ``aerosol_density``."""
    import bpy

    props = bpy.types.ShaderNodeTexSky.bl_rna.properties
    return "aerosol_density" if "aerosol_density" in props else "dust_density"


def set_agx(view_settings, contrast: str) -> str:
    """AgX view transform with the look named ``contrast`` (e.g. "Medium High Contrast"); returns the
    look set. 4.x prefixes look names with the view ("AgX - Medium High Contrast"), 5.0 lists them
    unprefixed; the look enum is filled per view transform, so names are tried on the instance."""
    view_settings.view_transform = "AgX"
    for name in (f"AgX - {contrast}", contrast):
        try:
            view_settings.look = name
            return name
        except TypeError:
            continue
    view_settings.look = "None"
    return "None"


def adaptive_subdivision(obj, scene, pixel_size: float, max_level: int) -> None:
    """Cycles dices ``obj`` at render time until its edges span about ``pixel_size`` pixels from the
    camera (never more than ``max_level`` halvings), so the material's true displacement has
    vertices to move near the camera and stays coarse far away. A SIMPLE subdivision keeps the
    surface where the mesh is, so what stands on the terrain still stands on it.

    Blender 5.0 made adaptive subdivision a supported setting of the Subdivision Surface modifier;
    4.x keeps it on the object's Cycles settings behind the experimental feature set."""
    modifier = obj.modifiers.new("adaptive_subdivision", "SUBSURF")
    modifier.subdivision_type = "SIMPLE"
    # Levels 0: the viewport, exports and every other object that reads this one (scatter
    # through Object Info) see the coarse mesh; only Cycles dices it.
    modifier.levels = modifier.render_levels = 0
    scene.cycles.max_subdivisions = max_level
    if hasattr(modifier, "use_adaptive_subdivision"):
        modifier.use_adaptive_subdivision = True
        modifier.adaptive_space = "PIXEL"
        modifier.adaptive_pixel_size = pixel_size
    else:
        scene.cycles.feature_set = "EXPERIMENTAL"
        obj.cycles.use_adaptive_subdivision = True
        obj.cycles.dicing_rate = pixel_size
