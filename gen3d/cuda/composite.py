"""Fused CUDA volume compositing of a padded (rays, samples) layout, forward and backward.

Inputs per ray r and sample i (samples in ray order): optical thickness ``tau[r, i] = sigma delta``
(0 for samples that were not evaluated), colour ``colors[r, i, :]`` (C <= 8 channels), distance
``t[r, i]`` and the background ``background[r, :]``. Outputs, exactly as
:mod:`procdream.gen3d.nerf.render` defines them:

    alpha_i = 1 - exp(-min(tau_i, 60)),   T_i = exp(-sum_{j<i} tau_j)  (0 once the sum reaches 60)
    weights_i = alpha_i T_i,   left = T_S,   opacity = 1 - left
    latent = sum_i weights_i colors_i + left background,   depth = sum_i weights_i t_i / max(opacity, eps)

:func:`composite_reference` is the torch version (any device, autograd); :func:`composite` runs the
kernel (one thread per ray, two passes in backward: totals, then a running suffix sum) for float32
CUDA inputs and falls back to the reference otherwise. Gradients flow to ``tau``, ``colors`` and
``background`` (not ``t``). The extension is built like ``gen3d.cuda.hashgrid``'s (on first use, only
with CUDA, cached under the user's cache folder).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .hashgrid import load_extension

#: Optical thickness treated as fully opaque (keeps exp() out of subnormals; see nerf.render).
TAU_MAX = 60.0
#: Largest channel count the kernel takes.
MAX_CHANNELS = 8


def _transmittance(depth: Tensor) -> Tensor:
    clamped = depth.clamp(max=TAU_MAX)
    return torch.where(depth < TAU_MAX, torch.exp(-clamped), torch.zeros_like(clamped))


def composite_reference(tau: Tensor, colors: Tensor, t: Tensor, background: Tensor,
                        depth_eps: float = 1e-6) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Torch compositing: tau (R, S), colors (R, S, C), t (R, S), background (R, C) ->
    latent (R, C), opacity (R,), depth (R,), weights (R, S)."""
    alpha = 1 - torch.exp(-tau.clamp(max=TAU_MAX))
    inclusive = torch.cumsum(tau, dim=1)
    weights = alpha * _transmittance(inclusive - tau)
    left = _transmittance(inclusive[:, -1])
    opacity = 1 - left
    latent = (weights.unsqueeze(-1) * colors).sum(dim=1) + left[:, None] * background
    depth = (weights * t).sum(dim=1) / opacity.clamp(min=depth_eps)
    return latent, opacity, depth, weights


_CPP = """
#include <torch/extension.h>
std::vector<torch::Tensor> composite_forward(torch::Tensor tau, torch::Tensor colors, torch::Tensor t,
                                             torch::Tensor background, double eps);
std::vector<torch::Tensor> composite_backward(torch::Tensor grad_latent, torch::Tensor grad_opacity,
                                              torch::Tensor grad_depth, torch::Tensor grad_weights,
                                              torch::Tensor tau, torch::Tensor colors, torch::Tensor t,
                                              torch::Tensor background, double eps);
"""

_CUDA = r"""
#include <torch/extension.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <vector>

namespace {

constexpr int kMaxC = 8;
constexpr float kTauMax = 60.0f;
constexpr int kThreads = 128;

__device__ __forceinline__ float transmittance(float depth) {
  return depth < kTauMax ? expf(-depth) : 0.0f;
}

__global__ void forward_kernel(const float* __restrict__ tau, const float* __restrict__ colors,
                               const float* __restrict__ t, const float* __restrict__ bg, int64_t R, int S, int C,
                               float eps, float* __restrict__ latent, float* __restrict__ opacity,
                               float* __restrict__ depth, float* __restrict__ weights) {
  const int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= R) return;
  float acc[kMaxC];
  for (int c = 0; c < C; ++c) acc[c] = 0.0f;
  float before = 0.0f, dnum = 0.0f;
  for (int i = 0; i < S; ++i) {
    const int64_t k = r * S + i;
    const float ti = tau[k];
    const float w = (1.0f - expf(-fminf(ti, kTauMax))) * transmittance(before);
    weights[k] = w;
    for (int c = 0; c < C; ++c) acc[c] += w * colors[k * C + c];
    dnum += w * t[k];
    before += ti;
  }
  const float left = transmittance(before);
  const float o = 1.0f - left;
  opacity[r] = o;
  depth[r] = dnum / fmaxf(o, eps);
  for (int c = 0; c < C; ++c) latent[r * C + c] = acc[c] + left * bg[r * C + c];
}

// d loss / d tau_i = s_i dw_i/dtau_i - sum_{k>i} w_k s_k + left (g_opacity_eff - g_latent . bg), with
// s_k = g_latent . colors_k + g_depth / max(opacity, eps) t_k + g_weights_k (the loss seen through w_k).
__global__ void backward_kernel(const float* __restrict__ gl, const float* __restrict__ go,
                                const float* __restrict__ gd, const float* __restrict__ gw,
                                const float* __restrict__ tau, const float* __restrict__ colors,
                                const float* __restrict__ t, const float* __restrict__ bg, int64_t R, int S, int C,
                                float eps, float* __restrict__ gtau, float* __restrict__ gcol,
                                float* __restrict__ gbg) {
  const int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= R) return;
  float g[kMaxC];
  for (int c = 0; c < C; ++c) g[c] = gl[r * C + c];
  // Pass 1: the totals the gradient needs.
  float before = 0.0f, dnum = 0.0f;
  for (int i = 0; i < S; ++i) {
    const int64_t k = r * S + i;
    const float w = (1.0f - expf(-fminf(tau[k], kTauMax))) * transmittance(before);
    dnum += w * t[k];
    before += tau[k];
  }
  const float left = transmittance(before);
  const float o = 1.0f - left;
  const float denom = fmaxf(o, eps);
  const float gdn = gd[r] / denom;
  const float go_eff = go[r] + (o > eps ? -gd[r] * dnum / (o * o) : 0.0f);
  float bgdot = 0.0f;
  for (int c = 0; c < C; ++c) bgdot += g[c] * bg[r * C + c];
  float total = 0.0f;
  before = 0.0f;
  for (int i = 0; i < S; ++i) {
    const int64_t k = r * S + i;
    const float w = (1.0f - expf(-fminf(tau[k], kTauMax))) * transmittance(before);
    float s = gdn * t[k] + gw[k];
    for (int c = 0; c < C; ++c) s += g[c] * colors[k * C + c];
    total += w * s;
    before += tau[k];
  }
  // Pass 2: per sample, with the running suffix sum of w_k s_k over the later samples.
  float prefix = 0.0f;
  before = 0.0f;
  const float tail = left * (go_eff - bgdot);
  for (int i = 0; i < S; ++i) {
    const int64_t k = r * S + i;
    const float ti = tau[k];
    const float T = transmittance(before);
    const float w = (1.0f - expf(-fminf(ti, kTauMax))) * T;
    float s = gdn * t[k] + gw[k];
    for (int c = 0; c < C; ++c) s += g[c] * colors[k * C + c];
    prefix += w * s;
    const float self = ti <= kTauMax ? T * expf(-ti) : 0.0f;
    gtau[k] = s * self - (total - prefix) + tail;
    for (int c = 0; c < C; ++c) gcol[k * C + c] = w * g[c];
    before += ti;
  }
  for (int c = 0; c < C; ++c) gbg[r * C + c] = left * g[c];
}

void check(const torch::Tensor& tau, const torch::Tensor& colors, const torch::Tensor& t,
           const torch::Tensor& bg) {
  TORCH_CHECK(tau.is_cuda() && tau.dim() == 2 && tau.scalar_type() == torch::kFloat32, "tau: float32 CUDA (R, S)");
  TORCH_CHECK(colors.dim() == 3 && colors.size(0) == tau.size(0) && colors.size(1) == tau.size(1) &&
              colors.size(2) <= kMaxC && colors.scalar_type() == torch::kFloat32, "colors: float32 (R, S, C <= 8)");
  TORCH_CHECK(t.sizes() == tau.sizes() && t.scalar_type() == torch::kFloat32, "t: float32 (R, S)");
  TORCH_CHECK(bg.dim() == 2 && bg.size(0) == tau.size(0) && bg.size(1) == colors.size(2) &&
              bg.scalar_type() == torch::kFloat32, "background: float32 (R, C)");
}

}  // namespace

std::vector<torch::Tensor> composite_forward(torch::Tensor tau, torch::Tensor colors, torch::Tensor t,
                                             torch::Tensor background, double eps) {
  check(tau, colors, t, background);
  const c10::cuda::CUDAGuard guard(tau.device());
  tau = tau.contiguous(); colors = colors.contiguous(); t = t.contiguous(); background = background.contiguous();
  const int64_t R = tau.size(0);
  const int S = (int)tau.size(1), C = (int)colors.size(2);
  auto latent = torch::empty({R, (int64_t)C}, tau.options());
  auto opacity = torch::empty({R}, tau.options());
  auto depth = torch::empty({R}, tau.options());
  auto weights = torch::empty({R, (int64_t)S}, tau.options());
  if (R > 0) {
    const int64_t blocks = (R + kThreads - 1) / kThreads;
    forward_kernel<<<(unsigned)blocks, kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
        tau.data_ptr<float>(), colors.data_ptr<float>(), t.data_ptr<float>(), background.data_ptr<float>(), R, S,
        C, (float)eps, latent.data_ptr<float>(), opacity.data_ptr<float>(), depth.data_ptr<float>(),
        weights.data_ptr<float>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }
  return {latent, opacity, depth, weights};
}

std::vector<torch::Tensor> composite_backward(torch::Tensor grad_latent, torch::Tensor grad_opacity,
                                              torch::Tensor grad_depth, torch::Tensor grad_weights,
                                              torch::Tensor tau, torch::Tensor colors, torch::Tensor t,
                                              torch::Tensor background, double eps) {
  check(tau, colors, t, background);
  const c10::cuda::CUDAGuard guard(tau.device());
  tau = tau.contiguous(); colors = colors.contiguous(); t = t.contiguous(); background = background.contiguous();
  auto gl = grad_latent.to(torch::kFloat32).contiguous();
  auto go = grad_opacity.to(torch::kFloat32).contiguous();
  auto gd = grad_depth.to(torch::kFloat32).contiguous();
  auto gw = grad_weights.to(torch::kFloat32).contiguous();
  const int64_t R = tau.size(0);
  const int S = (int)tau.size(1), C = (int)colors.size(2);
  TORCH_CHECK(gl.numel() == R * C && go.numel() == R && gd.numel() == R && gw.numel() == R * S,
              "gradient shapes do not match the inputs");
  auto gtau = torch::empty_like(tau);
  auto gcol = torch::empty_like(colors);
  auto gbg = torch::empty_like(background);
  if (R > 0) {
    const int64_t blocks = (R + kThreads - 1) / kThreads;
    backward_kernel<<<(unsigned)blocks, kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
        gl.data_ptr<float>(), go.data_ptr<float>(), gd.data_ptr<float>(), gw.data_ptr<float>(),
        tau.data_ptr<float>(), colors.data_ptr<float>(), t.data_ptr<float>(), background.data_ptr<float>(), R, S,
        C, (float)eps, gtau.data_ptr<float>(), gcol.data_ptr<float>(), gbg.data_ptr<float>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }
  return {gtau, gcol, gbg};
}
"""


def _ext():
    return load_extension("procdream_composite_v1", _CPP, _CUDA, ["composite_forward", "composite_backward"])


class _CudaComposite(torch.autograd.Function):
    @staticmethod
    def forward(ctx, tau, colors, t, background, eps, ext):
        latent, opacity, depth, weights = ext.composite_forward(tau, colors, t, background, float(eps))
        ctx.save_for_backward(tau, colors, t, background)
        ctx.meta = (eps, ext)
        return latent, opacity, depth, weights

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_latent, g_opacity, g_depth, g_weights):
        tau, colors, t, background = ctx.saved_tensors
        eps, ext = ctx.meta
        gtau, gcol, gbg = ext.composite_backward(g_latent, g_opacity, g_depth, g_weights, tau, colors, t,
                                                 background, float(eps))
        return gtau, gcol, None, gbg, None, None


def kernel_usable(tau: Tensor, colors: Tensor, t: Tensor, background: Tensor) -> bool:
    """Whether :func:`composite` would run the CUDA kernel for these inputs (building it if needed)."""
    tensors = (tau, colors, t, background)
    return (all(x.is_cuda and x.dtype == torch.float32 for x in tensors)
            and colors.shape[-1] <= MAX_CHANNELS and _ext() is not None)


def composite(tau: Tensor, colors: Tensor, t: Tensor, background: Tensor,
              depth_eps: float = 1e-6) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """:func:`composite_reference`'s outputs, from the CUDA kernel when usable."""
    if kernel_usable(tau, colors, t, background):
        return _CudaComposite.apply(tau, colors, t.detach(), background, depth_eps, _ext())
    return composite_reference(tau, colors, t, background, depth_eps)
