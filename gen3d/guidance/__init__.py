"""SDS guidance backends: Stable Diffusion (diffusers) and the analytic Gaussian test prior.

``load_guidance("sd", model_path)`` or ``load_guidance("analytic")`` gives a :class:`Guidance`;
``guidance.sds(latents, prompt, generator=g).loss.backward()`` is one score-distillation step.
Importing this package does not import diffusers or transformers; loading an SD model does.
"""

from .analytic import AnalyticConfig, AnalyticGuidance
from .base import (
    WEIGHTINGS,
    Guidance,
    GuidanceConfig,
    GuidanceError,
    PromptEmbeds,
    SDSResult,
    scaled_linear_alphas_cumprod,
    view_prompt,
)
from .colors import CSS_COLORS, color_from_prompt
from .latent_rgb import LATENT_RGB_MATRIX, RIDGE, latent_to_rgb, rgb_to_latent
from .stable_diffusion import StableDiffusionConfig, StableDiffusionGuidance, load_guidance

__all__ = [
    "CSS_COLORS",
    "LATENT_RGB_MATRIX",
    "RIDGE",
    "WEIGHTINGS",
    "AnalyticConfig",
    "AnalyticGuidance",
    "Guidance",
    "GuidanceConfig",
    "GuidanceError",
    "PromptEmbeds",
    "SDSResult",
    "StableDiffusionConfig",
    "StableDiffusionGuidance",
    "color_from_prompt",
    "latent_to_rgb",
    "load_guidance",
    "rgb_to_latent",
    "scaled_linear_alphas_cumprod",
    "view_prompt",
]
