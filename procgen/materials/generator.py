"""One material kind as a generator: ``sample_params(rng)`` from its recipe, ``build(params)``."""

from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np

from .material_builder import build_material
from .recipe import Recipe
from .surface_params import SurfaceParams


@dataclass(frozen=True)
class MaterialGenerator:
    """Samples :class:`SurfaceParams` from ``recipe``; builds with the shared graph builder."""

    recipe: Recipe

    @property
    def kind(self) -> str:
        return self.recipe.kind

    def sample_params(self, rng: np.random.Generator) -> SurfaceParams:
        """All randomness comes from ``rng``: equal generator states give equal params."""
        return self.recipe.sample(rng)

    def build(self, params: SurfaceParams) -> bpy.types.Material:
        """A new material from ``params``; deterministic, raises ParamError for out-of-range fields."""
        return build_material(params)
