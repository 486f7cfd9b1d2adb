"""Recipes for soft ground: grass, dirt, sand, snow, mud, moss, clay.

Scales are features per metre on a ground whose up axis is object Z; colours are sRGB HSV boxes.
"""

from __future__ import annotations

from .recipe import HSV, Recipe, U, pattern

GRASS = Recipe(
    kind="grass",
    palette={"low": HSV((0.22, 0.30), (0.60, 0.85), (0.15, 0.25)),
             "mid": HSV((0.20, 0.28), (0.55, 0.80), (0.30, 0.45)),
             "high": HSV((0.16, 0.24), (0.45, 0.70), (0.50, 0.65)),
             "mid_position": U(0.4, 0.6), "spread": U(0.25, 0.45), "micro_tint": U(0.3, 0.6)},
    macro=pattern("noise", scale=U(0.5, 2.0), detail=U(3, 6), roughness=U(0.45, 0.65), distortion=U(0.2, 1.0)),
    # Blade-sized streaks, longer than wide, lying in the ground plane.
    micro=pattern("noise", scale=U(60, 150), detail=U(1, 3), stretch=(1.0, 0.3, 1.0)),
    relief={"macro_weight": U(0.2, 0.4), "micro_weight": U(0.6, 1.0), "bump_strength": U(0.2, 0.4),
            "bump_distance": U(0.005, 0.02)},
    optics={"roughness": (U(0.55, 0.7), U(0.75, 0.9)), "specular": U(0.3, 0.5), "sheen": U(0.1, 0.3)},
    # Sun-dried straw.
    patches={"pattern": pattern("noise", scale=U(0.3, 1.0), detail=U(3, 5)),
             "color": HSV((0.10, 0.15), (0.4, 0.6), (0.45, 0.6)), "coverage": U(0.1, 0.35),
             "softness": U(0.03, 0.1), "roughness": U(0.8, 0.9), "height": U(-0.1, 0.1)},
)

DIRT = Recipe(
    kind="dirt",
    palette={"low": HSV((0.05, 0.09), (0.45, 0.65), (0.12, 0.20)),
             "mid": HSV((0.06, 0.10), (0.40, 0.60), (0.25, 0.35)),
             "high": HSV((0.07, 0.11), (0.30, 0.50), (0.40, 0.50)),
             "mid_position": U(0.4, 0.6), "spread": U(0.3, 0.5), "micro_tint": U(0.2, 0.4)},
    macro=pattern("noise", scale=U(1, 3), detail=U(4, 7), roughness=U(0.5, 0.65), distortion=U(0.3, 1.5)),
    # Clods and grit.
    micro=pattern("cells", scale=U(30, 80), detail=0.0, sharpness=U(0.6, 1.2)),
    relief={"macro_weight": U(0.5, 0.8), "micro_weight": U(0.3, 0.6), "bump_strength": U(0.3, 0.6),
            "bump_distance": U(0.01, 0.03), "displacement": U(0.01, 0.04)},
    optics={"roughness": (U(0.75, 0.85), U(0.88, 0.97)), "specular": U(0.3, 0.5)},
    # Damp, darker, sunken soil.
    patches={"pattern": pattern("noise", scale=U(0.5, 1.5), detail=U(3, 5)),
             "color": HSV((0.05, 0.08), (0.5, 0.7), (0.08, 0.14)), "coverage": U(0.1, 0.3),
             "softness": U(0.03, 0.08), "roughness": U(0.5, 0.65), "height": U(-0.2, -0.05)},
)

SAND = Recipe(
    kind="sand",
    palette={"low": HSV((0.09, 0.12), (0.35, 0.50), (0.50, 0.60)),
             "mid": HSV((0.10, 0.13), (0.30, 0.45), (0.65, 0.75)),
             "high": HSV((0.11, 0.14), (0.20, 0.35), (0.80, 0.90)),
             "mid_position": U(0.4, 0.6), "spread": U(0.3, 0.5), "micro_tint": U(0.2, 0.4)},
    # Wind ripples: distorted bands, crests sharper than troughs.
    macro=pattern("waves", scale=U(1.5, 4), detail=U(1, 3), roughness=U(0.4, 0.6), distortion=U(3, 8),
                  sharpness=U(1.2, 2.5)),
    micro=pattern("noise", scale=U(300, 800), detail=U(0, 2)),
    relief={"macro_weight": U(0.6, 1.0), "micro_weight": U(0.2, 0.4), "bump_strength": U(0.2, 0.4),
            "bump_distance": U(0.005, 0.015), "displacement": U(0.005, 0.02)},
    optics={"roughness": (U(0.8, 0.9), U(0.9, 1.0)), "specular": U(0.3, 0.5)},
)

SNOW = Recipe(
    kind="snow",
    palette={"low": HSV((0.55, 0.62), (0.05, 0.12), (0.75, 0.85)),
             "mid": HSV((0.55, 0.62), (0.02, 0.06), (0.88, 0.94)),
             "high": HSV((0.55, 0.62), (0.00, 0.03), (0.95, 1.00)),
             "mid_position": U(0.4, 0.6), "spread": U(0.3, 0.5), "micro_tint": U(0.05, 0.2)},
    # Drifts.
    macro=pattern("noise", scale=U(0.3, 1.2), detail=U(3, 5), roughness=U(0.4, 0.55), distortion=U(0.5, 2)),
    micro=pattern("noise", scale=U(80, 200), detail=U(1, 3)),
    relief={"macro_weight": U(0.6, 1.0), "micro_weight": U(0.1, 0.3), "bump_strength": U(0.1, 0.3),
            "bump_distance": U(0.01, 0.03), "displacement": U(0.03, 0.1)},
    # Light scatters centimetres into snow, a little further in blue.
    optics={"roughness": (U(0.35, 0.5), U(0.55, 0.75)), "specular": U(0.4, 0.6), "ior": 1.31,
            "subsurface": U(0.3, 0.6), "subsurface_radius": (0.8, 0.9, 1.0), "subsurface_scale": U(0.01, 0.04)},
)

MUD = Recipe(
    kind="mud",
    palette={"low": HSV((0.06, 0.09), (0.50, 0.70), (0.10, 0.15)),
             "mid": HSV((0.06, 0.09), (0.45, 0.65), (0.18, 0.26)),
             "high": HSV((0.07, 0.10), (0.35, 0.55), (0.28, 0.38)),
             "mid_position": U(0.4, 0.6), "spread": U(0.3, 0.5), "micro_tint": U(0.1, 0.3)},
    macro=pattern("noise", scale=U(0.8, 2.5), detail=U(4, 6), roughness=U(0.55, 0.7), distortion=U(1, 3)),
    micro=pattern("noise", scale=U(20, 60), detail=U(2, 4)),
    relief={"macro_weight": U(0.5, 0.9), "micro_weight": U(0.2, 0.4), "bump_strength": U(0.3, 0.5),
            "bump_distance": U(0.01, 0.03), "displacement": U(0.02, 0.06)},
    optics={"roughness": (U(0.25, 0.4), U(0.55, 0.75)), "coat": U(0.0, 0.3)},
    # Standing water in the hollows: glossy, dark, sunken.
    patches={"pattern": pattern("noise", scale=U(0.5, 1.5), detail=U(2, 4)),
             "color": HSV((0.07, 0.10), (0.5, 0.7), (0.04, 0.07)), "coverage": U(0.15, 0.35),
             "softness": U(0.01, 0.04), "roughness": U(0.03, 0.1), "height": U(-0.4, -0.2)},
)

MOSS = Recipe(
    kind="moss",
    palette={"low": HSV((0.20, 0.27), (0.70, 0.90), (0.10, 0.18)),
             "mid": HSV((0.19, 0.25), (0.65, 0.85), (0.22, 0.32)),
             "high": HSV((0.16, 0.22), (0.55, 0.75), (0.38, 0.50)),
             "mid_position": U(0.4, 0.6), "spread": U(0.3, 0.5), "micro_tint": U(0.3, 0.6)},
    # Cushions: soft, rounded, lumpy domes.
    macro=pattern("cells", scale=U(4, 10), detail=U(0, 1), distortion=U(0.3, 0.8), sharpness=U(0.5, 0.8)),
    micro=pattern("noise", scale=U(150, 400), detail=U(2, 4), roughness=U(0.6, 0.75)),
    relief={"macro_weight": U(0.5, 0.8), "micro_weight": U(0.6, 1.0), "bump_strength": U(0.5, 0.8),
            "bump_distance": U(0.005, 0.015), "displacement": U(0.01, 0.03)},
    optics={"roughness": (U(0.7, 0.85), U(0.85, 0.95)), "sheen": U(0.3, 0.7), "subsurface": U(0.05, 0.15),
            "subsurface_radius": (0.6, 1.0, 0.3), "subsurface_scale": U(0.003, 0.01)},
    # Dry, yellowed tips.
    patches={"pattern": pattern("noise", scale=U(1, 4), detail=U(3, 5)),
             "color": HSV((0.13, 0.17), (0.6, 0.8), (0.35, 0.5)), "coverage": U(0.05, 0.25),
             "softness": U(0.05, 0.12), "roughness": U(0.85, 0.95), "height": U(0.0, 0.1)},
)

CLAY = Recipe(
    kind="clay",
    palette={"low": HSV((0.02, 0.05), (0.55, 0.75), (0.25, 0.35)),
             "mid": HSV((0.03, 0.06), (0.50, 0.70), (0.45, 0.55)),
             "high": HSV((0.05, 0.08), (0.40, 0.55), (0.60, 0.70)),
             "mid_position": U(0.3, 0.5), "spread": U(0.2, 0.4), "micro_tint": U(0.2, 0.4)},
    # Sun-baked crazing: dark cracks between flat plates.
    macro=pattern("cracks", scale=U(2, 6), detail=U(0, 1), distortion=U(0.2, 0.6), sharpness=U(1.5, 3)),
    micro=pattern("noise", scale=U(20, 60), detail=U(3, 5)),
    relief={"macro_weight": U(0.7, 1.0), "micro_weight": U(0.2, 0.4), "bump_strength": U(0.5, 0.8),
            "bump_distance": U(0.005, 0.02), "displacement": U(0.005, 0.02)},
    optics={"roughness": (U(0.8, 0.9), U(0.88, 0.97)), "specular": U(0.3, 0.5)},
)

RECIPES = (GRASS, DIRT, SAND, SNOW, MUD, MOSS, CLAY)
