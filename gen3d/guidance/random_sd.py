"""Stable-Diffusion-shaped diffusers folders with random weights, built from configs (no downloads).

Used by tests (``shape="tiny"``: loads in well under a second on a CPU) and by benchmarks
(``shape="sd15"``: the real SD 1.5 component shapes, so GPU timings are true timings). The images such
a model "generates" are noise; only the shapes, the file layout and the cost are real.

The tokenizer is a genuine byte-level BPE CLIP tokenizer with a small vocabulary made up here: the
256 byte symbols, the same with the end-of-word marker ``</w>``, the merges spelling a few common
prompt words, then ``<|startoftext|>`` and ``<|endoftext|>`` as the last two ids (49406 and 49407
for ``sd15``, as in CLIP, by padding the vocabulary with unused placeholder tokens). It tokenizes any
text (unknown words fall back to byte symbols) and truncates to 77 tokens like CLIP.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from .base import GuidanceError

SHAPES = ("tiny", "sd15")

# Words the tiny BPE vocabulary can spell in one token; everything else falls back to bytes.
_MERGE_WORDS = (
    "a an the of on in with and photo view front back side overhead high quality detailed "
    "red green blue yellow white black orange purple brown gray wooden stone metal chair table "
    "car house tree rock cat dog"
).split()

BOS_TOKEN = "<|startoftext|>"
EOS_TOKEN = "<|endoftext|>"


@dataclass(frozen=True)
class _Shape:
    unet: dict
    vae: dict
    text: dict


_TINY = _Shape(
    unet={
        "sample_size": 64,
        "in_channels": 4,
        "out_channels": 4,
        # Attention only at the coarsest level (16x16 for 64x64 latents): self-attention over all
        # 4096 pixels of a 64x64 latent would dominate a CPU step.
        "down_block_types": ["DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D"],
        "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D"],
        "block_out_channels": [32, 32, 64],
        "layers_per_block": 1,
        "cross_attention_dim": 32,
        "attention_head_dim": 8,
        "norm_num_groups": 32,
    },
    vae={
        "in_channels": 3,
        "out_channels": 3,
        "down_block_types": ["DownEncoderBlock2D"] * 2,
        "up_block_types": ["UpDecoderBlock2D"] * 2,
        "block_out_channels": [32, 64],
        "layers_per_block": 1,
        "latent_channels": 4,
        "norm_num_groups": 32,
        "sample_size": 128,
        "scaling_factor": 0.18215,
    },
    text={
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "max_position_embeddings": 77,
        "projection_dim": 32,
        "hidden_act": "quick_gelu",
        "vocab_size": None,  # exactly the generated tokenizer's size
    },
)

# The published SD 1.5 component configs (UNet 860M, VAE 84M, CLIP ViT-L/14 text 123M parameters).
_SD15 = _Shape(
    unet={
        "sample_size": 64,
        "in_channels": 4,
        "out_channels": 4,
        "down_block_types": ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
        "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
        "block_out_channels": [320, 640, 1280, 1280],
        "layers_per_block": 2,
        "cross_attention_dim": 768,
        "attention_head_dim": 8,
        "norm_num_groups": 32,
        "norm_eps": 1e-5,
        "act_fn": "silu",
        "downsample_padding": 1,
        "flip_sin_to_cos": True,
        "freq_shift": 0,
        "mid_block_scale_factor": 1,
        "center_input_sample": False,
    },
    vae={
        "in_channels": 3,
        "out_channels": 3,
        "down_block_types": ["DownEncoderBlock2D"] * 4,
        "up_block_types": ["UpDecoderBlock2D"] * 4,
        "block_out_channels": [128, 256, 512, 512],
        "layers_per_block": 2,
        "latent_channels": 4,
        "norm_num_groups": 32,
        "act_fn": "silu",
        "sample_size": 512,
        "scaling_factor": 0.18215,
    },
    text={
        "hidden_size": 768,
        "intermediate_size": 3072,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "max_position_embeddings": 77,
        "projection_dim": 768,
        "hidden_act": "quick_gelu",
        "layer_norm_eps": 1e-5,
        "vocab_size": 49408,
    },
)


def _bytes_to_symbols() -> list[str]:
    """The 256 printable stand-ins that byte-level BPE (GPT-2, CLIP) uses for the bytes 0..255.

    Printable Latin-1 bytes stand for themselves; the others are shifted to code points 256 and up.
    Order: printable bytes first, then the shifted ones (the order CLIP's vocabulary uses).
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    symbols = [chr(b) for b in printable]
    shifted = 0
    for byte in range(256):
        if byte not in printable:
            symbols.append(chr(256 + shifted))
            shifted += 1
    return symbols


def make_bpe_vocab(vocab_size: int | None = None) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """A small CLIP-style byte-level BPE vocabulary and merge list.

    Returns ``(vocab, merges)``. With ``vocab_size`` larger than the natural size, placeholder tokens
    pad the vocabulary so that the two special tokens are its last ids.
    """
    symbols = _bytes_to_symbols()
    tokens = symbols + [s + "</w>" for s in symbols]
    known = set(tokens)
    merges: list[tuple[str, str]] = []
    for word in _MERGE_WORDS:
        parts = list(word[:-1]) + [word[-1] + "</w>"]
        joined = parts[0]
        for part in parts[1:]:
            if (joined, part) not in merges:
                merges.append((joined, part))
            joined += part
            if joined not in known:
                known.add(joined)
                tokens.append(joined)
    natural = len(tokens) + 2
    if vocab_size is not None:
        if vocab_size < natural:
            raise GuidanceError(f"vocab_size {vocab_size} is below the tokenizer's {natural} tokens")
        tokens += [f"<|unused{i}|>" for i in range(vocab_size - natural)]
    tokens += [BOS_TOKEN, EOS_TOKEN]
    return {token: i for i, token in enumerate(tokens)}, merges


def write_clip_tokenizer(folder: Path, vocab_size: int | None = None, max_length: int = 77) -> dict[str, int]:
    """Write vocab.json, merges.txt and the tokenizer configs of a CLIP tokenizer; returns the vocab."""
    folder.mkdir(parents=True, exist_ok=True)
    vocab, merges = make_bpe_vocab(vocab_size)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    merge_lines = "".join(f"{a} {b}\n" for a, b in merges)
    (folder / "merges.txt").write_text("#version: 0.2\n" + merge_lines, encoding="utf-8")
    specials = {"bos_token": BOS_TOKEN, "eos_token": EOS_TOKEN, "unk_token": EOS_TOKEN, "pad_token": EOS_TOKEN}
    (folder / "special_tokens_map.json").write_text(json.dumps(specials, indent=2), encoding="utf-8")
    tokenizer_config = {"tokenizer_class": "CLIPTokenizer", "model_max_length": max_length,
                        "do_lower_case": True, "errors": "replace", **specials}
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2), encoding="utf-8")
    return vocab


def build_random_sd(path: str | Path, shape: str = "tiny", seed: int = 0, *, dtype: str = "float32",
                    prediction_type: str = "epsilon") -> Path:
    """Create a diffusers Stable Diffusion folder with random weights at ``path``; returns the path.

    shape: ``"tiny"`` (test-sized: UNet channels (32, 32, 64), VAE downsampling 2, 2-layer CLIP text model
    of width 32) or ``"sd15"`` (the real SD 1.5 shapes; about 4.3 GB in float32, 20-60 s on a CPU).
    seed: weights are a deterministic function of (shape, seed). Module initialisers only draw from
    torch's global generator, so it is seeded inside ``torch.random.fork_rng``, which restores the
    caller's generator state afterwards.
    dtype: ``"float32"`` or ``"float16"`` for the saved weights.
    prediction_type: scheduler ``prediction_type`` (``"epsilon"`` or ``"v_prediction"``).

    Writes model_index.json, unet/, vae/, text_encoder/ (safetensors), tokenizer/ and
    scheduler/ (DDPMScheduler, scaled_linear 0.00085..0.012, 1000 steps), overwriting files there.
    """
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from diffusers import __version__ as diffusers_version
    from transformers import CLIPTextConfig, CLIPTextModel

    if shape not in SHAPES:
        raise GuidanceError(f"shape must be one of {SHAPES}, got {shape!r}")
    if dtype not in ("float32", "float16"):
        raise GuidanceError(f"dtype must be 'float32' or 'float16', got {dtype!r}")
    if prediction_type not in ("epsilon", "v_prediction"):
        raise GuidanceError(f"prediction_type must be 'epsilon' or 'v_prediction', got {prediction_type!r}")
    spec = _TINY if shape == "tiny" else _SD15
    root = Path(path).expanduser()
    root.mkdir(parents=True, exist_ok=True)

    vocab = write_clip_tokenizer(root / "tokenizer", spec.text["vocab_size"],
                                 spec.text["max_position_embeddings"])
    text_kwargs = {**spec.text, "vocab_size": len(vocab), "bos_token_id": vocab[BOS_TOKEN],
                   "eos_token_id": vocab[EOS_TOKEN], "pad_token_id": vocab[EOS_TOKEN]}

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = UNet2DConditionModel(**spec.unet)
        vae = AutoencoderKL(**spec.vae)
        text_encoder = CLIPTextModel(CLIPTextConfig(**text_kwargs))
    for name, module in (("unet", unet), ("vae", vae), ("text_encoder", text_encoder)):
        if dtype == "float16":
            module.half()  # ModelMixin.to(dtype) would warn about fp32-only modules (there are none)
        module.save_pretrained(root / name, safe_serialization=True)
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
                              beta_schedule="scaled_linear", clip_sample=False, steps_offset=1,
                              prediction_type=prediction_type)
    scheduler.save_pretrained(root / "scheduler")

    model_index = {
        "_class_name": "StableDiffusionPipeline",
        "_diffusers_version": diffusers_version,
        "feature_extractor": [None, None],
        "image_encoder": [None, None],
        "requires_safety_checker": False,
        "safety_checker": [None, None],
        "scheduler": ["diffusers", "DDPMScheduler"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"],
    }
    (root / "model_index.json").write_text(json.dumps(model_index, indent=2), encoding="utf-8")
    note = {"random_weights": True, "shape": shape, "seed": seed, "dtype": dtype,
            "prediction_type": prediction_type, "made_by": "procdream.gen3d.guidance.random_sd"}
    (root / "procdream_random.json").write_text(json.dumps(note, indent=2), encoding="utf-8")
    return root
