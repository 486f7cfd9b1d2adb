"""Fused CUDA kernels for the multi-resolution hash-grid encoding (forward and backward).

Same maths and conventions as :mod:`procdream.gen3d.nerf.hashgrid` (read that first): one thread per
(point, level) computes the 8 corner rows and trilinear weights and blends the features (forward) or
atomically adds ``weight * grad`` into the table gradient (backward). The hash uses uint32 arithmetic,
which equals the int64 version mod T because T is a power of two <= 2^30.

The extension is JIT-built with ``torch.utils.cpp_extension.load_inline`` on first use, only when
``torch.cuda.is_available()`` (never at import time), into ``$XDG_CACHE_HOME/procdream/torch_extensions``
(default ``~/.cache/...``). When CUDA, a compiler or ninja is missing, or the inputs are not float32
CUDA tensors, :func:`hash_encode` falls back to the torch implementation. Only the table receives
gradients (as in the torch path).
"""

from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path

import torch
from torch import Tensor

#: Largest feature count per level the kernels take (acc registers per thread).
MAX_FEATURES = 8

_CPP = """
#include <torch/extension.h>
torch::Tensor hash_forward(torch::Tensor x, torch::Tensor table, torch::Tensor res, torch::Tensor offsets,
                           double bound, int64_t log2_size);
torch::Tensor hash_backward(torch::Tensor grad_out, torch::Tensor x, torch::Tensor res, torch::Tensor offsets,
                            double bound, int64_t log2_size, int64_t rows, int64_t features);
"""

_CUDA = r"""
#include <torch/extension.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <cstdint>

namespace {

constexpr int kMaxF = 8;

// Corner rows and weights of point i at level l; returns false for out-of-range threads.
struct Corners {
  uint64_t row[8];
  float w[8];
};

__device__ __forceinline__ void corners(const float* __restrict__ x, int64_t i, int R, float bound,
                                        uint32_t size, int64_t offset, Corners& out) {
  int c[3];
  float f[3];
  for (int a = 0; a < 3; ++a) {
    float v = fminf(fmaxf(x[i * 3 + a], -bound), bound);
    float pos = (v + bound) / (2.0f * bound) * (float)R;
    // min(pos, R - 1/2): points on the upper face use the last cell with fraction 1 (as the torch path).
    float cf = floorf(fminf(pos, (float)R - 0.5f));
    c[a] = (int)cf;
    f[a] = pos - cf;
  }
  const uint64_t side = (uint64_t)R + 1;
  const bool dense = side * side * side <= (uint64_t)size;
  for (int k = 0; k < 8; ++k) {
    const int bx = (k >> 2) & 1, by = (k >> 1) & 1, bz = k & 1;
    const uint32_t xi = (uint32_t)(c[0] + bx), yi = (uint32_t)(c[1] + by), zi = (uint32_t)(c[2] + bz);
    uint64_t row;
    if (dense) {
      row = (uint64_t)xi + (uint64_t)yi * side + (uint64_t)zi * side * side;
    } else {
      row = (uint64_t)((xi * 1u) ^ (yi * 2654435761u) ^ (zi * 805459861u)) & (uint64_t)(size - 1);
    }
    out.row[k] = (uint64_t)offset + row;
    const float wx = bx ? f[0] : 1.0f - f[0];
    const float wy = by ? f[1] : 1.0f - f[1];
    const float wz = bz ? f[2] : 1.0f - f[2];
    out.w[k] = (wx * wy) * wz;
  }
}

// Thread t handles point t / L at level t % L, so neighbouring threads write neighbouring outputs.
__global__ void forward_kernel(const float* __restrict__ x, const float* __restrict__ table,
                               const int* __restrict__ res, const int64_t* __restrict__ offsets,
                               int64_t n, int L, int F, float bound, uint32_t size, float* __restrict__ out) {
  const int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= n * L) return;
  const int64_t i = t / L;
  const int l = (int)(t % L);
  Corners cs;
  corners(x, i, res[l], bound, size, offsets[l], cs);
  float acc[kMaxF];
  for (int q = 0; q < F; ++q) acc[q] = 0.0f;
  for (int k = 0; k < 8; ++k) {
    const float* e = table + cs.row[k] * F;
    for (int q = 0; q < F; ++q) acc[q] += cs.w[k] * e[q];
  }
  float* o = out + (i * L + l) * F;
  for (int q = 0; q < F; ++q) o[q] = acc[q];
}

__global__ void backward_kernel(const float* __restrict__ grad_out, const float* __restrict__ x,
                                const int* __restrict__ res, const int64_t* __restrict__ offsets,
                                int64_t n, int L, int F, float bound, uint32_t size, float* __restrict__ grad) {
  const int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= n * L) return;
  const int64_t i = t / L;
  const int l = (int)(t % L);
  Corners cs;
  corners(x, i, res[l], bound, size, offsets[l], cs);
  const float* g = grad_out + (i * L + l) * F;
  for (int k = 0; k < 8; ++k) {
    float* e = grad + cs.row[k] * F;
    for (int q = 0; q < F; ++q) atomicAdd(e + q, cs.w[k] * g[q]);
  }
}

void check(const torch::Tensor& x, const torch::Tensor& res, const torch::Tensor& offsets) {
  TORCH_CHECK(x.is_cuda() && x.scalar_type() == torch::kFloat32 && x.is_contiguous() && x.dim() == 2 &&
              x.size(1) == 3, "x must be a contiguous float32 CUDA tensor (N, 3)");
  TORCH_CHECK(res.is_cuda() && res.scalar_type() == torch::kInt32 && res.is_contiguous(), "res: int32 CUDA");
  TORCH_CHECK(offsets.is_cuda() && offsets.scalar_type() == torch::kInt64 && offsets.is_contiguous() &&
              offsets.numel() == res.numel(), "offsets: int64 CUDA, one per level");
}

constexpr int kThreads = 256;

}  // namespace

torch::Tensor hash_forward(torch::Tensor x, torch::Tensor table, torch::Tensor res, torch::Tensor offsets,
                           double bound, int64_t log2_size) {
  check(x, res, offsets);
  TORCH_CHECK(table.is_cuda() && table.scalar_type() == torch::kFloat32 && table.is_contiguous() &&
              table.dim() == 2 && table.size(1) <= kMaxF, "table: contiguous float32 CUDA (rows, F <= 8)");
  const c10::cuda::CUDAGuard guard(x.device());
  const int64_t n = x.size(0);
  const int L = (int)res.numel();
  const int F = (int)table.size(1);
  auto out = torch::empty({n, (int64_t)L * F}, table.options());
  const int64_t total = n * L;
  if (total == 0) return out;
  const int64_t blocks = (total + kThreads - 1) / kThreads;
  forward_kernel<<<(unsigned)blocks, kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
      x.data_ptr<float>(), table.data_ptr<float>(), res.data_ptr<int>(), offsets.data_ptr<int64_t>(), n, L, F,
      (float)bound, (uint32_t)(1u << log2_size), out.data_ptr<float>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

torch::Tensor hash_backward(torch::Tensor grad_out, torch::Tensor x, torch::Tensor res, torch::Tensor offsets,
                            double bound, int64_t log2_size, int64_t rows, int64_t features) {
  check(x, res, offsets);
  const c10::cuda::CUDAGuard guard(x.device());
  const int64_t n = x.size(0);
  const int L = (int)res.numel();
  const int F = (int)features;
  TORCH_CHECK(F >= 1 && F <= kMaxF, "features must be in [1, 8]");
  auto g = grad_out.contiguous().to(torch::kFloat32);
  TORCH_CHECK(g.numel() == n * L * F, "grad_out must have N * L * F elements");
  auto grad = torch::zeros({rows, (int64_t)F}, x.options());
  const int64_t total = n * L;
  if (total == 0) return grad;
  const int64_t blocks = (total + kThreads - 1) / kThreads;
  backward_kernel<<<(unsigned)blocks, kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
      g.data_ptr<float>(), x.data_ptr<float>(), res.data_ptr<int>(), offsets.data_ptr<int64_t>(), n, L, F,
      (float)bound, (uint32_t)(1u << log2_size), grad.data_ptr<float>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return grad;
}
"""

_lock = threading.Lock()
_cache: dict[str, object] = {}


def extension_dir(name: str) -> Path:
    """Build folder of a JIT extension: ``$XDG_CACHE_HOME/procdream/torch_extensions/<name>``."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "procdream" / "torch_extensions" / name


def load_extension(name: str, cpp: str, cuda: str, functions: list[str]):
    """The compiled module, or None when CUDA, the CUDA compiler or ninja is unavailable or the build
    fails (warned once per name). Built at most once per process; later processes reuse the cache."""
    with _lock:
        if name in _cache:
            return _cache[name]
        module = None
        if torch.cuda.is_available():
            try:
                from torch.utils import cpp_extension

                build = extension_dir(name)
                build.mkdir(parents=True, exist_ok=True)
                module = cpp_extension.load_inline(name=name, cpp_sources=cpp, cuda_sources=cuda,
                                                   functions=functions, extra_cuda_cflags=["-O3"],
                                                   build_directory=str(build), verbose=False)
            except Exception as exc:  # no nvcc / ninja / matching toolkit: the torch path still works
                warnings.warn(f"CUDA extension {name} unavailable, using the torch implementation: {exc}",
                              RuntimeWarning, stacklevel=3)
                module = None
        _cache[name] = module
        return module


def _ext():
    return load_extension("procdream_hashgrid_v1", _CPP, _CUDA, ["hash_forward", "hash_backward"])


class _CudaHashEncode(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, table: Tensor, grid, ext) -> Tensor:
        res = grid._res.to(device=x.device, dtype=torch.int32)
        offsets = grid._offsets.to(device=x.device)
        ctx.save_for_backward(x)
        ctx.meta = (grid, ext, table.shape[0], table.shape[1])
        return ext.hash_forward(x, table.contiguous(), res, offsets, float(grid.cfg.bound),
                                int(grid.cfg.log2_table_size))

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out: Tensor):
        (x,) = ctx.saved_tensors
        grid, ext, rows, feats = ctx.meta
        res = grid._res.to(device=x.device, dtype=torch.int32)
        offsets = grid._offsets.to(device=x.device)
        grad = ext.hash_backward(grad_out, x, res, offsets, float(grid.cfg.bound), int(grid.cfg.log2_table_size),
                                 int(rows), int(feats))
        return None, grad, None, None


def kernel_usable(grid, x: Tensor) -> bool:
    """Whether :func:`hash_encode` would run the CUDA kernel for these inputs (building it if needed)."""
    return (x.is_cuda and grid.table.is_cuda and grid.table.dtype == torch.float32
            and grid.table.shape[1] <= MAX_FEATURES and _ext() is not None)


def hash_encode(grid, x: Tensor) -> Tensor:
    """``grid``'s encoding of ``x`` (N, 3): the CUDA kernel when usable, else ``grid.encode_torch(x)``.

    ``grid`` is a :class:`procdream.gen3d.nerf.hashgrid.HashGrid`; output (N, n_levels * n_features).
    """
    if kernel_usable(grid, x):
        return _CudaHashEncode.apply(x.detach().to(torch.float32).contiguous(), grid.table, grid, _ext())
    return grid.encode_torch(x)
