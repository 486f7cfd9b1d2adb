"""Stable Diffusion 1.x / 2.x as an SDS teacher, loaded from local files with diffusers.

Two kinds of model location are accepted, and nothing is ever downloaded:

- a diffusers folder (``model_index.json`` with ``unet/``, ``vae/``, ``text_encoder/``,
  ``tokenizer/``, ``scheduler/``): each component is loaded with ``local_files_only=True``;
- a single ``.safetensors`` / ``.ckpt`` checkpoint (A1111 / original LDM layout). Its weights are
  converted by diffusers' ``from_single_file``, which needs the component *configs* (and tokenizer
  files) of the architecture. Offline those must come from a local diffusers folder for the same
  architecture, passed as ``config=`` (our :attr:`StableDiffusionConfig.single_file_config`, or the
  checkpoint's own folder when it holds a ``model_index.json``); its weight files are not needed.
  Without one, diffusers would fetch configs from the Hub (it even retries online when
  ``local_files_only=True`` finds no cached config), so we refuse with an explanation instead. An
  original LDM ``.yaml`` (``original_config=``) is not enough offline either: diffusers' legacy path
  still fetches the CLIP tokenizer and text-encoder config from the Hub.

diffusers and transformers are imported only when a model is loaded (importing them costs seconds).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .base import Guidance, GuidanceConfig, GuidanceError, PromptEmbeds

NEVER_DOWNLOADS = ("give a diffusers folder with model_index.json or a .safetensors/.ckpt file; "
                   "ProcDream never downloads weights")

SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt")
_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}
_LOAD_ERRORS = (OSError, ValueError, KeyError, RuntimeError, TypeError, AttributeError)


@dataclass
class StableDiffusionConfig:
    """How the SD backend loads and runs its model.

    dtype: ``"auto"`` (float16 on CUDA, float32 on CPU), ``"float16"``, ``"bfloat16"`` or ``"float32"``.
    attention: ``"sdpa"`` (torch 2 ``scaled_dot_product_attention``, diffusers' default processor) or
        ``"sliced"`` (``set_attention_slice(attention_slice_size)``: less memory, slower).
    attention_slice_size: ``"auto"``, ``"max"`` or an int, for ``attention="sliced"``.
    vae_tiling: decode/encode large images tile by tile (for 1024^2 textures on small GPUs).
    text_encoder_offload: keep the text encoder on the CPU and move it to the device only to encode
        (prompt embeddings are cached, so this costs one transfer per new prompt). See also
        :meth:`StableDiffusionGuidance.free_text_encoder`.
    single_file_config: local diffusers folder whose configs and tokenizer describe a single-file
        checkpoint's architecture (see the module docstring). None: the checkpoint's own folder if it
        has a model_index.json.
    variant: diffusers weight variant to load from a folder (e.g. ``"fp16"`` for
        ``*.fp16.safetensors``); None for the plain files.
    prediction_type: override the scheduler's ``prediction_type`` (``"epsilon"`` or
        ``"v_prediction"``); None to use the scheduler config's.
    """

    dtype: str = "auto"
    attention: str = "sdpa"
    attention_slice_size: str | int = "auto"
    vae_tiling: bool = False
    text_encoder_offload: bool = False
    single_file_config: str | None = None
    variant: str | None = None
    prediction_type: str | None = None

    def __post_init__(self) -> None:
        if self.dtype != "auto" and self.dtype not in _DTYPES:
            raise GuidanceError(f"dtype must be 'auto' or one of {tuple(_DTYPES)}, got {self.dtype!r}")
        if self.attention not in ("sdpa", "sliced"):
            raise GuidanceError(f"attention must be 'sdpa' or 'sliced', got {self.attention!r}")
        if self.prediction_type not in (None, "epsilon", "v_prediction"):
            raise GuidanceError("prediction_type must be None, 'epsilon' or 'v_prediction', "
                                f"got {self.prediction_type!r}")


def resolve_torch_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` / ``"cuda"`` / ``"cpu"`` (as the engine check resolves them) or any torch device string.

    Asking for CUDA without a visible GPU falls back to the CPU with a warning.
    """
    from ..environment import DEVICES, resolve_device

    if isinstance(device, torch.device):
        return device
    if device in DEVICES:
        resolved, problem = resolve_device(device)
        if problem:
            warnings.warn(problem, RuntimeWarning, stacklevel=3)
        return torch.device(resolved)
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise GuidanceError(f"unknown device {device!r}: use one of {DEVICES} or a torch device "
                            "string like 'cuda:1'") from error


def check_model_path(model_path: str | Path | None) -> tuple[str, Path]:
    """Classify a model location: ``("folder" | "single-file", path)``; GuidanceError when unusable."""
    if model_path is None or not str(model_path).strip():
        raise GuidanceError("no model path given for the Stable Diffusion backend: " + NEVER_DOWNLOADS
                            + " (the analytic test prior needs no model)")
    path = Path(model_path).expanduser()
    if not path.exists():
        raise GuidanceError(f"no model at {path}: {NEVER_DOWNLOADS}")
    if path.is_dir():
        if not (path / "model_index.json").is_file():
            raise GuidanceError(f"{path} is a folder without model_index.json, so not a diffusers model "
                                f"folder: {NEVER_DOWNLOADS}")
        return "folder", path
    if path.suffix.lower() not in SINGLE_FILE_SUFFIXES:
        raise GuidanceError(f"{path} is neither a folder nor a {'/'.join(SINGLE_FILE_SUFFIXES)} file: "
                            + NEVER_DOWNLOADS)
    return "single-file", path


def _read_model_index(folder: Path) -> dict[str, Any]:
    try:
        index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise GuidanceError(f"cannot read {folder / 'model_index.json'}: {error}") from error
    if "text_encoder_2" in index or "transformer" in index:
        raise GuidanceError(f"{folder} holds a {index.get('_class_name', 'pipeline')}; only Stable Diffusion "
                            "1.x/2.x (one CLIP text encoder and a UNet) is supported")
    missing = [name for name in ("unet", "vae", "text_encoder", "tokenizer", "scheduler")
               if not (folder / name).is_dir()]
    if missing:
        raise GuidanceError(f"{folder} is missing the component folder(s) {', '.join(missing)}; a Stable "
                            "Diffusion diffusers folder has unet/, vae/, text_encoder/, tokenizer/ and scheduler/")
    return index


def _single_file_message(checkpoint: Path) -> str:
    return (f"{checkpoint} is a single-file checkpoint. Loading it offline needs the component configs of "
            "its architecture as a local diffusers folder (model_index.json, unet/config.json, "
            "vae/config.json, text_encoder/config.json, tokenizer/ and scheduler/; weight files are not "
            "needed there), because diffusers would otherwise fetch them from the Hugging Face Hub and "
            "ProcDream never downloads. Set single_file_config to such a folder (any SD 1.x diffusers "
            "folder fits SD 1.x checkpoints, an SD 2.x folder SD 2.x ones), or put the checkpoint inside "
            "one. An original LDM .yaml alone is not enough offline: diffusers would still fetch the CLIP "
            "tokenizer and text-encoder config.")


class StableDiffusionGuidance(Guidance):
    """SDS with a Stable Diffusion 1.x/2.x UNet (diffusers); prompt embeddings are cached.

    model_path: a diffusers folder or a single ``.safetensors``/``.ckpt`` file (see module docstring).
    device: ``"auto"``, ``"cuda"``, ``"cpu"`` or a torch device. The UNet runs under ``no_grad``;
    all model parameters are frozen, so decode/encode stay differentiable with respect to their
    inputs only (encode is used for RGB refinement through the VAE encoder).
    """

    is_test_prior = False

    def __init__(self, model_path: str | Path, device: str | torch.device = "auto",
                 config: GuidanceConfig | None = None, sd_config: StableDiffusionConfig | None = None) -> None:
        self.sd_config = sd_config if sd_config is not None else StableDiffusionConfig()
        kind, path = check_model_path(model_path)
        self.model_path = path
        torch_device = resolve_torch_device(device)
        if self.sd_config.dtype == "auto":
            dtype = torch.float16 if torch_device.type == "cuda" else torch.float32
        else:
            dtype = _DTYPES[self.sd_config.dtype]

        if kind == "folder":
            _read_model_index(path)
            parts = self._load_folder(path, dtype)
        else:
            parts = self._load_single_file(path, dtype)
        self.unet, self.vae, self.text_encoder, self.tokenizer, scheduler_config = parts
        if int(self.unet.config.in_channels) != 4:
            raise GuidanceError(f"the UNet of {path} takes {self.unet.config.in_channels} input channels; SDS "
                                "needs a text-to-image UNet on 4 latent channels (inpainting and upscaling "
                                "models do not work)")

        from diffusers import DDPMScheduler

        scheduler = DDPMScheduler.from_config(scheduler_config)
        self.prediction_type = self.sd_config.prediction_type or scheduler.config.prediction_type
        if self.prediction_type not in ("epsilon", "v_prediction"):
            raise GuidanceError(f"scheduler prediction_type {self.prediction_type!r} is not supported "
                                "(only 'epsilon' and 'v_prediction')")
        super().__init__(config, torch_device, dtype, scheduler.alphas_cumprod.to(torch.float32))

        for module in (self.unet, self.vae, self.text_encoder):
            module.requires_grad_(False)
            module.eval()
        # UNet and VAE were loaded in `dtype` already; moving them with a dtype makes diffusers warn.
        self.unet.to(self.device)
        self.vae.to(self.device)
        self.text_encoder.to("cpu" if self.sd_config.text_encoder_offload else self.device, dtype)
        if self.sd_config.attention == "sliced":
            self.unet.set_attention_slice(self.sd_config.attention_slice_size)
        if self.sd_config.vae_tiling:
            self.vae.enable_tiling()

        self.name = f"stable-diffusion:{path.name}"
        self.latent_channels = 4
        self.vae_scale_factor = 2 ** (len(self.vae.config.block_out_channels) - 1)
        self.scaling_factor = float(self.vae.config.scaling_factor)
        max_positions = int(self.text_encoder.config.max_position_embeddings)
        self.max_tokens = min(int(self.tokenizer.model_max_length), max_positions)

    # ----------------------------------------------------------------- loading

    def _load_folder(self, path: Path, dtype: torch.dtype) -> tuple:
        from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
        from transformers import CLIPTextModel, CLIPTokenizer

        variant = self.sd_config.variant
        component = "tokenizer"
        try:
            tokenizer = CLIPTokenizer.from_pretrained(path, subfolder="tokenizer", local_files_only=True)
            component = "text_encoder"
            text_encoder = CLIPTextModel.from_pretrained(path, subfolder="text_encoder", variant=variant,
                                                         local_files_only=True)
            component = "unet"
            unet = UNet2DConditionModel.from_pretrained(path, subfolder="unet", torch_dtype=dtype,
                                                        variant=variant, local_files_only=True)
            component = "vae"
            vae = AutoencoderKL.from_pretrained(path, subfolder="vae", torch_dtype=dtype, variant=variant,
                                                local_files_only=True)
            component = "scheduler"
            scheduler_config = DDPMScheduler.load_config(path, subfolder="scheduler", local_files_only=True)
        except GuidanceError:
            raise
        except _LOAD_ERRORS as error:
            raise GuidanceError(f"could not load the {component} of {path}: {error}") from error
        return unet, vae, text_encoder, tokenizer, scheduler_config

    def _single_file_config_dir(self, checkpoint: Path) -> Path:
        if self.sd_config.single_file_config:
            folder = Path(self.sd_config.single_file_config).expanduser()
            if not (folder / "model_index.json").is_file():
                raise GuidanceError(f"single_file_config {folder} is not a diffusers folder (no "
                                    "model_index.json). " + _single_file_message(checkpoint))
            return folder
        if (checkpoint.parent / "model_index.json").is_file():
            return checkpoint.parent
        raise GuidanceError(_single_file_message(checkpoint))

    def _load_single_file(self, checkpoint: Path, dtype: torch.dtype) -> tuple:
        config_dir = self._single_file_config_dir(checkpoint)
        _read_model_index(config_dir)
        from diffusers import DDPMScheduler, StableDiffusionPipeline

        try:
            # config= a local folder keeps diffusers from resolving (and downloading) configs; the
            # safety checker and feature extractor are not needed for guidance.
            # float32 is the default; naming it would only make diffusers cast (and warn) needlessly.
            pipe = StableDiffusionPipeline.from_single_file(
                str(checkpoint), config=str(config_dir), local_files_only=True,
                torch_dtype=None if dtype == torch.float32 else dtype,
                safety_checker=None, feature_extractor=None, requires_safety_checker=False)
            scheduler_config = DDPMScheduler.load_config(config_dir, subfolder="scheduler", local_files_only=True)
        except GuidanceError:
            raise
        except _LOAD_ERRORS as error:
            raise GuidanceError(f"could not load {checkpoint} with the configs of {config_dir} (they must "
                                f"describe the same architecture, SD 1.x or 2.x): {error}") from error
        return pipe.unet, pipe.vae, pipe.text_encoder, pipe.tokenizer, scheduler_config

    # ----------------------------------------------------------------- prompts

    def free_text_encoder(self) -> None:
        """Drop the text encoder to save memory; only prompts already cached can be used afterwards.

        Call :meth:`precompute_prompts` first for every prompt (and its view variants) you need.
        """
        self.text_encoder = None
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def _embed_text(self, text: str) -> Tensor:
        tokens = self.tokenizer(text, padding="max_length", max_length=self.max_tokens, truncation=True,
                                return_tensors="pt")
        encoder_device = self.device
        if self.sd_config.text_encoder_offload:
            self.text_encoder.to(self.device)
        try:
            with torch.no_grad():
                hidden = self.text_encoder(tokens.input_ids.to(encoder_device))[0]
        finally:
            if self.sd_config.text_encoder_offload:
                self.text_encoder.to("cpu")
        return hidden.to(self.dtype)

    def _encode_prompt(self, prompt: str, negative: str) -> PromptEmbeds:
        if self.text_encoder is None:
            raise GuidanceError(f"prompt {prompt!r} (negative {negative!r}) is not cached and the text encoder "
                                "was freed: call precompute_prompts() before free_text_encoder()")
        return PromptEmbeds(cond=self._embed_text(prompt), uncond=self._embed_text(negative))

    # ----------------------------------------------------------------- noise prediction

    def predict_noise(self, x_t: Tensor, t: Tensor, embeds_cond: Tensor,
                      embeds_uncond: Tensor) -> tuple[Tensor, Tensor]:
        """Run the UNet once on ``[uncond; cond]`` (2B samples); v-prediction is converted to eps."""
        x_t = x_t.to(self.device, torch.float32)
        t = t.to(self.device)
        only_cond = self.config.guidance_scale == 1.0  # eps_hat = eps_c: skip the unconditional half
        if only_cond:
            x_in, t_in, context = x_t, t, embeds_cond
        else:
            x_in, t_in = torch.cat([x_t, x_t]), torch.cat([t, t])
            context = torch.cat([embeds_uncond, embeds_cond])
        with torch.no_grad():
            out = self.unet(x_in.to(self.dtype), t_in, encoder_hidden_states=context.to(self.device, self.dtype),
                            return_dict=False)[0].float()
            if self.prediction_type == "v_prediction":
                ab = self.alphas_cumprod[t_in].view(-1, 1, 1, 1)
                out = ab.sqrt() * out + (1.0 - ab).sqrt() * x_in
        if only_cond:
            return out, out
        eps_u, eps_c = out.chunk(2)
        return eps_u, eps_c

    # ----------------------------------------------------------------- VAE

    def decode(self, latents: Tensor) -> Tensor:
        """``(B, 4, h, w)`` latents -> ``(B, 3, h * f, w * f)`` float32 RGB in [0, 1] (f = vae_scale_factor)."""
        if latents.ndim != 4 or latents.shape[1] != self.latent_channels:
            raise GuidanceError(f"latents must be (B, {self.latent_channels}, h, w), got {tuple(latents.shape)}")
        scaled = latents.to(self.device, self.dtype) / self.scaling_factor
        image = self.vae.decode(scaled, return_dict=False)[0]
        return ((image.float() + 1.0) * 0.5).clamp(0.0, 1.0)

    def encode(self, rgb: Tensor) -> Tensor:
        """``(B, 3, H, W)`` RGB in [0, 1] -> ``(B, 4, H / f, W / f)`` float32 latents (posterior mean x scale)."""
        if rgb.ndim != 4 or rgb.shape[1] != 3:
            raise GuidanceError(f"rgb must be (B, 3, H, W), got {tuple(rgb.shape)}")
        f = self.vae_scale_factor
        if rgb.shape[2] % f or rgb.shape[3] % f:
            raise GuidanceError(f"rgb height and width must be multiples of {f} (the VAE's downsampling), "
                                f"got {tuple(rgb.shape[2:])}")
        pixels = rgb.to(self.device, self.dtype) * 2.0 - 1.0
        posterior = self.vae.encode(pixels, return_dict=False)[0]
        return posterior.mean.float() * self.scaling_factor


GUIDANCE_KINDS = ("sd", "analytic")


def load_guidance(kind: str, model_path: str | Path | None = None, device: str | torch.device = "auto",
                  config: GuidanceConfig | None = None, *, sd_config: StableDiffusionConfig | None = None,
                  analytic_config: Any = None) -> Guidance:
    """Build a guidance backend: ``"sd"`` (Stable Diffusion from ``model_path``) or ``"analytic"``.

    The analytic test prior ignores ``model_path``. ``config`` defaults to :class:`GuidanceConfig`();
    ``analytic_config`` is an :class:`analytic.AnalyticConfig`.
    """
    if kind not in GUIDANCE_KINDS:
        raise GuidanceError(f"guidance kind must be one of {GUIDANCE_KINDS}, got {kind!r}")
    if kind == "analytic":
        from .analytic import AnalyticGuidance

        return AnalyticGuidance(config, analytic_config, resolve_torch_device(device))
    return StableDiffusionGuidance(model_path, device, config, sd_config)
