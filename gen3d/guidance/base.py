"""Score distillation sampling (SDS), shared by every guidance backend.

Conventions used throughout ``gen3d.guidance``:

- Latents are ``(B, 4, h, w)`` SD-scaled latents (the VAE posterior mean times the VAE scaling factor,
  roughly N(0, 1)). RGB images are ``(B, 3, H, W)`` floats in [0, 1], ``H = h * vae_scale_factor``.
- Timesteps are integers in ``[0, T)``, ``T`` the number of training steps (1000 for SD); ``ab_t`` is
  the cumulative product of ``1 - beta`` (``alphas_cumprod[t]``), so ``x_t = sqrt(ab_t) z +
  sqrt(1 - ab_t) eps``.
- Camera azimuth is in degrees with 0 looking at the object's front, elevation in degrees above the
  horizon. Both only affect view-dependent prompt suffixes.
- All randomness comes from the ``torch.Generator`` passed to :meth:`Guidance.sds`.

A backend provides the noise predictor (:meth:`Guidance.predict_noise`), ``alphas_cumprod``, prompt
encoding and the VAE maps; :meth:`Guidance.sds` does the rest, once for all backends.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor


class GuidanceError(ValueError):
    """Bad input to a guidance backend: a missing model, an unusable prompt, a wrong tensor shape."""


#: ``sds``: w(t) = 1 - ab_t (DreamFusion, threestudio). ``latent-nerf``: w(t) = sqrt(ab_t) (1 - ab_t).
WEIGHTINGS = ("sds", "latent-nerf")


@dataclass
class GuidanceConfig:
    """How :meth:`Guidance.sds` samples timesteps, guides and weights (REFERENCE: "Score distillation").

    guidance_scale: classifier-free guidance scale ``s`` in ``eps_u + s (eps_c - eps_u)``; 100 as in
        Latent-NeRF / Latent-Paint.
    min_step_ratio, max_step_ratio: timesteps are drawn uniformly from the integers
        ``round(min * T) .. round(max * T)`` (inclusive), i.e. 20..980 for T = 1000.
    weighting: one of :data:`WEIGHTINGS`.
    view_dependent: append ", front view" etc. to the prompt from each sample's camera angles.
    num_train_timesteps: T of the DDPM schedule the analytic prior builds; the SD backend takes T
        from its scheduler config instead.
    """

    guidance_scale: float = 100.0
    min_step_ratio: float = 0.02
    max_step_ratio: float = 0.98
    weighting: str = "sds"
    view_dependent: bool = True
    num_train_timesteps: int = 1000

    def __post_init__(self) -> None:
        if not math.isfinite(self.guidance_scale) or self.guidance_scale < 0:
            raise GuidanceError(f"guidance_scale must be a finite number >= 0, got {self.guidance_scale}")
        if not 0.0 <= self.min_step_ratio < self.max_step_ratio <= 1.0:
            raise GuidanceError("need 0 <= min_step_ratio < max_step_ratio <= 1, got "
                                f"{self.min_step_ratio} and {self.max_step_ratio}")
        if self.weighting not in WEIGHTINGS:
            raise GuidanceError(f"weighting must be one of {WEIGHTINGS}, got {self.weighting!r}")
        if self.num_train_timesteps < 2:
            raise GuidanceError(f"num_train_timesteps must be >= 2, got {self.num_train_timesteps}")


def view_prompt(prompt: str, azimuth_deg: float, elevation_deg: float) -> str:
    """The prompt with a view-dependent suffix (DreamFusion-style).

    The azimuth is wrapped to (-180, 180]; 0 is the front. ", front view" when |azimuth| < 45,
    ", back view" when |azimuth| > 135, ", side view" otherwise. When the elevation is above 60
    degrees the suffix is ", overhead view" *instead*: from that high the camera sees mostly the top,
    and "front view, overhead view" would ask the model for two contradictory images.
    """
    if float(elevation_deg) > 60.0:
        return prompt + ", overhead view"
    azimuth = math.remainder(float(azimuth_deg), 360.0)  # in [-180, 180]
    if azimuth == -180.0:
        azimuth = 180.0
    if abs(azimuth) < 45.0:
        return prompt + ", front view"
    if abs(azimuth) > 135.0:
        return prompt + ", back view"
    return prompt + ", side view"


def scaled_linear_alphas_cumprod(num_train_timesteps: int = 1000, beta_start: float = 0.00085,
                                 beta_end: float = 0.012) -> Tensor:
    """``ab_t`` of the DDPM "scaled_linear" schedule SD was trained with: ``(T,)`` float32 on the CPU.

    betas are linear in sqrt(beta) from ``beta_start`` to ``beta_end``; ``ab_t = prod_{s<=t} (1 - beta_s)``.
    """
    betas = torch.linspace(beta_start ** 0.5, beta_end ** 0.5, num_train_timesteps, dtype=torch.float64) ** 2
    return torch.cumprod(1.0 - betas, dim=0).to(torch.float32)


@dataclass(frozen=True)
class PromptEmbeds:
    """Encoded prompt pair, each with a leading batch dimension of 1.

    What the tensors hold is the backend's business: CLIP hidden states ``(1, 77, D)`` for Stable
    Diffusion, the prior mean latent ``(1, 4)`` for the analytic prior.
    """

    cond: Tensor
    uncond: Tensor


@dataclass
class SDSResult:
    """One SDS step.

    loss: scalar; ``loss.backward()`` puts ``grad / B`` into ``latents.grad`` (no backprop through the
        noise predictor). Its value is ``0.5 ||grad||^2 / B``, not a measure of quality.
    t: ``(B,)`` int64 timesteps used.
    grad_norm: Frobenius norm of ``grad`` over the whole batch.
    grad: ``(B, 4, h, w)`` float32, detached: ``w(t) (eps_hat - eps)``.
    weights: ``(B,)`` float32, ``w(t)``.
    """

    loss: Tensor
    t: Tensor
    grad_norm: float
    grad: Tensor
    weights: Tensor


def _per_sample(values: Tensor | Sequence[float] | float, batch: int, what: str) -> list[float]:
    if isinstance(values, Tensor):
        flat = values.detach().reshape(-1).cpu().tolist()
    elif isinstance(values, int | float):
        flat = [float(values)]
    else:
        flat = [float(v) for v in values]
    if len(flat) == 1 and batch > 1:
        flat = flat * batch
    if len(flat) != batch:
        raise GuidanceError(f"{what} needs one value per latent (batch {batch}), got {len(flat)}")
    return flat


class Guidance(abc.ABC):
    """A score-distillation teacher: a noise predictor with prompt encoding and latent <-> RGB maps.

    Attributes: ``name``; ``is_test_prior`` (True only for the analytic prior, which the UI labels as
    a test prior); ``device``, ``dtype`` (of the noise predictor); ``latent_channels`` (4);
    ``vae_scale_factor`` (RGB pixels per latent pixel); ``alphas_cumprod`` (``(T,)`` float32 on
    ``device``); ``config`` (:class:`GuidanceConfig`).
    """

    name: str = "guidance"
    is_test_prior: bool = False
    latent_channels: int = 4
    vae_scale_factor: int = 1

    def __init__(self, config: GuidanceConfig | None, device: torch.device, dtype: torch.dtype,
                 alphas_cumprod: Tensor) -> None:
        self.config = config if config is not None else GuidanceConfig()
        self.device = torch.device(device)
        self.dtype = dtype
        if alphas_cumprod.ndim != 1 or alphas_cumprod.numel() < 2:
            raise GuidanceError(f"alphas_cumprod must be a (T,) tensor, got shape {tuple(alphas_cumprod.shape)}")
        self.alphas_cumprod = alphas_cumprod.to(self.device, torch.float32)
        self._prompt_cache: dict[tuple[str, str], PromptEmbeds] = {}

    # ----------------------------------------------------------------- backend hooks

    @abc.abstractmethod
    def _encode_prompt(self, prompt: str, negative: str) -> PromptEmbeds:
        """Encode one validated prompt pair (not cached; :meth:`encode_prompt` caches)."""

    @abc.abstractmethod
    def predict_noise(self, x_t: Tensor, t: Tensor, embeds_cond: Tensor,
                      embeds_uncond: Tensor) -> tuple[Tensor, Tensor]:
        """Unconditional and conditional noise predictions ``(eps_u, eps_c)``.

        x_t: ``(B, 4, h, w)`` float32 noisy latents on ``device``; t: ``(B,)`` int64 timesteps;
        embeds_cond / embeds_uncond: the :class:`PromptEmbeds` tensors of each sample concatenated
        along dim 0 (batch B). Returns two ``(B, 4, h, w)`` float32 tensors, without autograd history.
        """

    @abc.abstractmethod
    def decode(self, latents: Tensor) -> Tensor:
        """``(B, 4, h, w)`` latents -> ``(B, 3, h * vae_scale_factor, w * vae_scale_factor)`` RGB in [0, 1]."""

    @abc.abstractmethod
    def encode(self, rgb: Tensor) -> Tensor:
        """``(B, 3, H, W)`` RGB in [0, 1] -> ``(B, 4, H / vae_scale_factor, W / vae_scale_factor)`` latents."""

    # ----------------------------------------------------------------- prompts

    def encode_prompt(self, prompt: str, negative: str = "") -> PromptEmbeds:
        """Encoded ``(prompt, negative)``, cached per exact string pair for the life of this object."""
        if not isinstance(prompt, str) or not prompt.strip():
            raise GuidanceError("empty prompt: describe what to generate, e.g. 'a red wooden chair'")
        if not isinstance(negative, str):
            raise GuidanceError(f"negative prompt must be a string, got {type(negative).__name__}")
        key = (prompt, negative)
        cached = self._prompt_cache.get(key)
        if cached is None:
            cached = self._encode_prompt(prompt, negative)
            self._prompt_cache[key] = cached
        return cached

    def precompute_prompts(self, prompt: str, negative: str = "") -> None:
        """Encode ``prompt`` and all its view-dependent variants now (e.g. before freeing the text encoder)."""
        self.encode_prompt(prompt, negative)
        if self.config.view_dependent:
            for azimuth, elevation in ((0.0, 0.0), (90.0, 0.0), (180.0, 0.0), (0.0, 90.0)):
                self.encode_prompt(view_prompt(prompt, azimuth, elevation), negative)

    def clear_prompt_cache(self) -> None:
        """Forget all cached prompt embeddings."""
        self._prompt_cache.clear()

    # ----------------------------------------------------------------- SDS

    @property
    def num_train_timesteps(self) -> int:
        """T, the number of diffusion training steps (length of ``alphas_cumprod``)."""
        return int(self.alphas_cumprod.numel())

    def timestep_range(self) -> tuple[int, int]:
        """Inclusive integer range ``(lo, hi)`` that :meth:`sds` draws t from."""
        steps = self.num_train_timesteps
        lo = min(max(round(self.config.min_step_ratio * steps), 0), steps - 1)
        hi = min(max(round(self.config.max_step_ratio * steps), lo), steps - 1)
        return lo, hi

    def sds_weights(self, alphas_cumprod_t: Tensor) -> Tensor:
        """w(t) for the configured weighting, elementwise on ``ab_t``."""
        if self.config.weighting == "latent-nerf":
            return alphas_cumprod_t.sqrt() * (1.0 - alphas_cumprod_t)
        return 1.0 - alphas_cumprod_t

    def sds(self, latents: Tensor, prompt: str, negative: str = "", *,
            azimuth_deg: Tensor | Sequence[float] | float | None = None,
            elevation_deg: Tensor | Sequence[float] | float | None = None,
            generator: torch.Generator) -> SDSResult:
        """One score-distillation step on ``latents`` (``(B, 4, h, w)``, normally requiring grad).

        Draws, from ``generator`` and in this order, ``t ~ U{lo..hi}`` (``(B,)``, see
        :meth:`timestep_range`) and ``eps ~ N(0, I)`` (float32, shape of ``latents``), both on the
        generator's device. Then ``x_t = sqrt(ab_t) z + sqrt(1 - ab_t) eps``, ``eps_hat = eps_u +
        s (eps_c - eps_u)`` (no grad), ``grad = w(t) (eps_hat - eps)`` and
        ``loss = 0.5 ||z - (z - grad).detach()||^2 / B``, so ``loss.backward()`` adds ``grad / B`` to
        ``latents.grad``. With ``config.view_dependent`` and ``azimuth_deg`` given, sample i uses
        ``view_prompt(prompt, azimuth_deg[i], elevation_deg[i])`` (elevation defaults to 0); a single
        number applies to the whole batch.
        """
        if not isinstance(latents, Tensor) or latents.ndim != 4 or latents.shape[1] != self.latent_channels:
            shape = tuple(latents.shape) if isinstance(latents, Tensor) else type(latents).__name__
            raise GuidanceError(f"latents must be (B, {self.latent_channels}, h, w), got {shape}")
        if not latents.is_floating_point():
            raise GuidanceError(f"latents must be floating point, got {latents.dtype}")
        if not isinstance(generator, torch.Generator):
            raise GuidanceError("sds needs a torch.Generator (all randomness comes from it)")
        batch = latents.shape[0]

        if self.config.view_dependent and azimuth_deg is not None:
            azimuths = _per_sample(azimuth_deg, batch, "azimuth_deg")
            elevations = _per_sample(0.0 if elevation_deg is None else elevation_deg, batch, "elevation_deg")
            prompts = [view_prompt(prompt, a, e) for a, e in zip(azimuths, elevations, strict=True)]
        else:
            prompts = [prompt] * batch
        embeds = {p: self.encode_prompt(p, negative) for p in dict.fromkeys(prompts)}
        cond = torch.cat([embeds[p].cond for p in prompts]).to(self.device)
        uncond = torch.cat([embeds[p].uncond for p in prompts]).to(self.device)

        lo, hi = self.timestep_range()
        t = torch.randint(lo, hi + 1, (batch,), generator=generator, device=generator.device)
        eps = torch.randn(latents.shape, generator=generator, device=generator.device, dtype=torch.float32)
        t = t.to(self.device)
        eps = eps.to(self.device)

        z = latents.detach().to(self.device, torch.float32)
        ab = self.alphas_cumprod[t].view(batch, 1, 1, 1)
        x_t = ab.sqrt() * z + (1.0 - ab).sqrt() * eps
        with torch.no_grad():
            eps_u, eps_c = self.predict_noise(x_t, t, cond, uncond)
            eps_hat = eps_u.float() + self.config.guidance_scale * (eps_c.float() - eps_u.float())
            weights = self.sds_weights(ab)
            grad = weights * (eps_hat - eps)

        target = (latents.detach().float() - grad.to(latents.device)).detach()
        loss = 0.5 * (latents.float() - target).square().sum() / batch
        return SDSResult(loss=loss, t=t, grad_norm=float(grad.norm()), grad=grad,
                         weights=weights.view(batch))
