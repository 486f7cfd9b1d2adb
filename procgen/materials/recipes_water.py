"""Recipes for water and ice: refractive, with absorption inside closed meshes.

Scales are features per metre on a surface whose up axis is object Z; colours are sRGB HSV boxes.
"""

from __future__ import annotations

from .recipe import HSV, Recipe, U, pattern

WATER = Recipe(
    kind="water",
    # Refraction carries the look; the base colour only tints transmitted light.
    palette={"low": HSV((0.50, 0.58), (0.10, 0.25), (0.80, 0.90)),
             "mid": HSV((0.50, 0.58), (0.05, 0.15), (0.90, 0.95)),
             "high": HSV((0.50, 0.58), (0.00, 0.05), (0.95, 1.00)),
             "mid_position": U(0.4, 0.6), "spread": U(0.3, 0.5), "micro_tint": U(0.0, 0.1)},
    # Wind ripples, longer across the wind than along it.
    macro=pattern("noise", scale=U(0.5, 2), detail=U(2, 4), distortion=U(0.5, 1.5), stretch=(1.0, 0.4, 1.0)),
    micro=pattern("noise", scale=U(5, 15), detail=U(2, 4)),
    relief={"macro_weight": U(0.5, 1.0), "micro_weight": U(0.3, 0.6), "bump_strength": U(0.05, 0.2),
            "bump_distance": U(0.01, 0.05)},
    # Clear to murky: absorption of 0.3 to 4 per metre, leaving green-blue.
    optics={"roughness": (U(0.0, 0.03), U(0.03, 0.08)), "ior": U(1.330, 1.334), "transmission": 1.0,
            "absorption_density": U(0.3, 4.0), "absorption_color": HSV((0.45, 0.55), (0.3, 0.6), (0.6, 0.85))},
)

ICE = Recipe(
    kind="ice",
    # Low tone is the cracks: frosty white. High tone is clear blue ice.
    palette={"low": HSV((0.52, 0.58), (0.00, 0.05), (0.95, 1.00)),
             "mid": HSV((0.52, 0.58), (0.08, 0.18), (0.85, 0.92)),
             "high": HSV((0.52, 0.58), (0.15, 0.30), (0.75, 0.85)),
             "mid_position": U(0.2, 0.4), "spread": U(0.15, 0.3), "micro_tint": U(0.05, 0.2)},
    macro=pattern("cracks", scale=U(2, 6), detail=U(0, 1), distortion=U(0.2, 0.6), sharpness=U(2, 4)),
    # Frost and trapped bubbles.
    micro=pattern("noise", scale=U(20, 60), detail=U(2, 4)),
    relief={"macro_weight": U(0.3, 0.6), "micro_weight": U(0.2, 0.4), "bump_strength": U(0.1, 0.3),
            "bump_distance": U(0.002, 0.01)},
    optics={"roughness": (U(0.3, 0.5), U(0.02, 0.08)), "ior": 1.31, "transmission": U(0.85, 1.0),
            "absorption_density": U(0.5, 3.0), "absorption_color": HSV((0.50, 0.56), (0.2, 0.45), (0.8, 0.95))},
)

RECIPES = (WATER, ICE)
