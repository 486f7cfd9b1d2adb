"""gen3d.guidance: SDS on a tiny random Stable Diffusion loaded from disk, and the analytic prior.

Nothing is downloaded: the SD model is built from configs (tests/tiny_sd.py) and loaded through the
real loading code with HF_HUB_OFFLINE=1. Checks are against formulas, not golden files.
"""

from __future__ import annotations

import os

# Before anything imports huggingface_hub, which reads it once.
os.environ["HF_HUB_OFFLINE"] = "1"

import json
import math
import shutil

import pytest

torch = pytest.importorskip("torch")

from tiny_sd import ldm_state_dict, tiny_sd_folder  # noqa: E402

from procdream.gen3d.guidance import (  # noqa: E402
    CSS_COLORS,
    LATENT_RGB_MATRIX,
    AnalyticConfig,
    AnalyticGuidance,
    GuidanceConfig,
    GuidanceError,
    StableDiffusionConfig,
    color_from_prompt,
    latent_to_rgb,
    load_guidance,
    random_sd,
    rgb_to_latent,
    view_prompt,
)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="session")
def tiny_sd(tmp_path_factory):
    return tiny_sd_folder(tmp_path_factory.mktemp("guidance"))


@pytest.fixture(scope="session")
def sd(tiny_sd):
    return load_guidance("sd", tiny_sd, device="cpu")


# --------------------------------------------------------------------------- prompts and colours


@pytest.mark.parametrize(("azimuth", "elevation", "suffix"), [
    (0, 0, "front"), (44.9, 10, "front"), (-44.9, 0, "front"), (350, 0, "front"),
    (45, 0, "side"), (-90, 0, "side"), (270, 0, "side"), (135, 0, "side"),
    (135.1, 0, "back"), (180, 0, "back"), (-180, 0, "back"), (540, 0, "back"), (-170, 60, "back"),
    (0, 60.1, "overhead"), (180, 89, "overhead"),
])
def test_view_prompt(azimuth, elevation, suffix):
    assert view_prompt("a chair", azimuth, elevation) == f"a chair, {suffix} view"


@pytest.mark.parametrize(("prompt", "name"), [
    ("a red chair", "red"), ("Teal", "teal"), ("a light blue vase", "lightblue"),
    ("A LIGHT-BLUE car", "lightblue"), ("lightblue", "lightblue"), ("a dark slate gray rock", "darkslategray"),
    ("light golden rod yellow paint", "lightgoldenrodyellow"), ("a red chair, front view", "red"),
])
def test_color_from_prompt_names(prompt, name):
    found, rgb = color_from_prompt(prompt)
    assert found == name
    assert rgb == CSS_COLORS[name]


def test_color_from_prompt_hex_and_errors():
    name, rgb = color_from_prompt("a #FF8800 teapot")
    assert name == "#ff8800"
    assert rgb == pytest.approx((1.0, 136 / 255, 0.0))
    with pytest.raises(GuidanceError, match="red"):  # lists examples
        color_from_prompt("a wooden chair")
    with pytest.raises(GuidanceError, match="no colour"):
        color_from_prompt("a redwood table")  # whole words only
    with pytest.raises(GuidanceError, match="empty prompt"):
        color_from_prompt("  ")


def test_css_table_has_all_148_colours():
    assert len(CSS_COLORS) == 148
    assert CSS_COLORS["rebeccapurple"] == pytest.approx((0x66 / 255, 0x33 / 255, 0x99 / 255))
    assert CSS_COLORS["grey"] == CSS_COLORS["gray"]
    image_color = pytest.importorskip("PIL.ImageColor")  # an independent copy of the table
    assert set(image_color.colormap) == set(CSS_COLORS)
    for name, rgb in CSS_COLORS.items():
        assert tuple(round(c * 255) for c in rgb) == image_color.getrgb(name), name


# --------------------------------------------------------------------------- latent <-> RGB


def test_latent_to_rgb_is_the_reference_map():
    latents = torch.zeros(1, 4, 2, 3)
    latents[0, 0] = 1.0
    rgb = latent_to_rgb(latents)
    assert rgb.shape == (1, 3, 2, 3)
    expected = [(v + 1) / 2 for v in LATENT_RGB_MATRIX[0]]
    assert rgb[0, :, 1, 2].tolist() == pytest.approx(expected)
    assert latent_to_rgb(torch.full((4,), 10.0), clamp=True).tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(GuidanceError, match="4 channels"):
        latent_to_rgb(torch.zeros(1, 3, 2, 2))


def test_rgb_to_latent_round_trip_for_all_css_colours():
    colours = torch.tensor(list(CSS_COLORS.values()), dtype=torch.float64)  # (148, 3)
    images = colours.view(-1, 3, 1, 1).expand(-1, 3, 2, 2)
    latents = rgb_to_latent(images)
    assert latents.shape == (148, 4, 2, 2)
    # The map is onto R^3: every colour is reachable; the default ridge costs < 0.004.
    assert (latent_to_rgb(latents) - images).abs().max() < 0.004
    exact = rgb_to_latent(images, ridge=0.0)
    assert (latent_to_rgb(exact) - images).abs().max() < 1e-9
    # ridge=0 is the minimum-norm solution: no component along the null space of the map.
    matrix = torch.tensor(LATENT_RGB_MATRIX, dtype=torch.float64)
    null = torch.linalg.svd(matrix.T).Vh[-1]
    assert (matrix.T @ null).abs().max() < 1e-12
    assert (exact.movedim(1, -1) @ null).abs().max() < 1e-9
    # The price of saturated colours: their latents lie far outside SD's usual range.
    lime = rgb_to_latent(torch.tensor(CSS_COLORS["lime"]))
    assert lime.abs().max() > 6


# --------------------------------------------------------------------------- analytic prior


def test_analytic_prior_basics():
    prior = load_guidance("analytic", device="cpu")
    assert isinstance(prior, AnalyticGuidance)
    assert prior.is_test_prior and prior.latent_channels == 4 and prior.dtype == torch.float32
    assert prior.timestep_range() == (20, 980)
    # SD's schedule: ab_0 = 1 - 0.00085, ab_999 ~ 0.0047.
    assert prior.alphas_cumprod[0].item() == pytest.approx(1 - 0.00085)
    assert prior.alphas_cumprod[-1].item() == pytest.approx(0.00466, rel=0.01)
    rgb = torch.rand(2, 3, 8, 8, generator=_gen(0))
    assert prior.encode(rgb).shape == (2, 4, 8, 8)
    assert (prior.decode(prior.encode(rgb)) - rgb).abs().max() < 0.004
    with pytest.raises(GuidanceError, match="no colour"):
        prior.encode_prompt("a wooden chair")
    with pytest.raises(GuidanceError, match="empty prompt"):
        prior.encode_prompt("")


@pytest.mark.parametrize("t", [30, 400, 900])
def test_analytic_noise_prediction_is_the_mmse_denoiser(t):
    sigma0 = 0.3  # wider than the default, so that the denoising problem is not trivial
    prior = AnalyticGuidance(analytic=AnalyticConfig(sigma0=sigma0))
    mean = prior.prior_mean("teal")
    gen = _gen(t)
    n = 100_000
    x0 = mean.view(1, 4, 1, 1) + sigma0 * torch.randn(1, 4, n, 1, generator=gen)
    eps = torch.randn(1, 4, n, 1, generator=gen)
    ab = prior.alphas_cumprod[t]
    x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
    pred = prior.expected_noise(x_t, torch.tensor([t]), mean[None])

    def mse(p):
        return (p - eps).square().mean().item()

    best = mse(pred)
    # Closed form of the MMSE: Var(eps | x_t) = 1 - (1 - ab) / (ab s0^2 + 1 - ab).
    closed = 1 - (1 - ab.item()) / (ab.item() * sigma0 ** 2 + 1 - ab.item())
    assert best == pytest.approx(closed, rel=0.02, abs=2e-4)
    for worse in (pred * 1.05, pred * 0.95, pred + 0.02, pred - 0.02, (1 - ab).sqrt() * x_t):
        assert mse(worse) > best


@pytest.mark.parametrize("prompt", ["a red chair", "lime"])
def test_analytic_sds_converges_to_the_prior_mean(prompt):
    prior = AnalyticGuidance()
    mean = prior.prior_mean(prompt).view(1, 4, 1, 1)
    z = torch.randn(1, 4, 64, 64, generator=_gen(0)).requires_grad_()
    gen = _gen(1)
    # Plain gradient descent, written out: building a torch.optim optimiser first costs seconds (dynamo import).
    for _ in range(200):
        prior.sds(z, prompt, azimuth_deg=90.0, elevation_deg=10.0, generator=gen).loss.backward()
        with torch.no_grad():
            z -= 1.0 * z.grad
        z.grad = None
    assert (z.detach() - mean).abs().mean() < 0.01
    _, colour = color_from_prompt(prompt)
    rgb = prior.decode(z.detach()).mean(dim=(2, 3))[0]
    assert (rgb - torch.tensor(colour)).abs().max() < 0.02


def test_analytic_guidance_scale_leaves_the_prediction_unchanged():
    latents = torch.randn(3, 4, 8, 8, generator=_gen(0))
    results = []
    for scale in (1.0, 7.5, 100.0):
        prior = AnalyticGuidance(GuidanceConfig(guidance_scale=scale))
        results.append(prior.sds(latents, "navy", negative="red", generator=_gen(5)).grad)
    assert torch.equal(results[0], results[1]) and torch.equal(results[0], results[2])


def test_sds_weighting_and_injection_on_the_analytic_prior():
    for weighting in ("sds", "latent-nerf"):
        prior = AnalyticGuidance(GuidanceConfig(weighting=weighting))
        latents = torch.randn(4, 4, 8, 8, generator=_gen(2)).requires_grad_()
        result = prior.sds(latents, "gold", generator=_gen(3))
        ab = prior.alphas_cumprod[result.t]
        expected_w = 1 - ab if weighting == "sds" else ab.sqrt() * (1 - ab)
        torch.testing.assert_close(result.weights, expected_w)
        result.loss.backward()
        torch.testing.assert_close(latents.grad * 4, result.grad)
        assert result.loss.item() == pytest.approx(0.5 * result.grad.square().sum().item() / 4, rel=1e-5)


def test_timesteps_cover_the_configured_integer_range():
    prior = AnalyticGuidance()
    result = prior.sds(torch.zeros(20_000, 4, 1, 1), "red", generator=_gen(0))
    assert result.t.dtype == torch.int64
    assert result.t.min().item() == 20 and result.t.max().item() == 980
    assert result.t.float().mean().item() == pytest.approx(500, abs=5)


def test_bad_input_is_named():
    prior = AnalyticGuidance()
    with pytest.raises(GuidanceError, match=r"\(B, 4, h, w\)"):
        prior.sds(torch.zeros(1, 3, 8, 8), "red", generator=_gen(0))
    with pytest.raises(GuidanceError, match="azimuth_deg"):
        prior.sds(torch.zeros(2, 4, 8, 8), "red", azimuth_deg=[0, 1, 2], generator=_gen(0))
    with pytest.raises(GuidanceError, match="torch.Generator"):
        prior.sds(torch.zeros(1, 4, 8, 8), "red", generator=None)
    with pytest.raises(GuidanceError, match="weighting"):
        GuidanceConfig(weighting="linear")
    with pytest.raises(GuidanceError, match="min_step_ratio"):
        GuidanceConfig(min_step_ratio=0.5, max_step_ratio=0.4)
    with pytest.raises(GuidanceError, match="guidance kind"):
        load_guidance("flux")


# --------------------------------------------------------------------------- model paths


def test_missing_model_is_refused_without_downloading(tmp_path):
    missing = tmp_path / "stable-diffusion-v1-5"
    with pytest.raises(GuidanceError, match="never downloads") as info:
        load_guidance("sd", missing, device="cpu")
    assert f"no model at {missing}" in str(info.value)
    with pytest.raises(GuidanceError, match="never downloads"):
        load_guidance("sd", None, device="cpu")


def test_unusable_model_locations_are_explained(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(GuidanceError, match="without model_index.json"):
        load_guidance("sd", tmp_path / "empty", device="cpu")
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(GuidanceError, match=r"\.safetensors/\.ckpt"):
        load_guidance("sd", tmp_path / "weights.bin", device="cpu")
    xl = tmp_path / "xl"
    xl.mkdir()
    (xl / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionXLPipeline",
                                                      "text_encoder_2": ["transformers", "CLIPTextModel"]}))
    with pytest.raises(GuidanceError, match="only Stable Diffusion 1.x/2.x"):
        load_guidance("sd", xl, device="cpu")
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "model_index.json").write_text("{}")
    with pytest.raises(GuidanceError, match="missing the component"):
        load_guidance("sd", partial, device="cpu")


# --------------------------------------------------------------------------- tiny Stable Diffusion


def test_tiny_sd_sds_injects_the_documented_gradient(sd):
    assert not sd.is_test_prior and sd.dtype == torch.float32 and sd.latent_channels == 4
    latents = torch.randn(2, 4, 64, 64, generator=_gen(3)).requires_grad_()
    result = sd.sds(latents, "a red chair", azimuth_deg=torch.tensor([10.0, 170.0]),
                    elevation_deg=[0.0, 20.0], generator=_gen(7))
    assert result.loss.ndim == 0 and torch.isfinite(result.loss)
    result.loss.backward()
    assert latents.grad.abs().sum() > 0

    # Recompute the step from the documented draw order, running the UNet directly.
    gen = _gen(7)
    t = torch.randint(20, 981, (2,), generator=gen)
    eps = torch.randn(2, 4, 64, 64, generator=gen)
    assert torch.equal(result.t, t)
    ab = sd.alphas_cumprod[t].view(2, 1, 1, 1)
    x_t = ab.sqrt() * latents.detach() + (1 - ab).sqrt() * eps
    embeds = [sd.encode_prompt("a red chair, front view"), sd.encode_prompt("a red chair, back view")]
    cond = torch.cat([e.cond for e in embeds])
    uncond = torch.cat([e.uncond for e in embeds])
    with torch.no_grad():
        out = sd.unet(torch.cat([x_t, x_t]), torch.cat([t, t]), encoder_hidden_states=torch.cat([uncond, cond]))
    eps_u, eps_c = out.sample.chunk(2)
    expected = (1 - ab) * (eps_u + 100.0 * (eps_c - eps_u) - eps)
    torch.testing.assert_close(result.grad, expected, rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(latents.grad * 2, expected, rtol=1e-4, atol=1e-3)
    assert result.grad_norm == pytest.approx(expected.norm().item(), rel=1e-4)
    assert result.loss.item() == pytest.approx(0.5 * expected.square().sum().item() / 2, rel=1e-4)


def test_tiny_sd_prompt_cache_skips_the_text_encoder(sd):
    calls = []
    handle = sd.text_encoder.register_forward_hook(lambda *args: calls.append(1))
    try:
        sd.clear_prompt_cache()
        latents = torch.zeros(1, 4, 16, 16)
        sd.sds(latents, "a blue car", generator=_gen(0))
        assert len(calls) == 2  # prompt and (empty) negative
        sd.sds(latents, "a blue car", generator=_gen(1))
        assert len(calls) == 2
        assert sd.encode_prompt("a blue car") is sd.encode_prompt("a blue car")
        sd.sds(latents, "a blue car", negative="blurry", generator=_gen(2))
        assert len(calls) == 4
    finally:
        handle.remove()


def test_tiny_sd_tokenizer_truncates_long_prompts(sd):
    embeds = sd.encode_prompt("a very long prompt about a ünïcode chair " * 30)
    assert embeds.cond.shape == (1, 77, 32) and embeds.uncond.shape == (1, 77, 32)
    ids = sd.tokenizer("word " * 200, padding="max_length", max_length=77, truncation=True).input_ids
    assert len(ids) == 77 and ids[-1] == sd.tokenizer.eos_token_id
    vocab, _ = random_sd.make_bpe_vocab(49408)  # the sd15 layout keeps CLIP's special token ids
    assert (vocab["<|startoftext|>"], vocab["<|endoftext|>"]) == (49406, 49407)


def test_tiny_sd_decode_and_encode_shapes(sd):
    factor = sd.vae_scale_factor
    assert factor == 2
    latents = torch.randn(2, 4, 64, 64, generator=_gen(4))
    with torch.no_grad():
        rgb = sd.decode(latents)
    assert rgb.shape == (2, 3, 64 * factor, 64 * factor) and rgb.dtype == torch.float32
    assert rgb.min() >= 0 and rgb.max() <= 1
    with torch.no_grad():
        back = sd.encode(rgb)
    assert back.shape == (2, 4, 64, 64) and torch.isfinite(back).all()
    # encode stays differentiable with respect to the image (RGB refinement trains through it).
    image = torch.rand(1, 3, 16, 16, generator=_gen(5)).requires_grad_()
    sd.encode(image).square().sum().backward()
    assert image.grad.abs().sum() > 0
    with pytest.raises(GuidanceError, match="multiples of 2"):
        sd.encode(torch.rand(1, 3, 15, 16))


def test_v_prediction_is_converted_to_eps(tiny_sd, tmp_path):
    guidance = load_guidance("sd", tiny_sd, device="cpu",
                             sd_config=StableDiffusionConfig(prediction_type="v_prediction"))
    x_t = torch.randn(1, 4, 16, 16, generator=_gen(6))
    t = torch.tensor([500])
    embeds = guidance.encode_prompt("a cat")
    _, eps_c = guidance.predict_noise(x_t, t, embeds.cond, embeds.uncond)
    with torch.no_grad():
        v = guidance.unet(x_t, t, encoder_hidden_states=embeds.cond).sample
    ab = guidance.alphas_cumprod[500]
    torch.testing.assert_close(eps_c, ab.sqrt() * v + (1 - ab).sqrt() * x_t)
    # The identity behind it: with v = sqrt(ab) eps - sqrt(1 - ab) z, sqrt(ab) v + sqrt(1 - ab) x_t = eps.
    z, eps = torch.randn(2, 8, generator=_gen(7))
    x = ab.sqrt() * z + (1 - ab).sqrt() * eps
    torch.testing.assert_close(ab.sqrt() * (ab.sqrt() * eps - (1 - ab).sqrt() * z) + (1 - ab).sqrt() * x, eps)
    # The scheduler config's prediction_type is used when not overridden.
    v_folder = random_sd.build_random_sd(tmp_path / "v", "tiny", prediction_type="v_prediction")
    assert load_guidance("sd", v_folder, device="cpu").prediction_type == "v_prediction"


def test_scale_one_runs_only_the_conditional_pass_and_offload_keeps_encoder_on_cpu(tiny_sd, sd):
    guidance = load_guidance("sd", tiny_sd, device="cpu", config=GuidanceConfig(guidance_scale=1.0),
                             sd_config=StableDiffusionConfig(text_encoder_offload=True, attention="sliced"))
    batches = []
    handle = guidance.unet.register_forward_hook(lambda module, args, out: batches.append(args[0].shape[0]))
    try:
        x_t = torch.randn(2, 4, 16, 16, generator=_gen(8))
        t = torch.tensor([100, 700])
        embeds = guidance.encode_prompt("a cat")
        cond, uncond = embeds.cond.expand(2, -1, -1), embeds.uncond.expand(2, -1, -1)
        eps_u, eps_c = guidance.predict_noise(x_t, t, cond, uncond)
    finally:
        handle.remove()
    assert batches == [2] and torch.equal(eps_u, eps_c)
    _, reference = sd.predict_noise(x_t, t, cond, uncond)  # same weights, SDPA, two-pass batch
    torch.testing.assert_close(eps_c, reference, rtol=1e-4, atol=1e-4)
    assert next(guidance.text_encoder.parameters()).device.type == "cpu"


def test_single_file_checkpoint_loads_offline(tiny_sd, sd, tmp_path):
    from safetensors.torch import save_file

    state = ldm_state_dict(tiny_sd)
    checkpoint = tmp_path / "tiny.safetensors"
    save_file(state, checkpoint)
    with pytest.raises(GuidanceError, match="single_file_config"):
        load_guidance("sd", checkpoint, device="cpu")
    guidance = load_guidance("sd", checkpoint, device="cpu",
                             sd_config=StableDiffusionConfig(single_file_config=str(tiny_sd)))
    for name in ("unet", "vae", "text_encoder"):
        ours, reference = getattr(guidance, name).state_dict(), getattr(sd, name).state_dict()
        assert ours.keys() == reference.keys(), name
        assert all(torch.equal(ours[k], reference[k]) for k in ours), name
    assert torch.equal(guidance.alphas_cumprod, sd.alphas_cumprod)

    # A .ckpt inside a diffusers folder holding only configs and tokenizer files is found as is.
    configs_only = tmp_path / "configs"
    shutil.copytree(tiny_sd, configs_only, ignore=shutil.ignore_patterns("*.safetensors"))
    torch.save({"state_dict": state}, configs_only / "model.ckpt")
    from_ckpt = load_guidance("sd", configs_only / "model.ckpt", device="cpu")
    ours, reference = from_ckpt.unet.state_dict(), sd.unet.state_dict()
    assert all(torch.equal(ours[k], reference[k]) for k in reference)
    result = from_ckpt.sds(torch.zeros(1, 4, 16, 16), "a red chair", generator=_gen(0))
    assert math.isfinite(result.loss.item())


def test_free_text_encoder_keeps_precomputed_prompts(tiny_sd):
    guidance = load_guidance("sd", tiny_sd, device="cpu")
    guidance.precompute_prompts("a green tree")
    guidance.free_text_encoder()
    result = guidance.sds(torch.zeros(4, 4, 16, 16), "a green tree", azimuth_deg=[0, 90, 180, 0],
                          elevation_deg=[0, 0, 0, 80], generator=_gen(0))
    assert torch.isfinite(result.loss)
    with pytest.raises(GuidanceError, match="precompute_prompts"):
        guidance.encode_prompt("a new prompt")


@pytest.mark.gpu
def test_tiny_sd_on_cuda_runs_in_fp16(tiny_sd):
    guidance = load_guidance("sd", tiny_sd, device="cuda")
    assert guidance.dtype == torch.float16 and guidance.unet.dtype == torch.float16
    latents = torch.randn(2, 4, 64, 64, device="cuda", requires_grad=True)
    result = guidance.sds(latents, "a red chair", azimuth_deg=[0, 90], generator=torch.Generator("cuda").manual_seed(0))
    result.loss.backward()
    assert torch.isfinite(latents.grad).all() and latents.grad.abs().sum() > 0
    with torch.no_grad():
        rgb = guidance.decode(latents)
    assert rgb.dtype == torch.float32 and rgb.shape == (2, 3, 128, 128)


def test_sd15_shapes_match_the_published_parameter_counts():
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    shape = random_sd._SD15
    with torch.device("meta"):
        unet = UNet2DConditionModel(**shape.unet)
        vae = AutoencoderKL(**shape.vae)
        text = CLIPTextModel(CLIPTextConfig(**{**shape.text, "bos_token_id": 49406, "eos_token_id": 49407,
                                               "pad_token_id": 49407}))

    def count(module):
        return sum(p.numel() for p in module.parameters())

    assert (count(unet), count(vae), count(text)) == (859_520_964, 83_653_863, 123_060_480)
