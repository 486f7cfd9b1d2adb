"""Latent-NeRF field and renderer on the CPU: the hash grid against its slow reference, analytic volume
rendering, the occupancy grid, the G3DR gradient hook and a small fit."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from torch import nn

from procdream.gen3d.nerf.cameras import Camera, CameraConfig, camera_rays, random_cameras
from procdream.gen3d.nerf.hashgrid import HashGrid, HashGridConfig, level_resolutions, reference_encode
from procdream.gen3d.nerf.losses import sparsity_loss
from procdream.gen3d.nerf.model import LatentNeRF, LatentNeRFConfig, trunc_exp
from procdream.gen3d.nerf.occupancy import OccupancyConfig, OccupancyGrid
from procdream.gen3d.nerf.render import RenderConfig, ray_aabb, render, render_rays

# Levels 4, 10 dense ((N+1)^3 <= 4096); 25, 64 hashed.
SMALL_GRID = HashGridConfig(n_levels=4, base_resolution=4, finest_resolution=64, log2_table_size=12)
# A field small enough that a few hundred renders take seconds.
SMALL_MODEL = dict(grid=HashGridConfig(n_levels=8, base_resolution=8, finest_resolution=128, log2_table_size=14))


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """The tensors here are small; on a shared 2-core machine a second OpenMP thread mostly spin-waits
    (the small fit ran 4-10x slower with 2 threads under load)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def small_grid(dtype=torch.float64, cfg=SMALL_GRID):
    grid = HashGrid(cfg, generator=gen(0), dtype=dtype)
    with torch.no_grad():  # features of order 1, so differences are not hidden by the 1e-4 init
        grid.table.uniform_(-1, 1, generator=gen(1))
    return grid


def test_default_levels_follow_the_geometric_series():
    cfg = HashGridConfig()
    res = level_resolutions(cfg)
    assert res[0] == 16 and res[-1] == 2048 and len(res) == 16
    b = math.exp(math.log(2048 / 16) / 15)
    assert res == [math.floor(16 * b**lvl + 1e-6) for lvl in range(16)]
    grid = HashGrid(cfg, generator=gen())
    assert grid.n_dense == 5 and all(s == 2**19 for s in grid.sizes[5:]) and grid.sizes[0] == 17**3
    assert grid.table.shape == (sum(grid.sizes), 2)
    assert grid.table.abs().max() <= 1e-4 and grid.table.std() > 1e-5
    assert torch.equal(HashGrid(cfg, generator=gen()).table, grid.table)  # only the generator decides


def _test_points(grid):
    g = gen(2)
    pts = [torch.rand(500, 3, generator=g, dtype=torch.float64) * 2 - 1]
    # Exactly on vertices of every level (including the faces of the cube) and on the bounds.
    for res in grid.resolutions:
        ijk = torch.randint(0, res + 1, (40, 3), generator=g).double()
        pts.append(ijk / res * 2 - 1)
    pts.append(torch.tensor([[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0], [1.0, -1.0, 0.3], [0.0, 0.0, 0.0],
                             [1.0 - 1e-12, 0.5, -1.0 + 1e-12]], dtype=torch.float64))
    return torch.cat(pts)


def test_hash_grid_matches_the_reference_on_dense_and_hashed_levels():
    grid = small_grid()
    assert grid.dense == [True, True, False, False]
    x = _test_points(grid)
    want = reference_encode(grid, x)
    assert want.shape == (x.shape[0], 8)
    torch.testing.assert_close(grid(x), want, atol=1e-12, rtol=0)
    # float32 points and table: the same up to float32 rounding of the vertex coordinates.
    grid32 = small_grid(torch.float32)
    torch.testing.assert_close(grid32(x.float()).double(), reference_encode(grid32, x.float()), atol=2e-5, rtol=0)
    # Chunking is invisible.
    chunked = small_grid(cfg=dataclasses.replace(SMALL_GRID, chunk_size=7))
    torch.testing.assert_close(chunked(x), want, atol=1e-12, rtol=0)


def test_hash_grid_hash_is_the_instant_ngp_hash():
    grid = small_grid()
    level = 3  # hashed, resolution 64
    res, size = grid.resolutions[level], grid.table_size
    i, j, k = 17, 40, 63
    x = torch.tensor([[i, j, k]], dtype=torch.float64) / res * 2 - 1
    # uint32 wrap-around then mod T, as in instant-ngp; at a vertex the feature is that row exactly.
    row = ((i * 1) ^ ((j * 2654435761) % 2**32) ^ ((k * 805459861) % 2**32)) % size
    feats = grid(x)[0, 2 * level:2 * level + 2]
    torch.testing.assert_close(feats, grid.table[grid.offsets[level] + row].detach(), atol=1e-12, rtol=0)


def test_hash_grid_gradients_match_autograd_on_the_reference():
    grid = small_grid()
    x = _test_points(grid)[::7]
    w = torch.randn(x.shape[0], 8, generator=gen(3), dtype=torch.float64)
    (grid(x) * w).sum().backward()
    fast = grid.table.grad.clone()
    grid.table.grad = None
    (reference_encode(grid, x) * w).sum().backward()
    assert fast.abs().sum() > 0
    torch.testing.assert_close(fast, grid.table.grad, atol=1e-12, rtol=0)


def test_trunc_exp_clamps_only_the_gradient():
    x = torch.tensor([0.0, 3.0, 100.0], requires_grad=True)
    y = trunc_exp(x)
    assert torch.equal(y.detach(), torch.exp(x.detach()))
    y.sum().backward()
    torch.testing.assert_close(x.grad, torch.exp(torch.tensor([0.0, 3.0, 15.0])))


# --- volume rendering against closed forms ----------------------------------------------------------


class ConstantField(nn.Module):
    """sigma(x) = density inside [zmin, zmax] in z (everywhere by default), constant colour and
    background; counts the points it evaluates."""

    def __init__(self, density, color=(1.0, -2.0, 0.5, 3.0), bg=(0.25, 0.5, -1.0, 2.0), zrange=(-9, 9)):
        super().__init__()
        self.bound = 1.0
        self.value = density
        self.zrange = zrange
        self.register_buffer("c", torch.tensor(color, dtype=torch.float64))
        self.register_buffer("bg", torch.tensor(bg, dtype=torch.float64))
        self.evaluated = 0

    def forward(self, x):
        self.evaluated += x.shape[0]
        inside = (x[:, 2] >= self.zrange[0]) & (x[:, 2] <= self.zrange[1])
        sigma = torch.where(inside, torch.full_like(x[:, 0], self.value), torch.zeros_like(x[:, 0]))
        return sigma, self.c.expand(x.shape[0], 4)

    def background(self, d):
        return self.bg.expand(d.shape[0], 4)


def _rays():
    """Rays with known chord lengths through [-1, 1]^3 (float64)."""
    s = 1 / math.sqrt(1.04)
    origins = torch.tensor([[0.3, -0.2, 3.0], [-2.0, -2.0, -2.0], [0.0, 0.0, 0.0], [0.0, 0.0, 3.0],
                            [0.0, 5.0, 0.0], [0.0, 0.0, 3.0]], dtype=torch.float64)
    dirs = torch.tensor([[0.0, 0.0, -1.0], [1.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.2, 0.0, -1.0],
                         [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]], dtype=torch.float64)
    dirs = dirs / dirs.norm(dim=1, keepdim=True)
    # axis ray, main diagonal, from the centre to a face, tilted through two faces, a miss, a miss
    lengths = torch.tensor([2.0, 2 * math.sqrt(3), 1.0, 2 / s * 1.0, 0.0, 0.0], dtype=torch.float64)
    return origins, dirs, lengths


def test_ray_box_intersection():
    origins, dirs, lengths = _rays()
    near, far, hit = ray_aabb(origins, dirs, 1.0)
    assert hit.tolist() == [True, True, True, True, False, False]
    torch.testing.assert_close((far - near.clamp(min=0))[hit], lengths[hit])
    torch.testing.assert_close(near[0], torch.tensor(2.0, dtype=torch.float64))


@pytest.mark.parametrize("jitter", [False, True])
def test_constant_medium_has_beer_lambert_opacity(jitter):
    origins, dirs, lengths = _rays()
    sigma = 0.7
    field = ConstantField(sigma)
    out = render_rays(field, origins, dirs, RenderConfig(n_samples=48), generator=gen() if jitter else None)
    want = 1 - torch.exp(-sigma * lengths)
    torch.testing.assert_close(out.opacity, want, atol=1e-12, rtol=0)
    want_latent = want[:, None] * field.c + (1 - want[:, None]) * field.bg
    torch.testing.assert_close(out.latent, want_latent, atol=1e-12, rtol=0)
    # Missed rays never reach the field.
    assert out.n_evaluated == 4 * 48 and field.evaluated == 4 * 48
    assert set(out.ray_index.tolist()) == {0, 1, 2, 3}


def test_empty_medium_renders_the_background():
    origins, dirs, _ = _rays()
    field = ConstantField(0.0)
    out = render_rays(field, origins, dirs, RenderConfig(n_samples=16))
    assert torch.equal(out.latent, field.bg.expand(6, 4))
    assert torch.equal(out.opacity, torch.zeros(6, dtype=torch.float64))
    assert torch.equal(out.depth, torch.zeros(6, dtype=torch.float64))


def test_expected_depth_of_a_thin_slab():
    # Opaque slab z in [0.23, 0.27]; a ray from z = 3 straight down enters it at t = 2.73.
    field = ConstantField(1e4, zrange=(0.23, 0.27))
    o = torch.tensor([[0.1, 0.2, 3.0]], dtype=torch.float64)
    d = torch.tensor([[0.0, 0.0, -1.0]], dtype=torch.float64)
    out = render_rays(field, o, d, RenderConfig(n_samples=400))  # bins of 0.005
    assert out.opacity.item() == pytest.approx(1.0, abs=1e-9)
    assert 2.73 <= out.depth.item() <= 2.73 + 0.005
    # A faint slab: depth is still the slab's, opacity 1 - exp(-sigma * 0.04).
    faint = ConstantField(2.0, zrange=(0.23, 0.27))
    out = render_rays(faint, o, d, RenderConfig(n_samples=400))
    assert out.opacity.item() == pytest.approx(1 - math.exp(-2.0 * 0.04), rel=1e-6)
    assert out.depth.item() == pytest.approx(2.75, abs=2e-3)


def test_render_images_shapes_and_ray_index():
    model = LatentNeRF(LatentNeRFConfig(**SMALL_MODEL), generator=gen())
    cams = random_cameras(2, np.random.default_rng(0))
    out = render(model, cams, 12, 10, RenderConfig(n_samples=8, chunk_rays=50), generator=gen())
    assert out.latent.shape == (2, 4, 12, 10) and out.background.shape == (2, 4, 12, 10)
    assert out.opacity.shape == (2, 1, 12, 10) and out.depth.shape == (2, 1, 12, 10)
    m = out.n_evaluated
    assert out.positions.shape == (m, 3) and out.sigma.shape == out.alpha.shape == out.t.shape == (m,)
    assert out.ray_index.dtype == torch.int64 and int(out.ray_index.max()) < 2 * 12 * 10
    assert (out.positions.abs() <= 1 + 1e-5).all()
    # Per-sample weights reproduce the per-pixel opacity.
    opacity = torch.zeros(240).index_add(0, out.ray_index, out.weights)
    torch.testing.assert_close(opacity, out.opacity.reshape(-1))
    assert torch.isfinite(out.latent).all() and ((out.opacity >= 0) & (out.opacity <= 1)).all()


def test_camera_rays_follow_the_raster_conventions():
    from procdream.gen3d.raster.camera import look_at, perspective

    cam = Camera.spherical(2.0, 60.0, 30.0, fov_deg=50.0)
    h, w = 6, 8
    origins, dirs = camera_rays(cam, h, w, dtype=torch.float64)
    torch.testing.assert_close(dirs.norm(dim=1), torch.ones(h * w, dtype=torch.float64))
    # A point along each ray projects to that pixel's centre (rows top-down) with raster's matrices.
    mvp = perspective(50.0, w / h, 0.1, 10.0) @ look_at(cam.eye)
    pts = (origins + 1.5 * dirs).numpy()
    clip = np.c_[pts, np.ones(len(pts))] @ mvp.T
    ndc = clip[:, :2] / clip[:, 3:]
    col = (ndc[:, 0] + 1) / 2 * w - 0.5
    row = (1 - ndc[:, 1]) / 2 * h - 0.5
    rr, cc = np.divmod(np.arange(h * w), w)
    np.testing.assert_allclose(col, cc, atol=1e-9)
    np.testing.assert_allclose(row, rr, atol=1e-9)
    front = Camera.spherical(1.5, 90.0, 0.0)
    assert front.eye == pytest.approx((0.0, 0.0, 1.5)) and front.elevation_deg == 0.0
    cams = random_cameras(50, np.random.default_rng(1), CameraConfig())
    radii = [np.linalg.norm(c.eye) for c in cams]
    assert 1.0 <= min(radii) and max(radii) <= 1.5 and all(40 <= c.fov_deg <= 70 for c in cams)


# --- occupancy grid ---------------------------------------------------------------------------------


def sphere_model():
    """A field whose density is essentially a ball: raw density -10 (5e-5) plus a blob of 16 (radius
    0.2), i.e. 400 at the centre, 1 at |x| = 0.15 and < 0.01 beyond |x| = 0.25; constant latent
    colour."""
    model = LatentNeRF(LatentNeRFConfig(**SMALL_MODEL, blob_density=16.0), generator=gen())
    last = model.mlp[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.tensor([-10.0, 0.8, -0.4, 0.3, 0.1]))
    return model


def test_occupancy_grid_culls_empty_space_without_changing_the_image():
    model = sphere_model()
    occ = OccupancyGrid(1.0, OccupancyConfig(resolution=32, warmup_updates=2))
    probe = torch.tensor([[0.0, 0.0, 0.0], [0.9, 0.9, 0.9], [-0.8, 0.1, 0.0], [0.0, 0.6, 0.0], [1.5, 0, 0]])
    assert occ.occupied(probe).tolist() == [True, True, True, True, False]  # warm-up: all inside
    g = gen(5)
    for step in range(0, 48, 16):
        assert occ.update(model, step, g)
    assert not occ.update(model, 3, g)
    assert occ.warm and 0 < occ.threshold <= 0.05
    assert occ.occupied(probe).tolist() == [True, False, False, False, False]
    assert occ.occupied_fraction() < 0.05

    cams = [Camera.spherical(1.3, 70.0, 20.0, 55.0), Camera.spherical(1.2, 100.0, 200.0, 45.0)]
    counts = []
    model.register_forward_hook(lambda mod, args, out: counts.append(args[0].shape[0]))
    cfg = RenderConfig(n_samples=64)
    with torch.no_grad():
        full = render(model, cams, 24, 24, cfg)
        culled = render(model, cams, 24, 24, cfg, occupancy=occ)
    assert sum(counts[:1]) == full.n_evaluated and sum(counts[1:]) == culled.n_evaluated
    assert culled.n_evaluated < 0.15 * full.n_evaluated
    assert (full.opacity.max() > 0.9) and (full.latent - culled.latent).abs().max() < 1e-3
    assert (full.opacity - culled.opacity).abs().max() < 1e-3


def test_occupancy_state_round_trips():
    model = sphere_model()
    occ = OccupancyGrid(1.0, OccupancyConfig(resolution=8, warmup_updates=1, update_fraction=0.5))
    occ.update(model, 0, gen(), force=True)
    occ.update(model, 16, gen(1))  # a random half of the cells after warm-up
    other = OccupancyGrid(1.0, OccupancyConfig(resolution=8, warmup_updates=1))
    other.load_state_dict(occ.state_dict())
    assert torch.equal(other.mask, occ.mask) and other.warm


# --- G3DR gradient scaling ---------------------------------------------------------------------------


def test_gradient_scale_hook_keeps_the_forward_and_scales_the_gradient():
    model = LatentNeRF(LatentNeRFConfig(**SMALL_MODEL), generator=gen())
    cams = [Camera.spherical(1.4, 80.0, 10.0, 50.0)]
    target = torch.randn(1, 4, 10, 10, generator=gen(9))

    def run(hook):
        model.zero_grad()
        out = render(model, cams, 10, 10, RenderConfig(n_samples=16), generator=gen(4), sample_grad_scale=hook)
        out.sigma.retain_grad()
        ((out.latent - target) ** 2).sum().backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters()}
        return out, grads

    plain, g_plain = run(None)
    half, g_half = run(lambda t, ray: torch.full_like(t, 0.5))
    for name in ("latent", "opacity", "depth", "alpha", "weights"):
        assert torch.equal(getattr(plain, name), getattr(half, name)), name
    for name, g in g_plain.items():
        k = 1.0 if name.startswith("background_net") else 0.5  # the background is not a sample
        torch.testing.assert_close(g_half[name], k * g, rtol=1e-4, atol=1e-9)

    # A per-sample k (G3DR's, around a surface at t = 1.4): d loss / d sigma_i scales by k_i.
    def g3dr(t, ray):
        return (1.25 * torch.exp(-(t - 1.4) ** 2 / 0.03)).clamp(0.05, 1.0)

    varied, _ = run(g3dr)
    assert torch.equal(varied.latent, plain.latent)
    k = g3dr(plain.t, plain.ray_index)
    assert k.min() < 0.1 and k.max() == 1.0
    torch.testing.assert_close(varied.sigma.grad, k * plain.sigma.grad, rtol=1e-4, atol=1e-12)


# --- losses and a small fit -------------------------------------------------------------------------


def test_sparsity_loss_is_binary_entropy():
    o = torch.tensor([0.5, 0.5])
    assert sparsity_loss(o).item() == pytest.approx(math.log(2))
    o = torch.tensor([0.0, 1.0, 0.3], requires_grad=True)
    loss = sparsity_loss(o)
    loss.backward()
    assert torch.isfinite(o.grad).all() and loss.item() == pytest.approx(
        -(0.3 * math.log(0.3) + 0.7 * math.log(0.7)) / 3, rel=1e-3)


def test_small_fit_reduces_the_loss():
    model = LatentNeRF(LatentNeRFConfig(**SMALL_MODEL), generator=gen())
    cams = [Camera.spherical(1.3, 80.0, az, 50.0) for az in (0.0, 90.0, 180.0, 270.0)]
    target = torch.tensor([0.6, -0.4, 0.3, -0.2]).view(1, 4, 1, 1).expand(4, 4, 12, 12)
    opt = torch.optim.Adam(model.param_groups(lr_grid=1e-2, lr_mlp=1e-2), betas=(0.9, 0.99), eps=1e-15)
    g = gen(7)
    losses = []
    for _ in range(100):
        out = render(model, cams, 12, 12, RenderConfig(n_samples=16), generator=g)
        loss = ((out.latent - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.05 * losses[0], losses[::10]


# --- CUDA fast paths: CPU fallbacks here, kernels against the torch reference on a GPU ---------------


def test_fused_composite_reference_matches_the_renderer():
    model = LatentNeRF(LatentNeRFConfig(**SMALL_MODEL), generator=gen())
    cams = [Camera.spherical(1.3, 70.0, 40.0, 50.0)]
    target = torch.randn(1, 4, 8, 8, generator=gen(2))
    results = []
    for fused in (False, True):
        model.zero_grad()
        out = render(model, cams, 8, 8, RenderConfig(n_samples=24, fused_composite=fused), generator=gen(3))
        loss = ((out.latent - target) ** 2).sum() + out.depth.sum() + out.opacity.sum() + out.weights.sum()
        loss.backward()
        results.append((out, [p.grad.clone() for p in model.parameters()]))
    (a, ga), (b, gb) = results
    for name in ("latent", "opacity", "depth", "weights"):
        torch.testing.assert_close(getattr(a, name), getattr(b, name), rtol=1e-5, atol=1e-6)
    for x, y in zip(ga, gb, strict=True):
        torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-7)


def test_cuda_modules_fall_back_to_torch_without_a_gpu():
    from procdream.gen3d.cuda import composite as cc
    from procdream.gen3d.cuda import hashgrid as ch

    grid = small_grid(torch.float32, dataclasses.replace(SMALL_GRID, backend="cuda"))
    x = torch.rand(50, 3, generator=gen()) * 2 - 1
    assert torch.equal(ch.hash_encode(grid, x), grid.encode_torch(x))
    assert torch.equal(grid(x), grid.encode_torch(x))  # backend "cuda" with CPU tensors: the torch path
    assert not ch.kernel_usable(grid, x)
    tau = torch.rand(3, 5, generator=gen())
    cols, bg = torch.rand(3, 5, 4, generator=gen(1)), torch.rand(3, 4, generator=gen(2))
    t = torch.linspace(1, 2, 5).expand(3, 5)
    for u, v in zip(cc.composite(tau, cols, t, bg), cc.composite_reference(tau, cols, t, bg), strict=True):
        assert torch.equal(u, v)
    assert ch.extension_dir("x").parts[-3:] == ("procdream", "torch_extensions", "x")


def _require_kernel(usable: bool):
    from torch.utils import cpp_extension

    if not usable and not cpp_extension.is_ninja_available():
        pytest.skip("ninja is not installed; torch cannot JIT-build the extension")
    assert usable, "the CUDA extension failed to build (see the RuntimeWarning)"


@pytest.mark.gpu
def test_cuda_hash_grid_kernel_matches_torch():
    from procdream.gen3d.cuda import hashgrid as ch

    for cfg in (SMALL_GRID, HashGridConfig()):
        grid = small_grid(torch.float32, cfg).cuda()
        x = _test_points(grid).float().cuda()
        _require_kernel(ch.kernel_usable(grid, x))
        want = grid.encode_torch(x)
        got = ch.hash_encode(grid, x)
        torch.testing.assert_close(got, want, atol=2e-5, rtol=1e-5)
        w = torch.randn(got.shape, generator=gen(4)).cuda()
        (got * w).sum().backward()
        kernel_grad = grid.table.grad.clone()
        grid.table.grad = None
        (want.new_zeros(()) + (grid.encode_torch(x) * w).sum()).backward()
        torch.testing.assert_close(kernel_grad, grid.table.grad, atol=1e-4, rtol=1e-4)


@pytest.mark.gpu
def test_cuda_composite_kernel_matches_the_reference():
    from procdream.gen3d.cuda import composite as cc

    g = gen(6)
    r, s, c = 300, 48, 4
    tau = (torch.rand(r, s, generator=g) * 0.3) * (torch.rand(r, s, generator=g) > 0.3)
    tau[:20, 10] = 80.0  # opaque samples: the TAU_MAX paths
    tau[20:40] = 0.0  # empty rays
    inputs = [tau, torch.randn(r, s, c, generator=g), torch.linspace(0.5, 3.0, s).expand(r, s).contiguous(),
              torch.randn(r, c, generator=g)]
    upstream = [torch.randn(r, c, generator=g), torch.randn(r, generator=g), torch.randn(r, generator=g),
                torch.randn(r, s, generator=g)]
    results = []
    for fn in (cc.composite_reference, cc.composite):
        leaves = [x.clone().cuda().requires_grad_(i != 2) for i, x in enumerate(inputs)]
        if fn is cc.composite:
            _require_kernel(cc.kernel_usable(*leaves))
        outs = fn(*leaves)
        sum((o * u.cuda()).sum() for o, u in zip(outs, upstream, strict=True)).backward()
        results.append(([o.detach() for o in outs], [leaves[i].grad for i in (0, 1, 3)]))
    (ref_out, ref_grad), (k_out, k_grad) = results
    for a, b in zip(k_out, ref_out, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    for a, b in zip(k_grad, ref_grad, strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
