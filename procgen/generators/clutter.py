"""Small and mid-sized nature assets, each a ``sample_params(rng)`` + ``build(params)`` pair with its
own semantic category: pebbles, twigs, leaf litter, dead grass, fallen logs, bushes, ferns, cacti
and mushrooms.

Units: metres; the object's origin is at the centre of its footprint on local z = 0 (the ground),
z up. Solids (pebble, twig, log, cactus, mushroom) are closed 2-manifold shells; foliage (leaf
litter, dead grass, bush, fern) is made of cards with UVs for the leaf material. ``build`` draws
all its randomness from a generator seeded by the params' ``seed``, so equal params give equal
geometry. :data:`FAMILIES` maps each family name to (sample_params, build, category).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..params import check, param
from .tubes import merge, mesh_object, tube


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)  # an explicit seed parameter, not global state


# -- pebbles ----------------------------------------------------------------------------------------

@dataclass
class PebbleParams:
    size_m: float = param(0.06, 0.01, 0.5, "m", "largest extent")
    flatness: float = param(0.6, 0.2, 1.0, "", "height / width")
    lumpiness: float = param(0.15, 0.0, 0.4, "", "radial noise amplitude")
    seed: int = param(0, 0, 2**31 - 1)


def sample_pebble(rng: np.random.Generator) -> PebbleParams:
    return PebbleParams(size_m=float(np.clip(rng.lognormal(math.log(0.06), 0.5), 0.015, 0.3)),
                        flatness=float(rng.uniform(0.35, 0.85)), lumpiness=float(rng.uniform(0.05, 0.25)),
                        seed=int(rng.integers(0, 2**31 - 1)))


def _icosphere(subdivisions: int) -> tuple[np.ndarray, list]:
    t = (1 + 5 ** 0.5) / 2
    v = [(-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0), (0, -1, t), (0, 1, t), (0, -1, -t), (0, 1, -t),
         (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1)]
    f = [(0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11), (1, 5, 9), (5, 11, 4), (11, 10, 2),
         (10, 7, 6), (7, 1, 8), (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8), (3, 8, 9), (4, 9, 5), (2, 4, 11),
         (6, 2, 10), (8, 6, 7), (9, 8, 1)]
    verts = [np.array(p, float) / np.linalg.norm(p) for p in v]
    for _ in range(subdivisions):
        cache, out = {}, []

        def mid(a, b, cache=cache):
            key = (min(a, b), max(a, b))
            if key not in cache:
                m = verts[a] + verts[b]
                verts.append(m / np.linalg.norm(m))
                cache[key] = len(verts) - 1
            return cache[key]

        for a, b, c in f:
            ab, bc, ca = mid(a, b), mid(b, c), mid(c, a)
            out += [(a, ab, ca), (b, bc, ab), (c, ca, bc), (ab, bc, ca)]
        f = out
    return np.array(verts), f


def build_pebble(p: PebbleParams, name: str = "pebble", material=None, collection=None):
    check(p)
    rng = _rng(p.seed)
    verts, faces = _icosphere(2)
    # Smooth lumps: a few random cosine waves over the sphere.
    waves = rng.normal(size=(4, 3))
    bump = sum(np.cos(verts @ w * 2.0 + rng.uniform(0, 2 * np.pi)) for w in waves) / 4
    verts = verts * (1.0 + p.lumpiness * bump)[:, None]
    verts *= np.array([1.0, rng.uniform(0.7, 1.0), p.flatness])
    lo, hi = verts.min(axis=0), verts.max(axis=0)
    verts = (verts - [(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2]]) * (p.size_m / (hi - lo).max())
    return mesh_object(name, verts, faces, "pebble", material, collection)


# -- twigs and fallen logs ------------------------------------------------------------------------------

@dataclass
class TwigParams:
    length_m: float = param(0.4, 0.05, 3.0, "m", "main stick length")
    radius_m: float = param(0.01, 0.002, 0.08, "m", "radius at the thick end")
    forks: int = param(2, 0, 6, "", "side shoots")
    bend: float = param(0.15, 0.0, 0.6, "", "lateral wander per unit length")
    seed: int = param(0, 0, 2**31 - 1)


def sample_twig(rng: np.random.Generator) -> TwigParams:
    length = float(rng.uniform(0.15, 0.9))
    return TwigParams(length_m=length, radius_m=float(length * rng.uniform(0.012, 0.03)),
                      forks=int(rng.integers(0, 4)), bend=float(rng.uniform(0.05, 0.3)),
                      seed=int(rng.integers(0, 2**31 - 1)))


def _wandering_line(rng, start, direction, length, bend, n):
    s = np.linspace(0.0, 1.0, n)
    side = np.cross(direction, [0, 0, 1.0])
    side = side / np.linalg.norm(side) if np.linalg.norm(side) > 1e-6 else np.array([1.0, 0, 0])
    wobble = np.cumsum(rng.normal(0, bend / math.sqrt(n), n)) * length
    return start + direction * (s * length)[:, None] + side * wobble[:, None]


def build_twig(p: TwigParams, name: str = "twig", material=None, collection=None):
    """A stick lying on the ground (resting on z = 0) with tapering side shoots: separate closed tubes."""
    check(p)
    rng = _rng(p.seed)
    main = _wandering_line(rng, np.array([-p.length_m / 2, 0, p.radius_m]), np.array([1.0, 0, 0]),
                           p.length_m, p.bend, 10)
    parts = [tube(main, np.linspace(p.radius_m, 0.35 * p.radius_m, len(main)), sides=6)]
    for _ in range(p.forks):
        at = main[int(rng.integers(2, len(main) - 2))]
        ang = rng.uniform(0.4, 1.1) * rng.choice([-1, 1])
        d = np.array([math.cos(ang), math.sin(ang), 0.0])
        shoot = _wandering_line(rng, at - d * p.radius_m * 0.5, d, p.length_m * rng.uniform(0.2, 0.45), p.bend, 6)
        shoot[:, 2] = np.maximum(shoot[:, 2], 0.5 * p.radius_m)
        parts.append(tube(shoot, np.linspace(0.5 * p.radius_m, 0.15 * p.radius_m, len(shoot)), sides=5))
    verts, faces = merge(parts)
    return mesh_object(name, verts, faces, "twig", material, collection)


@dataclass
class LogParams:
    length_m: float = param(3.0, 0.5, 20.0, "m", "length")
    radius_m: float = param(0.2, 0.03, 1.5, "m", "radius at the thick end")
    taper: float = param(0.7, 0.2, 1.0, "", "radius at the thin end / thick end")
    ridges: int = param(9, 0, 24, "", "bark ridges around the trunk")
    stubs: int = param(3, 0, 10, "", "broken branch stubs")
    seed: int = param(0, 0, 2**31 - 1)


def sample_log(rng: np.random.Generator) -> LogParams:
    length = float(rng.uniform(1.5, 6.0))
    return LogParams(length_m=length, radius_m=float(rng.uniform(0.1, 0.35)), taper=float(rng.uniform(0.5, 0.9)),
                     ridges=int(rng.integers(6, 14)), stubs=int(rng.integers(0, 5)),
                     seed=int(rng.integers(0, 2**31 - 1)))


def build_log(p: LogParams, name: str = "log", material=None, collection=None):
    """A fallen trunk along x, half sunk so it sits on the ground, with branch stubs."""
    check(p)
    rng = _rng(p.seed)
    axis = _wandering_line(rng, np.array([-p.length_m / 2, 0, 0.6 * p.radius_m]), np.array([1.0, 0, 0]),
                           p.length_m, 0.03, 16)
    radii = p.radius_m * np.linspace(1.0, p.taper, len(axis)) * (1 + 0.08 * rng.standard_normal(len(axis)))
    phase = rng.uniform(0, 2 * np.pi)
    parts = [tube(axis, radii, sides=max(12, 2 * p.ridges),
                  profile=lambda th: 1.0 + (0.04 * np.cos(p.ridges * th + phase) if p.ridges else 0.0))]
    for _ in range(p.stubs):
        k = int(rng.integers(2, len(axis) - 2))
        up = np.array([0.0, rng.uniform(-0.7, 0.7), 1.0])
        up /= np.linalg.norm(up)
        r = radii[k] * rng.uniform(0.2, 0.35)
        stub = axis[k] + up[None, :] * np.linspace(0.5 * radii[k], radii[k] + p.radius_m * rng.uniform(0.5, 1.5),
                                                     4)[:, None]
        parts.append(tube(stub, np.linspace(r, 0.6 * r, 4), sides=6))
    verts, faces = merge(parts)
    return mesh_object(name, verts, faces, "log", material, collection)


# -- cacti and mushrooms -------------------------------------------------------------------------------

@dataclass
class CactusParams:
    height_m: float = param(2.0, 0.2, 12.0, "m", "stem height")
    radius_m: float = param(0.18, 0.03, 0.8, "m", "stem radius")
    ribs: int = param(12, 0, 30, "", "vertical ribs")
    arms: int = param(2, 0, 5, "", "arms (saguaro); 0 = a barrel or column")
    seed: int = param(0, 0, 2**31 - 1)


def sample_cactus(rng: np.random.Generator) -> CactusParams:
    if rng.random() < 0.4:  # barrel cactus
        r = float(rng.uniform(0.12, 0.35))
        return CactusParams(height_m=float(r * rng.uniform(1.2, 2.5)), radius_m=r, ribs=int(rng.integers(12, 24)),
                            arms=0, seed=int(rng.integers(0, 2**31 - 1)))
    return CactusParams(height_m=float(rng.uniform(1.2, 5.0)), radius_m=float(rng.uniform(0.1, 0.3)),
                        ribs=int(rng.integers(8, 16)), arms=int(rng.integers(0, 4)),
                        seed=int(rng.integers(0, 2**31 - 1)))


def build_cactus(p: CactusParams, name: str = "cactus", material=None, collection=None):
    check(p)
    rng = _rng(p.seed)
    ribs = (lambda th: 1.0 + 0.07 * np.cos(p.ribs * th)) if p.ribs else None
    n = 14
    s = np.linspace(0.0, 1.0, n)
    stem = np.column_stack([np.zeros(n), np.zeros(n), s * p.height_m])
    # Rounded top: the radius closes over the last stretch.
    top = np.clip((1.0 - s) / min(0.12, p.radius_m / p.height_m * 1.2), 0.0, 1.0)
    radii = p.radius_m * np.sqrt(np.maximum(top, 0.05))
    parts = [tube(stem, radii, sides=max(12, 2 * p.ribs), profile=ribs)]
    for k in range(p.arms):
        az = 2 * np.pi * (k + rng.uniform(-0.2, 0.2)) / max(p.arms, 1)
        out = np.array([math.cos(az), math.sin(az), 0.0])
        z0 = p.height_m * rng.uniform(0.3, 0.6)
        reach, rise = p.radius_m * rng.uniform(2.0, 3.5), p.height_m * rng.uniform(0.2, 0.35)
        u = np.linspace(0.0, 1.0, 10)
        # An elbow: out from the stem, then up.
        pts = (np.array([0, 0, z0]) + out[None] * (reach * np.sin(u * np.pi / 2))[:, None]
               + np.array([0, 0, 1.0])[None] * (rise * (1 - np.cos(u * np.pi / 2)))[:, None])
        pts = pts + out[None] * 0.3 * p.radius_m
        ar = 0.6 * p.radius_m * np.sqrt(np.maximum(np.clip((1 - u) / 0.15, 0, 1), 0.08))
        parts.append(tube(pts, ar, sides=max(10, p.ribs), profile=ribs))
    verts, faces = merge(parts)
    return mesh_object(name, verts, faces, "cactus", material, collection)


@dataclass
class MushroomParams:
    height_m: float = param(0.08, 0.01, 0.5, "m", "stalk height")
    cap_radius_m: float = param(0.04, 0.005, 0.3, "m", "cap radius")
    cap_flatness: float = param(0.5, 0.15, 1.0, "", "cap height / radius")
    seed: int = param(0, 0, 2**31 - 1)


def sample_mushroom(rng: np.random.Generator) -> MushroomParams:
    h = float(rng.uniform(0.03, 0.15))
    return MushroomParams(height_m=h, cap_radius_m=float(h * rng.uniform(0.4, 0.9)),
                          cap_flatness=float(rng.uniform(0.3, 0.8)), seed=int(rng.integers(0, 2**31 - 1)))


def build_mushroom(p: MushroomParams, name: str = "mushroom", material=None, collection=None):
    """A stalk and a domed cap: two closed shells; cap faces use material slot 1 when given two."""
    check(p)
    rng = _rng(p.seed)
    lean = rng.normal(0, 0.1, 2) * p.height_m
    z = np.linspace(0.0, p.height_m, 6)
    stalk = np.column_stack([lean[0] * (z / p.height_m) ** 2, lean[1] * (z / p.height_m) ** 2, z])
    sv, sf = tube(stalk, np.full(6, 0.18 * p.cap_radius_m), sides=8)
    cv, cf = _icosphere(2)
    cv = cv[cv[:, 2] > -2.0]  # keep all: squash the lower half flat instead of cutting (stays closed)
    cv = cv * np.array([p.cap_radius_m, p.cap_radius_m, p.cap_radius_m * p.cap_flatness])
    cv[:, 2] = np.where(cv[:, 2] < 0, cv[:, 2] * 0.25, cv[:, 2])
    cv += np.array([stalk[-1, 0], stalk[-1, 1], p.height_m])
    verts, faces = merge([(sv, sf), (cv, cf)])
    obj = mesh_object(name, verts, faces, "mushroom", material, collection)
    return obj


# -- foliage cards: leaf litter, dead grass, bushes, ferns ---------------------------------------------

def _card_mesh(name, quads, uvs, category, material, collection):
    """A mesh of quads (n, 4, 3) with per-corner UVs (n, 4, 2)."""
    quads = np.asarray(quads, float)
    verts = quads.reshape(-1, 3)
    faces = [tuple(range(4 * i, 4 * i + 4)) for i in range(len(quads))]
    obj = mesh_object(name, verts, faces, category, material, collection)
    uv = obj.data.uv_layers.new(name="UVMap")
    uv.data.foreach_set("uv", np.asarray(uvs, np.float32).reshape(-1))
    return obj


_UNIT_CARD_UV = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])


@dataclass
class LitterParams:
    leaf_length_m: float = param(0.08, 0.01, 0.4, "m", "leaf length")
    leaves: int = param(5, 1, 40, "", "leaves in one clump")
    spread_m: float = param(0.15, 0.0, 2.0, "m", "clump radius")
    curl: float = param(0.2, 0.0, 0.8, "", "how much each leaf cups upwards")
    seed: int = param(0, 0, 2**31 - 1)


def sample_litter(rng: np.random.Generator) -> LitterParams:
    return LitterParams(leaf_length_m=float(rng.uniform(0.04, 0.14)), leaves=int(rng.integers(3, 10)),
                        spread_m=float(rng.uniform(0.05, 0.25)), curl=float(rng.uniform(0.05, 0.4)),
                        seed=int(rng.integers(0, 2**31 - 1)))


def build_litter(p: LitterParams, name: str = "leaf_litter", material=None, collection=None):
    """Fallen leaves lying nearly flat, slightly cupped and overlapping; UVs span each card."""
    check(p)
    rng = _rng(p.seed)
    quads, uvs = [], []
    for i in range(p.leaves):
        c = rng.normal(0, p.spread_m / 2, 2)
        a = rng.uniform(0, 2 * np.pi)
        d, s = np.array([math.cos(a), math.sin(a), 0]), np.array([-math.sin(a), math.cos(a), 0])
        L, W = p.leaf_length_m * rng.uniform(0.7, 1.2), p.leaf_length_m * 0.5
        z = 0.002 + 0.001 * i  # stacked, never coplanar
        lift = np.array([0, 0, p.curl * W * 0.5])
        base = np.array([c[0], c[1], z])
        quads.append([base - s * W / 2 + lift, base + s * W / 2 + lift, base + d * L + s * W / 2 + lift,
                      base + d * L - s * W / 2 + lift])
        quads[-1][0][2] = quads[-1][1][2] = z + p.curl * W * 0.5
        quads[-1][2][2] = quads[-1][3][2] = z + p.curl * W * 0.25
        uvs.append(_UNIT_CARD_UV)
    return _card_mesh(name, quads, uvs, "leaf_litter", material, collection)


@dataclass
class TuftParams:
    blades: int = param(12, 1, 60, "", "blades")
    height_m: float = param(0.35, 0.03, 2.0, "m", "blade height")
    droop: float = param(0.5, 0.0, 1.0, "", "how far blades bend over")
    seed: int = param(0, 0, 2**31 - 1)


def sample_tuft(rng: np.random.Generator) -> TuftParams:
    return TuftParams(blades=int(rng.integers(8, 24)), height_m=float(rng.uniform(0.15, 0.5)),
                      droop=float(rng.uniform(0.3, 0.8)), seed=int(rng.integers(0, 2**31 - 1)))


def build_tuft(p: TuftParams, name: str = "dead_grass", material=None, collection=None):
    """A clump of dry blades, bent over (two quads each, UV along the blade)."""
    check(p)
    rng = _rng(p.seed)
    quads, uvs = [], []
    for _ in range(p.blades):
        a = rng.uniform(0, 2 * np.pi)
        d = np.array([math.cos(a), math.sin(a), 0.0])
        s = np.array([-d[1], d[0], 0.0]) * 0.006
        h = p.height_m * rng.uniform(0.6, 1.1)
        base = d * rng.uniform(0, 0.05)
        mid = base + d * p.droop * h * 0.35 + np.array([0, 0, h * 0.6])
        tip = base + d * p.droop * h * 0.9 + np.array([0, 0, h * (0.9 - 0.5 * p.droop)])
        quads += [[base - s, base + s, mid + s, mid - s], [mid - s, mid + s, tip + s * 0.2, tip - s * 0.2]]
        uvs += [[[0, 0], [1, 0], [1, 0.5], [0, 0.5]], [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]]
    return _card_mesh(name, quads, uvs, "dead_grass", material, collection)


@dataclass
class BushParams:
    radius_m: float = param(0.6, 0.1, 3.0, "m", "crown radius")
    height_m: float = param(0.8, 0.1, 4.0, "m", "crown height")
    cards: int = param(60, 4, 400, "", "leaf cards")
    card_size_m: float = param(0.25, 0.02, 1.0, "m", "leaf card size")
    seed: int = param(0, 0, 2**31 - 1)


def sample_bush(rng: np.random.Generator) -> BushParams:
    r = float(rng.uniform(0.3, 1.2))
    return BushParams(radius_m=r, height_m=float(r * rng.uniform(0.8, 1.6)), cards=int(rng.integers(40, 120)),
                      card_size_m=float(r * rng.uniform(0.25, 0.45)), seed=int(rng.integers(0, 2**31 - 1)))


def build_bush(p: BushParams, name: str = "bush", material=None, collection=None):
    """Leaf cards filling an ellipsoidal crown that sits on the ground, facing outwards."""
    check(p)
    rng = _rng(p.seed)
    quads, uvs = [], []
    for _ in range(p.cards):
        v = rng.normal(size=3)
        v /= np.linalg.norm(v)
        r = rng.uniform(0.55, 1.0) ** 0.5
        c = np.array([v[0] * p.radius_m, v[1] * p.radius_m, (v[2] * 0.5 + 0.5) * p.height_m]) * r
        c[2] = max(c[2], 0.15 * p.height_m)
        n = v + rng.normal(0, 0.4, 3)
        n /= np.linalg.norm(n)
        t = np.cross(n, [0, 0, 1.0])
        t = t / np.linalg.norm(t) if np.linalg.norm(t) > 1e-6 else np.array([1.0, 0, 0])
        b = np.cross(n, t)
        h = p.card_size_m * rng.uniform(0.7, 1.2) / 2
        quads.append([c - t * h - b * h, c + t * h - b * h, c + t * h + b * h, c - t * h + b * h])
        uvs.append(_UNIT_CARD_UV)
    return _card_mesh(name, quads, uvs, "bush", material, collection)


@dataclass
class FernParams:
    fronds: int = param(8, 2, 30, "", "fronds")
    length_m: float = param(0.7, 0.1, 2.5, "m", "frond length")
    pinnae: int = param(12, 3, 40, "", "leaflet pairs per frond")
    arch: float = param(0.5, 0.0, 1.0, "", "how high fronds arch before drooping")
    seed: int = param(0, 0, 2**31 - 1)


def sample_fern(rng: np.random.Generator) -> FernParams:
    return FernParams(fronds=int(rng.integers(5, 14)), length_m=float(rng.uniform(0.35, 1.1)),
                      pinnae=int(rng.integers(8, 18)), arch=float(rng.uniform(0.3, 0.8)),
                      seed=int(rng.integers(0, 2**31 - 1)))


def build_fern(p: FernParams, name: str = "fern", material=None, collection=None):
    """Arching fronds from one crown, each a rachis with paired leaflet cards shrinking to the tip."""
    check(p)
    rng = _rng(p.seed)
    quads, uvs = [], []
    for k in range(p.fronds):
        az = 2 * np.pi * (k + rng.uniform(-0.3, 0.3)) / p.fronds
        d = np.array([math.cos(az), math.sin(az), 0.0])
        side = np.array([-d[1], d[0], 0.0])
        L = p.length_m * rng.uniform(0.75, 1.1)
        tilt = rng.uniform(0.5, 1.0) * p.arch
        for i in range(p.pinnae):
            s = (i + 0.5) / p.pinnae
            # A parabola: up and out, drooping towards the tip.
            pos = d * (s * L * 0.9) + np.array([0, 0, L * tilt * (s - 0.8 * s * s) + 0.02])
            w = L * 0.18 * (1.0 - 0.85 * s)
            ahead = d * (L * 0.06) + np.array([0, 0, L * tilt * 0.06 * (1 - 1.6 * s)])
            for sgn in (-1, 1):
                out = side * sgn * w + np.array([0, 0, -0.25 * w])
                quads.append([pos, pos + ahead, pos + ahead * 0.6 + out, pos - ahead * 0.2 + out])
                uvs.append(_UNIT_CARD_UV)
    return _card_mesh(name, quads, uvs, "fern", material, collection)


#: family -> (sample_params, build, semantic category)
FAMILIES = {
    "pebble": (sample_pebble, build_pebble, "pebble"),
    "twig": (sample_twig, build_twig, "twig"),
    "log": (sample_log, build_log, "log"),
    "cactus": (sample_cactus, build_cactus, "cactus"),
    "mushroom": (sample_mushroom, build_mushroom, "mushroom"),
    "leaf_litter": (sample_litter, build_litter, "leaf_litter"),
    "dead_grass": (sample_tuft, build_tuft, "dead_grass"),
    "bush": (sample_bush, build_bush, "bush"),
    "fern": (sample_fern, build_fern, "fern"),
}

#: Per family: where it is scattered (ground_cover.MASKS), steepest ground (deg), patchiness
#: (mask noise wavelength m, threshold), instance scale range, and the default material kind.
DEFAULTS = {
    "pebble": {"mask": "view_near", "slope": 45.0, "patch": (3.0, 0.45), "scale": (0.6, 1.6), "material": "pebbles"},
    "twig": {"mask": "view_near", "slope": 35.0, "patch": (4.0, 0.45), "scale": (0.7, 1.3), "material": "bark"},
    "leaf_litter": {"mask": "view_near", "slope": 35.0, "patch": (2.5, 0.42), "scale": (0.8, 1.3),
                    "material": "dry_leaf"},
    "mushroom": {"mask": "view_near", "slope": 30.0, "patch": (3.0, 0.6), "scale": (0.7, 1.4), "material": "mushroom"},
    "dead_grass": {"mask": "view_far", "slope": 40.0, "patch": (5.0, 0.5), "scale": (0.7, 1.4), "material": "straw"},
    "fern": {"mask": "view_far", "slope": 35.0, "patch": (6.0, 0.5), "scale": (0.7, 1.3), "material": "fern"},
    "bush": {"mask": "view_far", "slope": 30.0, "patch": (10.0, 0.5), "scale": (0.7, 1.5), "material": "leaf"},
    "cactus": {"mask": "view_far", "slope": 25.0, "patch": (15.0, 0.45), "scale": (0.7, 1.3), "material": "cactus"},
    "log": {"mask": "view_far", "slope": 20.0, "patch": (12.0, 0.45), "scale": (0.8, 1.2), "material": "bark"},
}


def sample_layer(rng: np.random.Generator, family: str, density_per_m2: float):
    """The scatter layer of ``family`` at ``density_per_m2`` (before masking), patch noise drawn."""
    from .ground_cover import CoverLayer

    d = DEFAULTS[family]
    scale_m, threshold = d["patch"]
    return CoverLayer(density_per_m2=float(density_per_m2), max_slope_deg=d["slope"],
                      mask_scale_m=float(scale_m * rng.uniform(0.7, 1.4)),
                      mask_threshold=float(np.clip(threshold + rng.normal(0, 0.04), 0.0, 1.0)),
                      scale_min=d["scale"][0], scale_max=d["scale"][1], seed=int(rng.integers(0, 2**31 - 1)),
                      mask=d["mask"])
