"""Stochastic shader generators, split like the geometry generators into sample/build.

    rng = np.random.default_rng(7)
    params = MATERIALS["rock"].sample_params(rng)   # a SurfaceParams, typed and range-checked
    material = MATERIALS["rock"].build(params)      # deterministic; or make("rock", rng)

Every kind shares one parameter layout and one graph builder; what makes each kind is its
recipe (recipes_*.py): the ranges its colours, patterns, relief and optics are drawn from.
"""

from __future__ import annotations

import bpy
import numpy as np

from .generator import MaterialGenerator
from .material_builder import build_material
from .recipe import HSV, SEED, Recipe, U, pattern
from .recipes_ground import RECIPES as _GROUND
from .recipes_more import RECIPES as _MORE
from .recipes_plants import RECIPES as _PLANTS
from .recipes_stone import RECIPES as _STONE
from .recipes_water import RECIPES as _WATER
from .surface_params import LeafShape, Optics, Palette, Params, Patches, Pattern, Relief, SurfaceParams

MATERIALS: dict[str, MaterialGenerator] = {
    recipe.kind: MaterialGenerator(recipe) for recipe in (*_GROUND, *_STONE, *_PLANTS, *_WATER, *_MORE)}


def make(kind: str, rng: np.random.Generator) -> bpy.types.Material:
    """Sample and build a material of ``kind``; ValueError names the known kinds."""
    generator = MATERIALS.get(kind)
    if generator is None:
        raise ValueError(f"unknown material kind {kind!r}; known kinds: {', '.join(sorted(MATERIALS))}")
    return generator.build(generator.sample_params(rng))


__all__ = ["HSV", "MATERIALS", "SEED", "LeafShape", "MaterialGenerator", "Optics", "Palette", "Params",
           "Patches", "Pattern", "Recipe", "Relief", "SurfaceParams", "U", "build_material", "make", "pattern"]
