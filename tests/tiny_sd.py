"""Test helpers: a tiny random Stable Diffusion folder, and the same weights as one LDM checkpoint.

``tiny_sd_folder`` builds the folder once per test session (through the real builder,
``procdream.gen3d.guidance.random_sd``). ``ldm_state_dict`` rewrites the folder's diffusers weights
into the original CompVis/LDM single-file key layout (what A1111-style ``.safetensors`` files use), so
the single-file loading path can be tested offline: diffusers' ``from_single_file`` must turn it back
into exactly the same weights.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

_BUILT: dict[str, Path] = {}


def tiny_sd_folder(root: Path) -> Path:
    """The tiny random SD folder under ``root`` (built on first use, then reused)."""
    from procdream.gen3d.guidance.random_sd import build_random_sd

    key = str(root)
    if key not in _BUILT:
        _BUILT[key] = build_random_sd(root / "tiny_sd", "tiny", seed=0)
    return _BUILT[key]


def _load_weights(folder: Path, component: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    files = sorted((folder / component).glob("*.safetensors"))
    assert len(files) == 1, files
    return load_file(files[0])


_RESNET_TO_LDM = (("norm1", "in_layers.0"), ("conv1", "in_layers.2"), ("norm2", "out_layers.0"),
                  ("conv2", "out_layers.3"), ("time_emb_proj", "emb_layers.1"),
                  ("conv_shortcut", "skip_connection"))


def _unet_key(key: str, layers: int) -> str:
    """diffusers UNet2DConditionModel key -> LDM ``model.diffusion_model.*`` key (SD 1.x layout)."""
    top = {"time_embedding.linear_1": "time_embed.0", "time_embedding.linear_2": "time_embed.2",
           "conv_in": "input_blocks.0.0", "conv_norm_out": "out.0", "conv_out": "out.2"}
    for prefix, ldm in top.items():
        if key.startswith(prefix + "."):
            return ldm + key[len(prefix):]
    parts = key.split(".")
    per_block = layers + 1

    def resnet(rest: list[str]) -> str:
        name = ".".join(rest)
        for ours, theirs in _RESNET_TO_LDM:
            if name.startswith(ours + "."):
                return theirs + name[len(ours):]
        raise AssertionError(f"unexpected resnet key {key}")

    if parts[0] == "down_blocks":
        block = int(parts[1])
        if parts[2] == "downsamplers":  # down_blocks.B.downsamplers.0.conv.X
            return f"input_blocks.{(block + 1) * per_block}.0.op." + ".".join(parts[5:])
        index = 1 + block * per_block + int(parts[3])
        if parts[2] == "resnets":
            return f"input_blocks.{index}.0." + resnet(parts[4:])
        return f"input_blocks.{index}.1." + ".".join(parts[4:])
    if parts[0] == "mid_block":
        if parts[1] == "resnets":
            return f"middle_block.{2 * int(parts[2])}." + resnet(parts[3:])
        return "middle_block.1." + ".".join(parts[3:])
    if parts[0] == "up_blocks":
        raise AssertionError("up blocks are handled by the caller")
    raise AssertionError(f"unexpected unet key {key}")


def _unet_to_ldm(weights: dict[str, torch.Tensor], config: dict) -> dict[str, torch.Tensor]:
    layers = config["layers_per_block"]
    up_has_attention = ["CrossAttn" in kind for kind in config["up_block_types"]]
    out: dict[str, torch.Tensor] = {}
    for key, value in weights.items():
        parts = key.split(".")
        if parts[0] != "up_blocks":
            out[_unet_key(key, layers)] = value
            continue
        block = int(parts[1])
        # Up blocks have one more layer than down blocks (the skip connections).
        per_block = layers + 1
        if parts[2] == "upsamplers":  # after the block's attention (index 2) or resnet (index 1)
            index = block * per_block + layers
            slot = 2 if up_has_attention[block] else 1
            out[f"output_blocks.{index}.{slot}.conv." + ".".join(parts[5:])] = value
            continue
        index = block * per_block + int(parts[3])
        rest = ".".join(parts[4:])
        if parts[2] == "resnets":
            for ours, theirs in _RESNET_TO_LDM:
                if rest.startswith(ours + "."):
                    rest = theirs + rest[len(ours):]
                    break
            out[f"output_blocks.{index}.0.{rest}"] = value
        else:
            out[f"output_blocks.{index}.1.{rest}"] = value
    return {"model.diffusion_model." + key: value for key, value in out.items()}


def _vae_to_ldm(weights: dict[str, torch.Tensor], config: dict) -> dict[str, torch.Tensor]:
    levels = len(config["block_out_channels"])
    top = {"conv_norm_out": "norm_out"}
    attention = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}
    out: dict[str, torch.Tensor] = {}
    for key, value in weights.items():
        coder, _, rest = key.partition(".")
        if coder not in ("encoder", "decoder"):  # quant_conv, post_quant_conv
            out[key] = value
            continue
        parts = rest.split(".")
        if parts[0] in top:
            out[f"{coder}.{top[parts[0]]}." + ".".join(parts[1:])] = value
        elif parts[0] in ("conv_in", "conv_out"):
            out[key] = value
        elif parts[0] in ("down_blocks", "up_blocks"):
            level = int(parts[1]) if coder == "encoder" else levels - 1 - int(parts[1])
            name = "down" if coder == "encoder" else "up"
            if parts[2] == "resnets":
                tail = ".".join(parts[4:]).replace("conv_shortcut", "nin_shortcut")
                out[f"{coder}.{name}.{level}.block.{parts[3]}.{tail}"] = value
            else:  # downsamplers.0.conv / upsamplers.0.conv
                sampler = "downsample" if coder == "encoder" else "upsample"
                out[f"{coder}.{name}.{level}.{sampler}.conv." + ".".join(parts[5:])] = value
        elif parts[0] == "mid_block":
            if parts[1] == "resnets":
                out[f"{coder}.mid.block_{int(parts[2]) + 1}." + ".".join(parts[3:])] = value
            else:
                inner = ".".join(parts[3:])
                for ours, theirs in attention.items():
                    if inner.startswith(ours + "."):
                        inner = theirs + inner[len(ours):]
                        break
                if value.ndim == 2:  # LDM stores these projections as 1x1 convolutions
                    value = value[:, :, None, None]
                out[f"{coder}.mid.attn_1.{inner}"] = value
        else:
            raise AssertionError(f"unexpected vae key {key}")
    return {"first_stage_model." + key: value for key, value in out.items()}


def _text_to_ldm(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in weights.items():
        inner = key if key.startswith("text_model.") else "text_model." + key
        out["cond_stage_model.transformer." + inner] = value
    return out


def ldm_state_dict(folder: Path) -> dict[str, torch.Tensor]:
    """The folder's UNet, VAE and CLIP text weights as one LDM-layout state dict."""
    unet_config = json.loads((folder / "unet" / "config.json").read_text())
    vae_config = json.loads((folder / "vae" / "config.json").read_text())
    state = {}
    state.update(_unet_to_ldm(_load_weights(folder, "unet"), unet_config))
    state.update(_vae_to_ldm(_load_weights(folder, "vae"), vae_config))
    state.update(_text_to_ldm(_load_weights(folder, "text_encoder")))
    return {key: value.contiguous() for key, value in state.items()}
