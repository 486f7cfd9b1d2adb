"""Recipes for stone: rock, lichen-covered stone, gravel, pebbles.

Scales are features per metre of object space; colours are sRGB HSV boxes.
"""

from __future__ import annotations

import dataclasses

from .recipe import HSV, Recipe, U, pattern

ROCK = Recipe(
    kind="rock",
    palette={"low": HSV((0.05, 0.12), (0.03, 0.12), (0.12, 0.20)),
             "mid": HSV((0.05, 0.12), (0.03, 0.10), (0.28, 0.38)),
             "high": HSV((0.05, 0.12), (0.02, 0.08), (0.45, 0.58)),
             "mid_position": U(0.4, 0.6), "spread": U(0.3, 0.5), "micro_tint": U(0.3, 0.5)},
    # Creased, faceted strata.
    macro=pattern("ridged", scale=U(0.8, 2.5), detail=U(5, 8), roughness=U(0.5, 0.65), distortion=U(0.3, 1.0),
                  sharpness=U(1.5, 3)),
    micro=pattern("noise", scale=U(15, 40), detail=U(3, 6), roughness=U(0.55, 0.7)),
    relief={"macro_weight": U(0.7, 1.0), "micro_weight": U(0.2, 0.5), "bump_strength": U(0.4, 0.7),
            "bump_distance": U(0.02, 0.05), "displacement": U(0.05, 0.15)},
    optics={"roughness": (U(0.65, 0.8), U(0.8, 0.95)), "specular": U(0.4, 0.5)},
    # Weathering stains in the hollows.
    patches={"pattern": pattern("noise", scale=U(0.5, 1.5), detail=U(3, 5)),
             "color": HSV((0.08, 0.14), (0.1, 0.2), (0.10, 0.16)), "coverage": U(0.1, 0.3),
             "softness": U(0.05, 0.12), "roughness": U(0.85, 0.95), "height": U(-0.1, 0.0)},
)

# Rock under crisp-edged lichen rosettes, yellow-green to orange, standing a little proud.
LICHEN_STONE = dataclasses.replace(
    ROCK, kind="lichen_stone",
    patches={"pattern": pattern("noise", scale=U(2, 6), detail=U(3, 5), distortion=U(1, 3)),
             "color": HSV((0.09, 0.20), (0.45, 0.70), (0.45, 0.65)), "coverage": U(0.2, 0.5),
             "softness": U(0.005, 0.02), "roughness": U(0.85, 0.95), "height": U(0.05, 0.15)},
)

GRAVEL = Recipe(
    kind="gravel",
    palette={"low": HSV((0.05, 0.12), (0.05, 0.20), (0.12, 0.20)),
             "mid": HSV((0.05, 0.12), (0.05, 0.18), (0.30, 0.40)),
             "high": HSV((0.05, 0.12), (0.03, 0.15), (0.50, 0.65)),
             "mid_position": U(0.4, 0.6), "spread": U(0.35, 0.5), "micro_tint": U(0.2, 0.4)},
    # Flat-topped, angular chips; each takes its own tone.
    macro=pattern("cells", scale=U(15, 35), detail=U(0, 1), distortion=U(0.1, 0.4), sharpness=U(0.4, 0.7)),
    micro=pattern("noise", scale=U(100, 250), detail=U(2, 4)),
    relief={"macro_weight": 1.0, "micro_weight": U(0.1, 0.3), "bump_strength": U(0.5, 0.8),
            "bump_distance": U(0.005, 0.015), "displacement": U(0.01, 0.03)},
    optics={"roughness": (U(0.6, 0.75), U(0.75, 0.9))},
)

PEBBLES = Recipe(
    kind="pebbles",
    palette={"low": HSV((0.04, 0.14), (0.10, 0.30), (0.15, 0.25)),
             "mid": HSV((0.04, 0.14), (0.08, 0.25), (0.35, 0.50)),
             "high": HSV((0.04, 0.14), (0.05, 0.20), (0.60, 0.80)),
             "mid_position": U(0.4, 0.6), "spread": U(0.4, 0.6), "micro_tint": U(0.1, 0.3)},
    # River-worn: round domes, fewer and larger than gravel.
    macro=pattern("cells", scale=U(4, 10), detail=0.0, distortion=U(0.05, 0.2), sharpness=U(0.3, 0.5)),
    micro=pattern("noise", scale=U(40, 100), detail=U(2, 4)),
    relief={"macro_weight": 1.0, "micro_weight": U(0.1, 0.2), "bump_strength": U(0.4, 0.7),
            "bump_distance": U(0.01, 0.03), "displacement": U(0.02, 0.06)},
    optics={"roughness": (U(0.35, 0.5), U(0.5, 0.7)), "coat": U(0.0, 0.2)},
)

RECIPES = (ROCK, LICHEN_STONE, GRAVEL, PEBBLES)
