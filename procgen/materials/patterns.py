"""Texture nodes for a :class:`Pattern`: each kind reduced to a 0..1 height and a 0..1 tone."""

from __future__ import annotations

from typing import NamedTuple

from ..nodes import NodeWrangler
from .surface_params import Pattern

#: Voronoi edge distance (in cell sizes) over which a crack fades out at sharpness 1.
CRACK_WIDTH = 0.12
#: Voronoi F1 distance (in cell sizes) at which a stone's dome reaches the ground.
CELL_RADIUS = 0.6


class PatternOut(NamedTuple):
    """Sockets (or anything NodeWrangler links) carrying the pattern's outputs, both 0..1."""

    height: object
    tone: object


def add_pattern(nw: NodeWrangler, vector, p: Pattern) -> PatternOut:
    """Nodes drawing ``p`` at ``vector`` (object-space metres or UV)."""
    mapped = nw.new_node("mapping", input_kwargs={"Vector": vector, "Location": p.offset, "Scale": p.stretch})
    return _BUILDERS[p.kind](nw, mapped, p)


def _fbm(nw, vector, p: Pattern, noise_type: str = "FBM"):
    return nw.new_node("noise", attrs={"noise_type": noise_type}, input_kwargs={
        "Vector": vector, "Scale": p.scale, "Detail": p.detail, "Roughness": p.roughness,
        "Distortion": p.distortion})


def _sharpen(nw, value, sharpness: float):
    return value if sharpness == 1.0 else nw.math("POWER", value, sharpness)


def _noise(nw, vector, p: Pattern) -> PatternOut:
    height = _sharpen(nw, (_fbm(nw, vector, p), "Fac"), p.sharpness)
    return PatternOut(height, height)


def _ridged(nw, vector, p: Pattern) -> PatternOut:
    # 1 - |2n - 1| folds fBm at its median: creases where the noise crosses 0.5.
    folded = nw.math("ABSOLUTE", nw.math("MULTIPLY_ADD", (_fbm(nw, vector, p), "Fac"), 2.0, -1.0))
    height = _sharpen(nw, nw.math("SUBTRACT", 1.0, folded), p.sharpness)
    return PatternOut(height, height)


def _warp(nw, vector, p: Pattern):
    """Voronoi has no distortion input; shift its lookup by centred noise instead."""
    if p.distortion == 0.0:
        return vector
    noise = nw.new_node("noise", input_kwargs={"Vector": vector, "Scale": p.scale, "Detail": 2.0})
    centred = nw.vector_math("SUBTRACT", (noise, "Color"), (0.5, 0.5, 0.5))
    shift = nw.new_node("vector_math", attrs={"operation": "SCALE"},
                        input_kwargs={"Vector": centred, "Scale": p.distortion / p.scale})
    return nw.vector_math("ADD", vector, shift)


def _voronoi(nw, vector, p: Pattern, feature: str):
    return nw.new_node("voronoi", attrs={"feature": feature}, input_kwargs={
        "Vector": _warp(nw, vector, p), "Scale": p.scale, "Detail": p.detail, "Roughness": p.roughness})


def _cells(nw, vector, p: Pattern) -> PatternOut:
    cells = _voronoi(nw, vector, p, "F1")
    dome = nw.new_node("map_range", attrs={"clamp": True}, input_kwargs={
        "Value": (cells, "Distance"), "From Min": 0.0, "From Max": CELL_RADIUS, "To Min": 1.0, "To Max": 0.0})
    # Each stone gets its own tone from the cell's random colour.
    return PatternOut(_sharpen(nw, dome, p.sharpness), (cells, "Color"))


def _cracks(nw, vector, p: Pattern) -> PatternOut:
    edges = _voronoi(nw, vector, p, "DISTANCE_TO_EDGE")
    height = nw.new_node("map_range", attrs={"interpolation_type": "SMOOTHSTEP", "clamp": True}, input_kwargs={
        "Value": (edges, "Distance"), "From Min": 0.0, "From Max": CRACK_WIDTH / p.sharpness})
    return PatternOut(height, height)


def _waves(nw, vector, p: Pattern) -> PatternOut:
    wave = nw.new_node("wave", attrs={"wave_type": "BANDS", "bands_direction": "X", "wave_profile": "SIN"},
                       input_kwargs={"Vector": vector, "Scale": p.scale, "Distortion": p.distortion,
                                     "Detail": p.detail, "Detail Roughness": p.roughness})
    height = _sharpen(nw, (wave, "Fac"), p.sharpness)
    return PatternOut(height, height)


_BUILDERS = {"noise": _noise, "ridged": _ridged, "cells": _cells, "cracks": _cracks, "waves": _waves}
