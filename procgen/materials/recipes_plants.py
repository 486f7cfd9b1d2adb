"""Recipes for plants: bark, leaf and petal cards, pine needles.

Bark and needles assume their long axis is object Z. Leaf and petal are drawn on a card's UVs
(U across, V from stem to tip), so their scales are features per card.
"""

from __future__ import annotations

from .recipe import HSV, Recipe, U, pattern

BARK = Recipe(
    kind="bark",
    palette={"low": HSV((0.05, 0.09), (0.30, 0.50), (0.06, 0.10)),
             "mid": HSV((0.05, 0.09), (0.25, 0.45), (0.15, 0.22)),
             "high": HSV((0.06, 0.10), (0.15, 0.35), (0.28, 0.38)),
             "mid_position": U(0.4, 0.6), "spread": U(0.3, 0.5), "micro_tint": U(0.3, 0.5)},
    # Vertical fissures: ridges stretched along the trunk.
    macro=pattern("ridged", scale=U(3, 8), detail=U(4, 6), roughness=U(0.55, 0.7), distortion=U(0.5, 1.5),
                  sharpness=U(1.5, 3), stretch=(1.0, 1.0, 0.12)),
    micro=pattern("noise", scale=U(30, 80), detail=U(3, 5), stretch=(1.0, 1.0, 0.3)),
    relief={"macro_weight": 1.0, "micro_weight": U(0.3, 0.5), "bump_strength": U(0.5, 0.8),
            "bump_distance": U(0.01, 0.03), "displacement": U(0.01, 0.04)},
    optics={"roughness": (U(0.8, 0.9), U(0.9, 0.98)), "specular": U(0.3, 0.5)},
    # Green algae and moss streaks, from none to a quarter of the trunk.
    patches={"pattern": pattern("noise", scale=U(0.8, 2), detail=U(3, 5), stretch=(1.0, 1.0, 0.5)),
             "color": HSV((0.18, 0.25), (0.4, 0.6), (0.20, 0.35)), "coverage": U(0.0, 0.25),
             "softness": U(0.05, 0.12), "roughness": U(0.85, 0.95), "height": U(0.0, 0.1)},
)

LEAF = Recipe(
    kind="leaf",
    palette={"low": HSV((0.22, 0.32), (0.70, 0.90), (0.15, 0.25)),
             "mid": HSV((0.20, 0.30), (0.65, 0.85), (0.30, 0.42)),
             "high": HSV((0.17, 0.26), (0.50, 0.75), (0.45, 0.60)),
             "mid_position": U(0.4, 0.6), "spread": U(0.3, 0.5), "micro_tint": U(0.1, 0.3)},
    macro=pattern("noise", scale=U(2, 5), detail=U(2, 4)),
    micro=pattern("noise", scale=U(30, 80), detail=U(1, 3)),
    relief={"macro_weight": U(0.1, 0.2), "micro_weight": U(0.2, 0.4), "bump_strength": U(0.1, 0.3),
            "bump_distance": U(0.001, 0.003)},
    optics={"roughness": (U(0.35, 0.5), U(0.5, 0.65)), "specular": U(0.4, 0.6), "coat": U(0.0, 0.2),
            "translucency": U(0.25, 0.5)},
    leaf={"width": U(0.28, 0.42), "base_taper": U(0.6, 1.2), "tip_taper": U(0.9, 1.8),
          "edge_softness": U(0.005, 0.015), "rib_width": U(0.01, 0.025), "vein_density": U(6, 12),
          "vein_angle": U(0.4, 0.9), "vein_strength": U(0.2, 0.5), "gradient": U(0.1, 0.3)},
)

PETAL = Recipe(
    kind="petal",
    # Purple through pink and red to orange; deep at the stem, pale at the rim.
    palette={"low": HSV((0.75, 1.12), (0.60, 0.90), (0.45, 0.60)),
             "mid": HSV((0.77, 1.14), (0.40, 0.70), (0.70, 0.85)),
             "high": HSV((0.79, 1.16), (0.10, 0.35), (0.90, 1.00)),
             "mid_position": U(0.4, 0.6), "spread": U(0.3, 0.5), "micro_tint": U(0.1, 0.25)},
    macro=pattern("noise", scale=U(2, 4), detail=U(2, 3)),
    # Fine streaks running from stem to tip stand in for veins, which leaf cards draw slanted.
    micro=pattern("noise", scale=U(40, 90), detail=U(1, 2), stretch=(1.0, 0.08, 1.0)),
    relief={"macro_weight": U(0.1, 0.3), "micro_weight": U(0.2, 0.4), "bump_strength": U(0.05, 0.2),
            "bump_distance": U(0.001, 0.003)},
    optics={"roughness": (U(0.4, 0.55), U(0.5, 0.7)), "sheen": U(0.3, 0.6), "translucency": U(0.35, 0.6)},
    leaf={"width": U(0.4, 0.5), "base_taper": U(1.2, 2.5), "tip_taper": U(0.3, 0.6),
          "edge_softness": U(0.01, 0.02), "rib_width": 0.0, "vein_density": 0.0,
          "vein_strength": U(0.05, 0.2), "gradient": U(0.4, 0.7)},
)

PINE_NEEDLES = Recipe(
    kind="pine_needles",
    palette={"low": HSV((0.30, 0.38), (0.60, 0.80), (0.08, 0.14)),
             "mid": HSV((0.28, 0.36), (0.55, 0.75), (0.16, 0.24)),
             "high": HSV((0.24, 0.32), (0.45, 0.65), (0.28, 0.38)),
             "mid_position": U(0.4, 0.6), "spread": U(0.3, 0.5), "micro_tint": U(0.2, 0.4)},
    macro=pattern("noise", scale=U(3, 8), detail=U(2, 4)),
    # Stomata lines along the needle.
    micro=pattern("noise", scale=U(80, 200), detail=U(1, 2), stretch=(1.0, 1.0, 0.05)),
    relief={"macro_weight": U(0.1, 0.3), "micro_weight": U(0.3, 0.6), "bump_strength": U(0.1, 0.3),
            "bump_distance": U(0.0005, 0.002)},
    # A waxy cuticle: glossy coat over a rougher, slightly translucent body.
    optics={"roughness": (U(0.3, 0.45), U(0.45, 0.6)), "coat": U(0.2, 0.5), "translucency": U(0.1, 0.25)},
)

RECIPES = (BARK, LEAF, PETAL, PINE_NEEDLES)
