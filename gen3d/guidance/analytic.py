"""The analytic Gaussian test prior: a "diffusion model" whose exact noise prediction is known.

For a prompt naming a colour c, the data distribution is ``p(x0 | prompt) = N(mu, s0^2 I)`` with
``mu = rgb_to_latent(c)`` at every pixel. It needs no weights, runs anywhere in float32, and lets
optimisation tests check against a known optimum. The UI labels it as a test prior
(``is_test_prior``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .base import Guidance, GuidanceConfig, GuidanceError, PromptEmbeds, scaled_linear_alphas_cumprod
from .colors import color_from_prompt
from .latent_rgb import RIDGE, latent_to_rgb, rgb_to_latent


@dataclass
class AnalyticConfig:
    """Parameters of the analytic prior.

    sigma0: per-pixel standard deviation ``s0`` of x0 around the colour latent ``mu``.
    beta_start, beta_end: DDPM "scaled_linear" schedule (SD's), over ``GuidanceConfig.num_train_timesteps``.
    ridge: ridge term of the colour -> latent inverse (:func:`latent_rgb.rgb_to_latent`).
    """

    sigma0: float = 0.05
    beta_start: float = 0.00085
    beta_end: float = 0.012
    ridge: float = RIDGE

    def __post_init__(self) -> None:
        if not self.sigma0 > 0:
            raise GuidanceError(f"sigma0 must be > 0, got {self.sigma0}")
        if not 0 < self.beta_start < self.beta_end < 1:
            raise GuidanceError(f"need 0 < beta_start < beta_end < 1, got {self.beta_start}, {self.beta_end}")


class AnalyticGuidance(Guidance):
    """Exact SDS teacher for ``x0 ~ N(mu, s0^2 I)``, ``mu`` the latent of the colour in the prompt.

    Noise prediction. With ``a = sqrt(ab_t)``, ``x_t = a x0 + sqrt(1 - ab_t) eps`` is Gaussian with
    mean ``a mu`` and variance ``ab_t s0^2 + 1 - ab_t`` per pixel, and ``Cov(eps, x_t) = sqrt(1 - ab_t)``,
    so the MMSE predictor is::

        E[eps | x_t] = sqrt(1 - ab_t) (x_t - sqrt(ab_t) mu) / (ab_t s0^2 + 1 - ab_t).

    No separate unconditional model (a decision). The unconditional prediction is the conditional one
    (``uncond = cond``; the negative prompt is ignored), so classifier-free guidance leaves the
    prediction unchanged at any scale. Why: averaging the SDS gradient over eps gives
    ``E[grad] = w(t) sqrt(ab_t (1 - ab_t)) (z - mu*) / (ab_t s0^2 + 1 - ab_t)`` with
    ``mu* = mu_u + s (mu_c - mu_u)`` because eps_hat is affine in the means. So SDS drives z to
    ``mu*``. With ``mu_u = mu_c`` the optimum is exactly ``mu`` (the prompt's colour), which is what
    the optimisation tests check. A distinct unconditional mean would move the optimum to
    ``mu_u + 100 (mu_c - mu_u)`` at the default scale, far outside any colour, and the "known
    optimum" check would be meaningless.

    The decoder is the linear map :func:`latent_rgb.latent_to_rgb` (clamped to [0, 1]), the encoder
    its ridge inverse; both keep the spatial size (``vae_scale_factor`` = 1).
    """

    name = "analytic-gaussian"
    is_test_prior = True
    vae_scale_factor = 1

    def __init__(self, config: GuidanceConfig | None = None, analytic: AnalyticConfig | None = None,
                 device: torch.device | str = "cpu") -> None:
        config = config if config is not None else GuidanceConfig()
        self.analytic = analytic if analytic is not None else AnalyticConfig()
        schedule = scaled_linear_alphas_cumprod(config.num_train_timesteps, self.analytic.beta_start,
                                                self.analytic.beta_end)
        super().__init__(config, torch.device(device), torch.float32, schedule)

    def prior_mean(self, prompt: str) -> Tensor:
        """``mu`` for a prompt: ``(4,)`` float32 latent of its colour, on ``device``."""
        _, rgb = color_from_prompt(prompt)
        rgb_t = torch.tensor(rgb, dtype=torch.float32, device=self.device)
        return rgb_to_latent(rgb_t, ridge=self.analytic.ridge)

    def _encode_prompt(self, prompt: str, negative: str) -> PromptEmbeds:
        mean = self.prior_mean(prompt)[None]
        return PromptEmbeds(cond=mean, uncond=mean)

    def expected_noise(self, x_t: Tensor, t: Tensor, mean: Tensor) -> Tensor:
        """``E[eps | x_t]`` for ``x0 ~ N(mean, s0^2)``: x_t ``(B, 4, h, w)``, t ``(B,)``, mean ``(B, 4)``."""
        ab = self.alphas_cumprod[t.to(self.device)].view(-1, 1, 1, 1)
        s0_sq = self.analytic.sigma0 ** 2
        mean = mean.to(x_t.dtype).view(mean.shape[0], -1, 1, 1)
        return (1.0 - ab).sqrt() * (x_t - ab.sqrt() * mean) / (ab * s0_sq + 1.0 - ab)

    def predict_noise(self, x_t: Tensor, t: Tensor, embeds_cond: Tensor,
                      embeds_uncond: Tensor) -> tuple[Tensor, Tensor]:
        return self.expected_noise(x_t, t, embeds_uncond), self.expected_noise(x_t, t, embeds_cond)

    def decode(self, latents: Tensor) -> Tensor:
        return latent_to_rgb(latents, clamp=True)

    def encode(self, rgb: Tensor) -> Tensor:
        if rgb.ndim != 4:
            raise GuidanceError(f"rgb must be (B, 3, H, W), got {tuple(rgb.shape)}")
        return rgb_to_latent(rgb, ridge=self.analytic.ridge)
