"""Recipes added for richer biomes: ground (cracked earth, forest floor, wet sand, fresh snow, straw),
stone (sandstone, cobble), plants (cactus skin, mushroom cap, dry and autumn leaf litter, fern,
birch bark) and sea water.

Scales are features per metre of object space (cards: per card); colours are sRGB HSV boxes.
"""

from __future__ import annotations

import dataclasses

from .recipe import HSV, Recipe, U, pattern
from .recipes_ground import DIRT, SAND, SNOW
from .recipes_plants import BARK, LEAF
from .recipes_water import WATER

CRACKED_GROUND = Recipe(
    kind="cracked_ground",
    palette={"low": HSV((0.06, 0.10), (0.30, 0.50), (0.12, 0.20)),
             "mid": HSV((0.07, 0.11), (0.25, 0.40), (0.40, 0.50)),
             "high": HSV((0.08, 0.12), (0.20, 0.35), (0.55, 0.68)),
             "mid_position": U(0.3, 0.45), "spread": U(0.2, 0.35), "micro_tint": U(0.2, 0.4)},
    # Dried mud plates split by a network of cracks.
    macro=pattern("cracks", scale=U(2, 5), detail=U(0, 1), distortion=U(0.1, 0.4), sharpness=U(2, 4)),
    micro=pattern("noise", scale=U(40, 120), detail=U(2, 4)),
    relief={"macro_weight": 1.0, "micro_weight": U(0.2, 0.4), "bump_strength": U(0.5, 0.9),
            "bump_distance": U(0.01, 0.03), "displacement": U(0.01, 0.03)},
    optics={"roughness": (U(0.85, 0.92), U(0.9, 1.0)), "specular": U(0.2, 0.4)},
)

FOREST_FLOOR = dataclasses.replace(
    DIRT, kind="forest_floor",
    # Needle-and-leaf duff over dark soil.
    patches={"pattern": pattern("noise", scale=U(1, 3), detail=U(3, 5), distortion=U(0.5, 1.5)),
             "color": HSV((0.07, 0.11), (0.5, 0.7), (0.25, 0.4)), "coverage": U(0.4, 0.7),
             "softness": U(0.02, 0.06), "roughness": U(0.8, 0.9), "height": U(0.0, 0.1)},
)

WET_SAND = dataclasses.replace(
    SAND, kind="wet_sand",
    palette={"low": HSV((0.08, 0.11), (0.35, 0.50), (0.25, 0.33)),
             "mid": HSV((0.09, 0.12), (0.30, 0.45), (0.35, 0.45)),
             "high": HSV((0.10, 0.13), (0.25, 0.40), (0.45, 0.55)),
             "mid_position": U(0.4, 0.6), "spread": U(0.3, 0.5), "micro_tint": U(0.1, 0.3)},
    optics={"roughness": (U(0.2, 0.35), U(0.35, 0.5)), "specular": U(0.5, 0.7), "coat": U(0.2, 0.5)},
)

FRESH_SNOW = dataclasses.replace(
    SNOW, kind="fresh_snow",
    macro=pattern("noise", scale=U(0.2, 0.8), detail=U(2, 4), roughness=U(0.4, 0.55)),
)

STRAW = Recipe(
    kind="straw",
    palette={"low": HSV((0.09, 0.12), (0.45, 0.60), (0.25, 0.35)),
             "mid": HSV((0.10, 0.13), (0.40, 0.55), (0.50, 0.62)),
             "high": HSV((0.11, 0.14), (0.30, 0.45), (0.68, 0.80)),
             "mid_position": U(0.4, 0.6), "spread": U(0.3, 0.5), "micro_tint": U(0.2, 0.4)},
    macro=pattern("noise", scale=U(2, 6), detail=U(2, 4)),
    micro=pattern("noise", scale=U(40, 120), detail=U(1, 3), stretch=(1.0, 0.1, 1.0)),
    relief={"macro_weight": U(0.1, 0.2), "micro_weight": U(0.2, 0.4), "bump_strength": U(0.1, 0.3),
            "bump_distance": U(0.001, 0.003)},
    optics={"roughness": (U(0.5, 0.65), U(0.65, 0.8)), "sheen": U(0.1, 0.3), "translucency": U(0.2, 0.4)},
)

SANDSTONE = Recipe(
    kind="sandstone",
    palette={"low": HSV((0.03, 0.07), (0.45, 0.65), (0.40, 0.50)),
             "mid": HSV((0.04, 0.08), (0.40, 0.60), (0.52, 0.62)),
             "high": HSV((0.05, 0.09), (0.30, 0.50), (0.62, 0.72)),
             "mid_position": U(0.4, 0.6), "spread": U(0.3, 0.5), "micro_tint": U(0.2, 0.4)},
    # Horizontal strata: bands along object Z.
    # Horizontal strata 2-7 m apart, wavy and broken by distortion, in close tones.
    macro=pattern("waves", scale=U(0.15, 0.5), detail=U(2, 4), roughness=U(0.5, 0.65), distortion=U(2, 5),
                  sharpness=U(0.5, 1.2), stretch=(0.05, 0.05, 1.0)),
    micro=pattern("noise", scale=U(30, 80), detail=U(3, 5)),
    relief={"macro_weight": U(0.6, 0.9), "micro_weight": U(0.3, 0.5), "bump_strength": U(0.3, 0.6),
            "bump_distance": U(0.01, 0.04), "displacement": U(0.02, 0.08)},
    optics={"roughness": (U(0.75, 0.85), U(0.85, 0.95)), "specular": U(0.3, 0.5)},
)

COBBLE = Recipe(
    kind="cobble",
    palette={"low": HSV((0.05, 0.12), (0.05, 0.15), (0.10, 0.16)),
             "mid": HSV((0.05, 0.12), (0.05, 0.15), (0.28, 0.38)),
             "high": HSV((0.05, 0.12), (0.03, 0.12), (0.45, 0.58)),
             "mid_position": U(0.45, 0.6), "spread": U(0.3, 0.45), "micro_tint": U(0.2, 0.4)},
    # Rounded stones fist- to head-sized, dark joints between them.
    macro=pattern("cells", scale=U(3, 7), detail=0.0, distortion=U(0.05, 0.25), sharpness=U(0.5, 0.9)),
    micro=pattern("noise", scale=U(30, 80), detail=U(2, 4)),
    relief={"macro_weight": 1.0, "micro_weight": U(0.1, 0.3), "bump_strength": U(0.5, 0.8),
            "bump_distance": U(0.02, 0.05), "displacement": U(0.03, 0.08)},
    optics={"roughness": (U(0.5, 0.65), U(0.65, 0.85))},
)

CACTUS = Recipe(
    kind="cactus",
    palette={"low": HSV((0.25, 0.33), (0.45, 0.65), (0.10, 0.18)),
             "mid": HSV((0.24, 0.32), (0.40, 0.60), (0.22, 0.32)),
             "high": HSV((0.20, 0.28), (0.30, 0.50), (0.35, 0.48)),
             "mid_position": U(0.4, 0.6), "spread": U(0.3, 0.5), "micro_tint": U(0.3, 0.5)},
    macro=pattern("noise", scale=U(2, 6), detail=U(2, 4)),
    # Areoles: small bright spine clusters in rows.
    micro=pattern("cells", scale=U(25, 60), detail=0.0, sharpness=U(1.5, 3)),
    relief={"macro_weight": U(0.2, 0.4), "micro_weight": U(0.4, 0.7), "bump_strength": U(0.3, 0.6),
            "bump_distance": U(0.002, 0.006)},
    # Waxy skin.
    optics={"roughness": (U(0.35, 0.5), U(0.5, 0.65)), "coat": U(0.1, 0.3), "specular": U(0.4, 0.6)},
)

MUSHROOM = Recipe(
    kind="mushroom",
    palette={"low": HSV((0.02, 0.09), (0.40, 0.80), (0.25, 0.45)),
             "mid": HSV((0.03, 0.10), (0.30, 0.70), (0.50, 0.70)),
             "high": HSV((0.05, 0.12), (0.10, 0.30), (0.80, 0.92)),
             "mid_position": U(0.4, 0.6), "spread": U(0.3, 0.5), "micro_tint": U(0.1, 0.3)},
    macro=pattern("cells", scale=U(20, 60), detail=0.0, sharpness=U(0.5, 1.0)),
    micro=pattern("noise", scale=U(100, 300), detail=U(1, 3)),
    relief={"macro_weight": U(0.2, 0.4), "micro_weight": U(0.1, 0.3), "bump_strength": U(0.1, 0.3),
            "bump_distance": U(0.001, 0.003)},
    optics={"roughness": (U(0.4, 0.55), U(0.55, 0.7)), "subsurface": U(0.05, 0.2),
            "subsurface_radius": (1.0, 0.7, 0.5), "subsurface_scale": U(0.002, 0.006)},
)

DRY_LEAF = dataclasses.replace(
    LEAF, kind="dry_leaf",
    palette={"low": HSV((0.04, 0.09), (0.55, 0.80), (0.15, 0.25)),
             "mid": HSV((0.05, 0.10), (0.50, 0.75), (0.30, 0.42)),
             "high": HSV((0.07, 0.12), (0.40, 0.65), (0.45, 0.58)),
             "mid_position": U(0.4, 0.6), "spread": U(0.3, 0.5), "micro_tint": U(0.2, 0.4)},
    optics={"roughness": (U(0.6, 0.75), U(0.75, 0.9)), "specular": U(0.2, 0.4), "translucency": U(0.1, 0.3)},
)

AUTUMN_LEAF = dataclasses.replace(
    LEAF, kind="autumn_leaf",
    # Yellow through orange to red.
    palette={"low": HSV((0.98, 1.08), (0.70, 0.90), (0.30, 0.45)),
             "mid": HSV((1.00, 1.11), (0.65, 0.90), (0.55, 0.70)),
             "high": HSV((1.03, 1.14), (0.55, 0.80), (0.75, 0.90)),
             "mid_position": U(0.4, 0.6), "spread": U(0.3, 0.5), "micro_tint": U(0.1, 0.3)},
)

FERN = dataclasses.replace(
    LEAF, kind="fern",
    # Narrow leaflets, bright yellow-green.
    palette={"low": HSV((0.22, 0.28), (0.70, 0.90), (0.15, 0.25)),
             "mid": HSV((0.20, 0.26), (0.65, 0.85), (0.32, 0.45)),
             "high": HSV((0.18, 0.24), (0.55, 0.75), (0.50, 0.62)),
             "mid_position": U(0.4, 0.6), "spread": U(0.3, 0.5), "micro_tint": U(0.1, 0.3)},
    leaf={"width": U(0.18, 0.28), "base_taper": U(0.3, 0.7), "tip_taper": U(0.8, 1.5),
          "edge_softness": U(0.005, 0.015), "rib_width": U(0.01, 0.02), "vein_density": U(4, 8),
          "vein_angle": U(0.5, 0.9), "vein_strength": U(0.1, 0.3), "gradient": U(0.1, 0.3)},
)

BIRCH_BARK = dataclasses.replace(
    BARK, kind="birch_bark",
    # White bark with dark horizontal lenticels.
    palette={"low": HSV((0.06, 0.10), (0.05, 0.15), (0.10, 0.18)),
             "mid": HSV((0.08, 0.12), (0.02, 0.08), (0.75, 0.85)),
             "high": HSV((0.08, 0.12), (0.00, 0.05), (0.88, 0.96)),
             "mid_position": U(0.25, 0.35), "spread": U(0.1, 0.2), "micro_tint": U(0.1, 0.2)},
    macro=pattern("noise", scale=U(4, 10), detail=U(3, 5), stretch=(1.0, 1.0, 6.0)),
)

SEA_WATER = dataclasses.replace(
    WATER, kind="sea_water",
    # Deeper blue, more absorbing, larger swell.
    macro=pattern("waves", scale=U(0.2, 0.6), detail=U(2, 4), distortion=U(1, 3), sharpness=U(0.5, 1.0)),
    optics={"roughness": (U(0.0, 0.03), U(0.03, 0.08)), "ior": U(1.333, 1.340), "transmission": 1.0,
            "absorption_density": U(1.0, 6.0), "absorption_color": HSV((0.52, 0.60), (0.4, 0.7), (0.5, 0.8))},
)

RECIPES = (CRACKED_GROUND, FOREST_FLOOR, WET_SAND, FRESH_SNOW, STRAW, SANDSTONE, COBBLE, CACTUS, MUSHROOM,
           DRY_LEAF, AUTUMN_LEAF, FERN, BIRCH_BARK, SEA_WATER)
