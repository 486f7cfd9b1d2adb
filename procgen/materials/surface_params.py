"""The typed, range-checked parameters of every material generator.

All kinds share one parameter layout (:class:`SurfaceParams`); what makes grass differ from
ice is the recipe each kind samples it from (see :mod:`.recipe`). Ranges here are the limits
of what the node graph handles sensibly, wider than any recipe samples. Lengths are metres,
frequencies features per metre of object space (per leaf card for leaf-card materials, which
use UV space), colours linear RGB in 0..1.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..params import param

RGB = tuple[float, float, float]

PATTERN_KINDS = ("noise", "ridged", "cells", "cracks", "waves")


@dataclass(frozen=True)
class Pattern:
    """A procedural texture reduced to a 0..1 height and a 0..1 tone (what colours follow)."""

    kind: str = param("noise", choices=PATTERN_KINDS,
                      doc="noise: fBm; ridged: creases of fBm; cells: Voronoi domes (stones); "
                          "cracks: dark Voronoi edge lines; waves: distorted bands along X")
    scale: float = param(4.0, 0.01, 2000.0, unit="1/m", doc="features per metre (per card in UV space)")
    detail: float = param(3.0, 0.0, 15.0, unit="octaves", doc="fractal octaves")
    roughness: float = param(0.5, 0.0, 1.0, doc="amplitude gain per octave")
    distortion: float = param(0.0, 0.0, 20.0, doc="domain warp, in feature sizes")
    sharpness: float = param(1.0, 0.1, 10.0, doc="profile exponent: >1 narrows peaks, creases and cracks")
    stretch: RGB = param((1.0, 1.0, 1.0), 0.01, 100.0,
                         doc="per-axis frequency factor; <1 elongates features along that axis")
    offset: RGB = param((0.0, 0.0, 0.0), -1.0e4, 1.0e4, unit="m", doc="domain shift: the pattern's seed")


@dataclass(frozen=True)
class Palette:
    """Three colours laid along the macro tone (low, mid, high), modulated by the fine detail.

    Usually dark to light, but not always: ice's cracks (low tone) are its whitest part.
    """

    low: RGB = param((0.05, 0.05, 0.05), 0.0, 1.0, unit="linear RGB", doc="colour at low tone")
    mid: RGB = param((0.2, 0.2, 0.2), 0.0, 1.0, unit="linear RGB", doc="colour at mid_position")
    high: RGB = param((0.5, 0.5, 0.5), 0.0, 1.0, unit="linear RGB", doc="colour at high tone")
    mid_position: float = param(0.5, 0.05, 0.95, doc="tone (0..1) where the mid colour sits")
    spread: float = param(0.3, 0.01, 1.0, doc="tone distance from the mid stop to the low and high stops")
    micro_tint: float = param(0.3, 0.0, 1.0, doc="overlay strength of the fine detail on the colour")


@dataclass(frozen=True)
class Patches:
    """A second surface (lichen, dry grass, puddles) covering part of the first."""

    pattern: Pattern
    color: RGB = param((0.3, 0.3, 0.1), 0.0, 1.0, unit="linear RGB")
    coverage: float = param(0.3, 0.0, 1.0, doc="approximate covered fraction of the surface")
    softness: float = param(0.05, 0.002, 0.5, doc="width of the patch border, in pattern tone units")
    roughness: float = param(0.8, 0.0, 1.0, doc="roughness inside the patches")
    height: float = param(0.2, -1.0, 1.0, doc="height added inside the patches, in macro height units")


@dataclass(frozen=True)
class Relief:
    """How the patterns move the surface: shading-only bump, or true displacement too."""

    macro_weight: float = param(1.0, 0.0, 1.0, doc="share of the macro pattern in the height")
    micro_weight: float = param(0.3, 0.0, 1.0, doc="share of the fine pattern in the height")
    bump_strength: float = param(0.3, 0.0, 1.0, doc="Bump node strength (0 = flat shading)")
    bump_distance: float = param(0.02, 1.0e-4, 0.5, unit="m", doc="height of a unit bump")
    displacement: float = param(0.0, 0.0, 0.5, unit="m",
                                doc="geometric displacement of a unit macro height; 0 = bump only")


@dataclass(frozen=True)
class Optics:
    """Principled BSDF and volume settings."""

    roughness: tuple[float, float] = param((0.5, 0.8), 0.0, 1.0, doc="roughness at tone 0 and at tone 1")
    specular: float = param(0.5, 0.0, 1.0, doc="Specular IOR Level (0.5 = as the IOR implies)")
    ior: float = param(1.45, 1.0, 3.0, doc="index of refraction")
    transmission: float = param(0.0, 0.0, 1.0, doc="Transmission Weight (glass-like refraction)")
    subsurface: float = param(0.0, 0.0, 1.0, doc="Subsurface Weight")
    subsurface_radius: RGB = param((1.0, 0.5, 0.25), 0.0, 10.0,
                                   doc="per-channel scatter distance, in units of subsurface_scale")
    subsurface_scale: float = param(0.05, 0.0, 1.0, unit="m", doc="mean scatter distance")
    sheen: float = param(0.0, 0.0, 1.0, doc="Sheen Weight (velvet of moss and petals)")
    coat: float = param(0.0, 0.0, 1.0, doc="Coat Weight (wet or waxy film)")
    translucency: float = param(0.0, 0.0, 1.0, doc="share of a Translucent BSDF (light through thin leaves)")
    absorption_density: float = param(0.0, 0.0, 200.0, unit="1/m",
                                      doc="Volume Absorption inside closed meshes; 0 = none")
    absorption_color: RGB = param((0.8, 0.9, 0.95), 0.0, 1.0, unit="linear RGB",
                                  doc="colour that survives the absorption")


@dataclass(frozen=True)
class LeafShape:
    """Outline and veins of a blade drawn on a leaf card: U across (0..1), V from stem (0) to tip (1)."""

    width: float = param(0.35, 0.02, 0.5, unit="UV", doc="half-width at the widest point")
    base_taper: float = param(0.8, 0.1, 4.0, doc="exponent of the widening from the stem")
    tip_taper: float = param(1.0, 0.1, 4.0, doc="exponent of the narrowing to the tip")
    edge_softness: float = param(0.01, 0.001, 0.1, unit="UV", doc="width of the alpha edge")
    rib_width: float = param(0.02, 0.0, 0.1, unit="UV", doc="half-width of the midrib")
    vein_density: float = param(8.0, 0.0, 40.0, unit="1/UV", doc="side veins per card length")
    vein_angle: float = param(0.6, 0.0, 3.0, doc="V rise of a side vein per unit of U")
    vein_strength: float = param(0.4, 0.0, 1.0, doc="how far veins pull the colour toward the high colour")
    gradient: float = param(0.3, 0.0, 1.0, doc="share of the tone that runs from stem (0) to tip (1)")


@dataclass(frozen=True)
class SurfaceParams:
    """Everything one material build needs. ``patches`` and ``leaf`` are optional layers."""

    kind: str
    palette: Palette
    macro: Pattern
    micro: Pattern
    relief: Relief
    optics: Optics
    patches: Patches | None = None
    leaf: LeafShape | None = None


Params = SurfaceParams
