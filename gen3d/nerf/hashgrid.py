"""Multi-resolution hash-grid encoding (instant-ngp style) in pure torch.

Conventions:

- Inputs are world points ``x`` of shape (N, 3) inside the cube ``[-bound, bound]^3``; points outside
  are clamped onto it (the NeRF never samples outside its box, so this only absorbs rounding).
- Level ``l`` (0-based, ``L`` levels) has resolution ``N_l = floor(base * b**l)`` cells per axis with
  ``b = exp((ln finest - ln base) / (L - 1))``, i.e. ``N_l + 1`` grid vertices per axis. A point maps
  to the continuous vertex coordinate ``p = (x + bound) / (2 bound) * N_l`` in ``[0, N_l]``.
- A level whose ``(N_l + 1)^3`` vertices fit in the table size ``T = 2**log2_table_size`` is stored
  densely (vertex ``(i, j, k)`` at row ``i + j (N_l+1) + k (N_l+1)^2``) and uses only that many rows;
  finer levels use the spatial hash ``(i * 1) xor (j * 2654435761) xor (k * 805459861) mod T``.
  The products are taken in int64 (no overflow: coordinates are < 2^12); because T divides 2^32 the
  result equals instant-ngp's uint32 hash.
- The 8 corner features of the containing cell are blended trilinearly; the output is
  (N, n_levels * n_features), level-major (level 0's features first), in the table's dtype.

All levels live in one ``(rows, n_features)`` parameter ``table``; ``offsets[l]`` is the first row of
level ``l``. The fast path (:class:`HashGrid`) is a custom autograd function that saves only ``x`` and
recomputes indices in backward, so memory stays ``O(N)`` rather than ``O(N * L * 8)``; gradients flow to
the table only (not to ``x``). :func:`reference_encode` is the slow, obviously-correct version the tests
compare against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

#: Hash multipliers per axis (instant-ngp's primes; 1 for x keeps neighbouring x cells coherent).
PRIMES = (1, 2654435761, 805459861)


@dataclass
class HashGridConfig:
    """Shape of the encoding (REFERENCE: 16 levels x 2 features, base 16, finest 2048-4096, T = 2^19).

    bound: the encoded box is ``[-bound, bound]^3`` in world units.
    chunk_size: points processed at once inside forward/backward; bounds the transient index tensors
        at ``chunk_size * n_levels * 8`` int64 (32 MiB with the defaults).
    backend: ``"torch"`` (this module) or ``"cuda"``: the fused kernels of ``gen3d.cuda.hashgrid`` for
        float32 CUDA inputs, JIT-built on first use, falling back to torch when they cannot be built.
    """

    n_levels: int = 16
    n_features: int = 2
    log2_table_size: int = 19
    base_resolution: int = 16
    finest_resolution: int = 2048
    bound: float = 1.0
    chunk_size: int = 1 << 15
    backend: str = "torch"

    def validate(self) -> None:
        """Raise ValueError naming the first bad field."""
        for name in ("n_levels", "n_features", "base_resolution", "chunk_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 1 <= self.log2_table_size <= 30:
            raise ValueError(f"log2_table_size must be in [1, 30], got {self.log2_table_size}")
        if self.finest_resolution < self.base_resolution:
            raise ValueError("finest_resolution must be >= base_resolution, got "
                             f"{self.finest_resolution} < {self.base_resolution}")
        if self.finest_resolution > 4096:
            # Keeps k * 805459861 etc. far from int64 overflow and the float32 vertex coordinate
            # accurate to ~1e-3 of a cell.
            raise ValueError(f"finest_resolution must be <= 4096, got {self.finest_resolution}")
        if not self.bound > 0:
            raise ValueError(f"bound must be > 0, got {self.bound}")
        if self.backend not in ("torch", "cuda"):
            raise ValueError(f"backend must be 'torch' or 'cuda', got {self.backend!r}")

    @property
    def output_dim(self) -> int:
        return self.n_levels * self.n_features


def level_resolutions(cfg: HashGridConfig) -> list[int]:
    """Cells per axis of each level: ``floor(base * b**l)``.

    A relative 1e-9 nudge before the floor makes the finest level come out as ``finest_resolution``
    instead of one less when ``b**(L-1)`` rounds just below the exact ratio.
    """
    if cfg.n_levels == 1:
        return [cfg.base_resolution]
    growth = math.exp((math.log(cfg.finest_resolution) - math.log(cfg.base_resolution)) / (cfg.n_levels - 1))
    return [int(math.floor(cfg.base_resolution * growth**level * (1 + 1e-9))) for level in range(cfg.n_levels)]


class HashGrid(nn.Module):
    """Multi-resolution hash-grid encoding: ``forward(x (N, 3)) -> (N, n_levels * n_features)``.

    ``generator`` (a CPU ``torch.Generator``) draws the table init U(-1e-4, 1e-4); build on the CPU and
    move the module with ``.to(device)`` afterwards. ``dtype`` is the table's dtype (float32 normally;
    float64 for gradient checks).
    """

    def __init__(self, cfg: HashGridConfig | None = None, *, generator: torch.Generator,
                 dtype: torch.dtype = torch.float32):
        super().__init__()
        self.cfg = cfg = cfg or HashGridConfig()
        cfg.validate()
        self.table_size = 1 << cfg.log2_table_size
        self.resolutions = level_resolutions(cfg)
        sizes = [min((r + 1) ** 3, self.table_size) for r in self.resolutions]
        self.dense = [(r + 1) ** 3 <= self.table_size for r in self.resolutions]
        # Resolutions grow with the level, so the dense levels are a prefix.
        self.n_dense = sum(self.dense)
        offsets = [0]
        for s in sizes[:-1]:
            offsets.append(offsets[-1] + s)
        self.sizes = sizes
        self.offsets = offsets
        rows = offsets[-1] + sizes[-1]
        init = torch.rand(rows, cfg.n_features, generator=generator, dtype=torch.float64) * 2e-4 - 1e-4
        self.table = nn.Parameter(init.to(dtype))
        # Per-level constants as buffers so they follow .to(device); not saved in the state dict.
        res = torch.tensor(self.resolutions, dtype=torch.int64)
        mult = torch.stack([torch.ones_like(res), res + 1, (res + 1) ** 2], dim=1)  # dense strides
        hashed = ~torch.tensor(self.dense)
        mult[hashed] = torch.tensor(PRIMES, dtype=torch.int64)
        self.register_buffer("_res", res, persistent=False)
        self.register_buffer("_mult", mult, persistent=False)
        self.register_buffer("_offsets", torch.tensor(offsets, dtype=torch.int64), persistent=False)

    @property
    def bound(self) -> float:
        return self.cfg.bound

    @property
    def output_dim(self) -> int:
        return self.cfg.output_dim

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2 or x.shape[1] != 3:
            raise ValueError(f"expected points of shape (N, 3), got {tuple(x.shape)}")
        if self.cfg.backend == "cuda" and x.is_cuda:
            from ..cuda.hashgrid import hash_encode  # builds the kernels on first use

            return hash_encode(self, x)
        return self.encode_torch(x)

    def encode_torch(self, x: Tensor) -> Tensor:
        """The pure-torch encoding (any device and float dtype), (N, 3) -> (N, n_levels * n_features)."""
        return _HashEncode.apply(x.detach(), self.table, self)

    # -- internals shared by forward and backward ------------------------------------------------

    def _corners(self, x: Tensor, index_dtype: torch.dtype = torch.int32) -> tuple[Tensor, Tensor]:
        """Table rows (L, 8, n) and trilinear weights (L, 8, n) of the cell corners of ``x`` (n, 3).

        Rows are int32 for the gather or int64 (``index_dtype``) for ``index_add_``, which is much
        slower with int32 indices on the CPU.

        Corner ``c = 4 bx + 2 by + bz`` is the vertex ``floor(p) + (bx, by, bz)``. The point axis is
        innermost so every elementwise op runs a long contiguous inner loop (with the 8 corners or
        the 3 axes innermost, torch's CPU kernels spend their time on loop overhead).
        """
        b = self.cfg.bound
        unit = ((x.clamp(-b, b) + b) / (2 * b)).t()  # (3, n) in [0, 1]
        res = self._res.to(x.dtype)[:, None, None]
        pos = unit.unsqueeze(0) * res  # (L, 3, n) in [0, N_l]
        # min(pos, N - 1/2) puts points on the upper face into the last cell, with fraction 1.
        cellf = torch.minimum(pos, res - 0.5).floor_()
        frac = pos - cellf
        wpair = torch.stack([1 - frac, frac], dim=1)  # (L, 2, 3, n): weight of vertex cell + bit
        w = (wpair[:, :, None, None, 0] * wpair[:, None, :, None, 1]) * wpair[:, None, None, :, 2]
        # Per-axis terms (vertex coordinate times stride or prime). Reducing them mod T before
        # combining is exact for the hash (T is a power of two and "& (T-1)" distributes over xor)
        # and a no-op for dense levels (every term < (N+1)^3 <= T); it lets the (L, 8, n) work run
        # in int32 for the gather.
        mult = self._mult[:, :, None]  # (L, 3, 1)
        lo = cellf.to(torch.int64).mul_(mult)
        hi = lo + mult
        mask = self.table_size - 1
        pair = torch.stack([lo.bitwise_and_(mask), hi.bitwise_and_(mask)], dim=1).to(index_dtype)
        levels, n = pos.shape[0], pos.shape[2]
        idx = torch.empty(levels, 2, 2, 2, n, dtype=index_dtype, device=x.device)
        nd = self.n_dense
        if nd > 0:
            p = pair[:nd]
            torch.add(p[:, :, None, None, 0] + p[:, None, :, None, 1], p[:, None, None, :, 2], out=idx[:nd])
        if nd < levels:
            p = pair[nd:]
            torch.bitwise_xor(p[:, :, None, None, 0] ^ p[:, None, :, None, 1], p[:, None, None, :, 2],
                              out=idx[nd:])
        idx = idx.view(levels, 8, n).add_(self._offsets.to(index_dtype)[:, None, None])
        return idx, w.reshape(levels, 8, n)

    def _gather(self, table: Tensor, idx: Tensor) -> Tensor:
        """Rows ``table[idx]``: (..., F) for int32 ``idx`` (...)."""
        feats = table.shape[1]
        row_bytes = feats * table.element_size()
        if row_bytes in _ROW_VIEW and table.is_contiguous():
            # One F-feature row as a single 2/4/8-byte element: a 1-D gather of whole rows is several
            # times faster on the CPU than index_select on a (rows, F) matrix.
            flat = table.view(_ROW_VIEW[row_bytes]).view(-1)
            return flat.index_select(0, idx.reshape(-1)).view(table.dtype).view(*idx.shape, feats)
        return table.index_select(0, idx.reshape(-1)).view(*idx.shape, feats)


#: Integer dtypes of the size of one table row, for the whole-row gather.
_ROW_VIEW = {2: torch.int16, 4: torch.int32, 8: torch.int64}


class _HashEncode(torch.autograd.Function):
    """Chunked gather + trilinear blend; backward recomputes the corners and scatters into the table."""

    @staticmethod
    def forward(ctx, x: Tensor, table: Tensor, grid: HashGrid) -> Tensor:
        n, chunk = x.shape[0], grid.cfg.chunk_size
        levels, feats = len(grid.resolutions), table.shape[1]
        out = table.new_empty(n, levels, feats)
        for start in range(0, n, chunk):
            idx, w = grid._corners(x[start:start + chunk])
            corners = grid._gather(table, idx)  # (L, 8, n, F)
            # mul + sum over the corner axis; einsum would first copy corners into a bmm layout.
            blended = (w.to(table.dtype).unsqueeze(-1) * corners).sum(dim=1)  # (L, n, F)
            out[start:start + chunk] = blended.transpose(0, 1)
        ctx.save_for_backward(x)
        ctx.grid = grid
        ctx.table_shape = table.shape
        return out.view(n, levels * feats)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out: Tensor):
        (x,) = ctx.saved_tensors
        grid = ctx.grid
        rows, feats = ctx.table_shape
        # Feature-major accumulator: index_add_ along dim 1 of an (F, rows) tensor is the fastest CPU
        # scatter measured (vs (rows, F) along dim 0); it needs int64 indices.
        grad_table = grad_out.new_zeros(feats, rows)
        g = grad_out.reshape(x.shape[0], -1, feats).permute(2, 1, 0).contiguous()  # (F, L, n)
        chunk = grid.cfg.chunk_size
        for start in range(0, x.shape[0], chunk):
            idx, w = grid._corners(x[start:start + chunk], torch.int64)
            contrib = g[:, :, None, start:start + chunk] * w.to(g.dtype).unsqueeze(0)  # (F, L, 8, n)
            grad_table.index_add_(1, idx.reshape(-1), contrib.reshape(feats, -1))
        # Back to (rows, F); one strided copy per feature is ~3x faster than .t().contiguous() here.
        grad = grad_table.new_empty(rows, feats)
        for f in range(feats):
            grad[:, f] = grad_table[f]
        return None, grad, None


def reference_encode(grid: HashGrid, x: Tensor) -> Tensor:
    """Slow reference of ``grid(x)``: python loops over levels and corners, float64 throughout.

    Differentiable w.r.t. ``grid.table`` through plain autograd. Returns (N, n_levels * n_features)
    float64.
    """
    cfg = grid.cfg
    x = x.detach().to(torch.float64).clamp(-cfg.bound, cfg.bound)
    table = grid.table.to(torch.float64)
    size = 1 << cfg.log2_table_size
    out = []
    for level, res in enumerate(grid.resolutions):
        pos = (x + cfg.bound) / (2 * cfg.bound) * res
        cell = torch.clamp(torch.floor(pos), 0, res - 1).to(torch.int64)
        frac = pos - cell.to(torch.float64)
        acc = torch.zeros(x.shape[0], cfg.n_features, dtype=torch.float64, device=x.device)
        for bx in (0, 1):
            for by in (0, 1):
                for bz in (0, 1):
                    i, j, k = cell[:, 0] + bx, cell[:, 1] + by, cell[:, 2] + bz
                    if (res + 1) ** 3 <= size:
                        row = i + j * (res + 1) + k * (res + 1) ** 2
                    else:
                        row = torch.bitwise_xor(torch.bitwise_xor(i * PRIMES[0], j * PRIMES[1]),
                                                k * PRIMES[2]) % size
                    weight = ((frac[:, 0] if bx else 1 - frac[:, 0]) * (frac[:, 1] if by else 1 - frac[:, 1])
                              * (frac[:, 2] if bz else 1 - frac[:, 2]))
                    acc = acc + weight[:, None] * table[grid.offsets[level] + row]
        out.append(acc)
    return torch.cat(out, dim=1)
