"""Recipes: per-kind sampling rules for :class:`SurfaceParams`, and the sampler that draws them.

A recipe section maps a field name to a rule: :class:`U` (uniform float), :class:`HSV` (a
colour box), :data:`SEED` (a pattern offset), a tuple of rules, a nested mapping (a nested
dataclass such as ``Patches.pattern``) or a plain constant. Fields without a rule keep their
default. All randomness comes from the ``numpy.random.Generator`` handed in.
"""

from __future__ import annotations

import colorsys
import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .surface_params import LeafShape, Optics, Palette, Patches, Pattern, Relief, SurfaceParams

Rules = Mapping[str, object]

#: Pattern offsets are drawn here (m): far enough apart that two seeds never share features.
SEED_EXTENT = 1000.0


@dataclass(frozen=True)
class U:
    """Uniform in [lo, hi]."""

    lo: float
    hi: float

    def draw(self, rng: np.random.Generator, hue_u: float) -> float:
        return float(rng.uniform(self.lo, self.hi))


@dataclass(frozen=True)
class HSV:
    """A box in display (sRGB) HSV space, drawn as linear RGB.

    Hue is in turns and may run past 0 or 1 to wrap through red. Every HSV rule of one
    section shares the hue position, so a palette's low/mid/high stay one family of hues.
    """

    hue: tuple[float, float]
    sat: tuple[float, float]
    val: tuple[float, float]

    def draw(self, rng: np.random.Generator, hue_u: float) -> tuple[float, float, float]:
        hue = (self.hue[0] + hue_u * (self.hue[1] - self.hue[0])) % 1.0
        rgb = colorsys.hsv_to_rgb(hue, rng.uniform(*self.sat), rng.uniform(*self.val))
        return tuple(_srgb_to_linear(c) for c in rgb)


class _Seed:
    """A random pattern offset: the seed of one noise texture."""

    def draw(self, rng: np.random.Generator, hue_u: float) -> tuple[float, float, float]:
        return tuple(float(v) for v in rng.uniform(-SEED_EXTENT, SEED_EXTENT, 3))

    def __repr__(self) -> str:
        return "SEED"


SEED = _Seed()


def _srgb_to_linear(c: float) -> float:
    # Shader sockets take scene-linear colour; recipes are written in the picker's sRGB space.
    return float(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)


def pattern(kind: str, **rules) -> dict:
    """Rules for a :class:`Pattern` of ``kind`` with its own seed."""
    return {"kind": kind, "offset": SEED, **rules}


def draw(cls, rng: np.random.Generator, rules: Rules):
    """An instance of dataclass ``cls`` with each ruled field drawn from ``rng``."""
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(rules) - fields)
    if unknown:
        raise KeyError(f"{cls.__name__} has no field {unknown[0]!r}")
    hints = typing.get_type_hints(cls)
    hue_u = float(rng.uniform())
    values = {name: _draw_rule(rng, rule, hints[name], hue_u) for name, rule in rules.items()}
    return cls(**values)


def _draw_rule(rng, rule, hint, hue_u):
    if hasattr(rule, "draw"):
        return rule.draw(rng, hue_u)
    if isinstance(rule, tuple):
        return tuple(_draw_rule(rng, r, None, hue_u) for r in rule)
    if isinstance(rule, Mapping):
        return draw(hint, rng, rule)
    return rule


@dataclass(frozen=True)
class Recipe:
    """How one material kind samples its :class:`SurfaceParams`: one rule set per section."""

    kind: str
    palette: Rules
    macro: Rules
    micro: Rules
    relief: Rules
    optics: Rules
    patches: Rules | None = None
    leaf: Rules | None = None

    def sample(self, rng: np.random.Generator) -> SurfaceParams:
        return SurfaceParams(
            kind=self.kind,
            palette=draw(Palette, rng, self.palette),
            macro=draw(Pattern, rng, self.macro),
            micro=draw(Pattern, rng, self.micro),
            relief=draw(Relief, rng, self.relief),
            optics=draw(Optics, rng, self.optics),
            patches=None if self.patches is None else draw(Patches, rng, self.patches),
            leaf=None if self.leaf is None else draw(LeafShape, rng, self.leaf),
        )
