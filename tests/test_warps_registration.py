"""Deformation layers (affine, CPAB, TPS) and the global cross-modal registration."""
import math

import numpy as np
import pytest
import torch

from mmsr.data.embedded import embedded_pairs
from mmsr.data.misalign import distort, distortion_field, misalign, misalignment_magnitude, shuffled_middlebury, with_guide_only_object
from mmsr.evaluate import prepare_inputs
from mmsr.ops.warps import (AffineWarp, CPABWarp, DeformationStack, TPSWarp, identity_grid, integrate_velocity,
                            warp_image)
from mmsr.registration import edge_map, register_global, registration_error_px, similarity_theta


def random_points(n=500, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 2, generator=g) * 1.8 - 0.9


@pytest.mark.parametrize("layer", [AffineWarp(), CPABWarp((3, 4)), TPSWarp(4), DeformationStack()])
def test_every_layer_starts_at_the_identity(layer):
    p = random_points()
    assert torch.allclose(layer(p), p, atol=1e-6)


def test_identity_grid_matches_grid_sample_convention():
    img = torch.arange(35.0).reshape(1, 1, 5, 7)
    out = warp_image(img, identity_grid(5, 7)[None])
    assert torch.allclose(out, img, atol=1e-5)


def set_random_velocity(cpab, scale=0.15, seed=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        cpab.velocity.copy_((torch.rand(cpab.velocity.shape, generator=g) - 0.5) * 2 * scale)


def test_cpab_field_takes_vertex_values_and_is_continuous():
    cpab = CPABWarp((2, 3), zero_boundary=False)
    set_random_velocity(cpab)
    # at the cell corners and centres the field equals the parameters
    ys, xs = torch.linspace(-1, 1, 3), torch.linspace(-1, 1, 4)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    corners = torch.stack((gx.reshape(-1), gy.reshape(-1)), -1)
    assert torch.allclose(cpab.field(corners), cpab.velocity[:12], atol=1e-6)
    cy, cx = torch.meshgrid(torch.tensor([-0.5, 0.5]), torch.tensor([-2 / 3, 0.0, 2 / 3]), indexing="ij")
    centres = torch.stack((cx.reshape(-1), cy.reshape(-1)), -1)
    assert torch.allclose(cpab.field(centres), cpab.velocity[12:], atol=1e-5)
    # continuity: probe points ON the cell edges and on the triangle edges (corner-centre diagonals), and compare
    # the field a hair to either side; random points would almost never straddle an edge
    g = torch.Generator().manual_seed(3)
    t = torch.rand(300, generator=g, dtype=torch.float64) * 2 - 1
    eps, probes = 1e-7, []
    for x0 in torch.linspace(-1, 1, 4, dtype=torch.float64)[1:-1]:  # vertical cell edges, crossed along x
        probes.append((torch.stack((torch.full_like(t, float(x0)), t), -1), torch.tensor([1.0, 0.0])))
    probes.append((torch.stack((t, torch.zeros_like(t)), -1), torch.tensor([0.0, 1.0])))  # horizontal cell edge
    u = torch.rand(300, generator=g, dtype=torch.float64)  # the diagonals of cell (0, 0): corner -> centre
    for corner in ((-1.0, -1.0), (-1 / 3, -1.0), (-1 / 3, 0.0), (-1.0, 0.0)):
        c0, centre = torch.tensor(corner, dtype=torch.float64), torch.tensor([-2 / 3, -0.5], dtype=torch.float64)
        d = centre - c0
        probes.append((c0 + u[:, None] * d, torch.tensor([-float(d[1]), float(d[0])]) / d.norm()))
    for pts, normal in probes:
        n = normal.to(torch.float64)
        jump = cpab.field(pts + eps * n) - cpab.field(pts - eps * n)
        assert jump.abs().max() < 1e-5


@pytest.mark.parametrize("cell", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_cpab_field_is_affine_inside_each_of_the_four_triangles(cell):
    """Each cell is cut into 4 triangles by its diagonals (bottom, right, top, left); inside every one the field
    is affine, so at the centroid of three interior points it is the mean of their values."""
    cpab = CPABWarp((2, 2), zero_boundary=False)
    set_random_velocity(cpab)
    x0, y0 = -1.0 + cell[0], -1.0 + cell[1]
    corners = [(x0, y0), (x0 + 1, y0), (x0 + 1, y0 + 1), (x0, y0 + 1)]
    centre = torch.tensor([x0 + 0.5, y0 + 0.5], dtype=torch.float64)
    bary = torch.tensor([[0.6, 0.2, 0.2], [0.2, 0.6, 0.2], [0.2, 0.2, 0.6]], dtype=torch.float64)
    for i in range(4):  # the triangle (centre, corner i, corner i+1)
        tri = torch.stack((centre, torch.tensor(corners[i], dtype=torch.float64),
                           torch.tensor(corners[(i + 1) % 4], dtype=torch.float64)))
        pts = bary @ tri
        v = cpab.field(pts)
        mid = cpab.field(pts.mean(0, keepdim=True))[0]
        assert torch.allclose(mid, v.mean(0), atol=1e-6), i
        # and the field is NOT affine across two triangles (otherwise the test could not fail)
    other = torch.stack((torch.tensor(corners[0], dtype=torch.float64) * 0.5 + centre * 0.5,
                         torch.tensor(corners[2], dtype=torch.float64) * 0.5 + centre * 0.5,
                         torch.tensor(corners[1], dtype=torch.float64) * 0.5 + centre * 0.5))
    assert not torch.allclose(cpab.field(other.mean(0, keepdim=True))[0], cpab.field(other).mean(0), atol=1e-6)


@pytest.mark.parametrize("exact", [True, False])
def test_integrating_minus_v_inverts_v(exact):
    cpab = CPABWarp((4, 4), steps=32)
    set_random_velocity(cpab, scale=0.2)
    p = random_points(800, seed=5)
    forward = cpab(p, exact=exact)
    assert (forward - p).abs().max() > 1e-2  # it really moved
    back = cpab(forward, inverse=True, exact=exact)
    assert (back - p).abs().max() < 2e-3  # 2e-3 of the half-width: one pixel in 1000


def test_cpab_with_zero_boundary_keeps_the_frame():
    cpab = CPABWarp((3, 3), zero_boundary=True)
    set_random_velocity(cpab, scale=0.3)
    t = torch.linspace(-1, 1, 50)
    edge = torch.cat((torch.stack((t, -torch.ones(50)), -1), torch.stack((torch.ones(50), t), -1)))
    assert cpab.field(edge).abs().max() < 1e-6


def test_integrate_velocity_solves_a_linear_ode():
    # dp/dt = -p  ->  p(1) = p(0) / e
    p = random_points(10)
    assert torch.allclose(integrate_velocity(lambda q: -q, p, 10), p / math.e, atol=1e-5)


def test_tps_passes_through_its_displaced_control_points():
    tps = TPSWarp(3)
    with torch.no_grad():
        tps.displacement.copy_(torch.randn(9, 2, generator=torch.Generator().manual_seed(0)) * 0.05)
    assert torch.allclose(tps(tps.control), tps.control + tps.displacement, atol=1e-4)


def test_gradients_reach_every_deformation_parameter():
    stack = DeformationStack()
    with torch.no_grad():  # off the identity so that no gradient is structurally zero
        stack.cpab.velocity.add_(0.01)
        stack.tps.displacement.add_(0.01)
    img = torch.rand(1, 3, 20, 24)
    out = warp_image(img, stack(identity_grid(10, 12)[None]))
    out.square().sum().backward()
    for name, p in stack.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_unknown_layer_is_refused():
    with pytest.raises(ValueError, match="unknown deformation layer"):
        DeformationStack(("affine", "optical-flow"))


def test_field_interpolation_matches_exact_evaluation():
    stack = DeformationStack()
    set_random_velocity(stack.cpab, scale=0.04)  # a few percent of the frame: tens of pixels
    with torch.no_grad():
        stack.tps.displacement.normal_(0, 0.01)
    p = random_points(300)
    moved = (stack(p, exact=True) - p).abs().max()
    assert moved > 5e-3
    assert (stack(p) - stack(p, exact=True)).abs().max() < 0.1 * moved


# ------------------------------------------------------------------------------------------------ registration
@pytest.fixture(scope="module")
def odd_pair():
    p = embedded_pairs("test")[0]
    return p.cropped(4)


@pytest.mark.parametrize("shift,rot,zoom", [((0, 0), 0.0, 1.0), ((24, -14), 0.0, 1.0), ((-18, 10), 4.0, 1.03)])
def test_registration_recovers_a_known_misalignment(odd_pair, shift, rot, zoom):
    q = misalign(odd_pair, shift, rot, zoom)
    lr, g, _ = prepare_inputs(q, 4, "rgb")
    H, W = g.shape[-2:]
    reg = register_global(lr, g)
    err = registration_error_px(reg.theta, similarity_theta(rot, zoom, shift, (H, W)), (H, W))
    before = misalignment_magnitude(shift, rot, zoom, (H, W))
    assert err < max(3.0, 0.15 * before), (err, before, reg)


def test_registration_refuses_batches():
    with pytest.raises(ValueError, match=r"\(1, C, h, w\)"):
        register_global(torch.rand(2, 1, 16, 16), torch.rand(2, 3, 64, 64))


def test_edge_map_is_contrast_invariant():
    x = torch.rand(1, 1, 32, 40)
    assert torch.allclose(edge_map(x), edge_map(1 - x), atol=1e-5)


def test_misalign_records_the_transform_and_zero_is_identity(odd_pair):
    same = misalign(odd_pair)
    assert np.abs(same.guide.astype(int) - odd_pair.guide.astype(int)).max() <= 1
    moved = misalign(odd_pair, (5, 0))
    assert moved.meta["misalignment"]["shift_px"] == [5.0, 0.0]
    # content moves right by 5 px
    assert np.abs(moved.guide[:, 10:-10].astype(int) - odd_pair.guide[:, 5:-15].astype(int)).mean() < 2


def test_distortion_field_radial_part_is_exact_and_random_part_bounded():
    h, w = 41, 61
    u = distortion_field((h, w), k1=0.02)
    cy, cx = (h - 1) / 2, (w - 1) / 2
    assert np.allclose(u[20, 30], 0)  # the centre does not move
    R = math.hypot(cy, cx)
    assert np.allclose(u[0, 0], [0.02 * -cx, 0.02 * -cy])  # a corner moves by k1 * (p - c), |.| = k1 R
    assert math.isclose(np.hypot(*u[0, 0]), 0.02 * R)
    v = distortion_field((h, w), amplitude_px=3.0, cells=2, seed=4)
    assert np.abs(v).max() <= 3.0 * 1.3  # bicubic overshoot stays small
    assert np.array_equal(v, distortion_field((h, w), amplitude_px=3.0, cells=2, seed=4))
    assert np.abs(np.diff(v, axis=1)).max() < 1.0  # smooth: under 1 px change per pixel


def test_distort_moves_the_guide_by_the_field_and_records_it(odd_pair):
    same = distort(odd_pair)
    assert np.array_equal(same.guide, odd_pair.guide) or np.abs(same.guide.astype(int) - odd_pair.guide.astype(int)).max() <= 1
    q = distort(odd_pair, k1=0.05, amplitude_px=2.0, cells=2, seed=3)
    d = q.meta["distortion"]
    assert d["k1"] == 0.05 and d["seed"] == 3 and 0 < d["mean_px"] < d["max_px"]
    assert np.array_equal(q.target, odd_pair.target) and not np.array_equal(q.guide, odd_pair.guide)
    # the guide at p is the old guide at p + u(p): check one pixel against bilinear interpolation by hand
    u = distortion_field(odd_pair.guide.shape[:2], 0.05, 2.0, 2, 3)
    g = odd_pair.guide.astype(float)
    y, x = 12, 17
    sx, sy = x + u[y, x, 0], y + u[y, x, 1]
    x0, y0 = int(np.floor(sx)), int(np.floor(sy))
    fx, fy = sx - x0, sy - y0
    ref = ((1 - fy) * ((1 - fx) * g[y0, x0] + fx * g[y0, x0 + 1]) + fy * ((1 - fx) * g[y0 + 1, x0] + fx * g[y0 + 1, x0 + 1]))
    assert np.abs(q.guide[y, x].astype(float) - ref).max() <= 1.0


def test_shuffled_middlebury_is_reproducible(shared_data):
    a = shuffled_middlebury(root=shared_data)
    b = shuffled_middlebury(root=shared_data)
    assert len(a) >= 3
    assert [p.meta["misalignment"] for p in a] == [p.meta["misalignment"] for p in b]
    assert all(p.dataset == "shuffled_middlebury" for p in a)


def test_guide_only_object_changes_the_guide_only(odd_pair):
    q = with_guide_only_object(odd_pair, radius=10)
    y0, x0, y1, x1 = q.meta["guide_only_box"]
    assert np.array_equal(q.target, odd_pair.target)
    assert not np.array_equal(q.guide[y0:y1, x0:x1], odd_pair.guide[y0:y1, x0:x1])
    outside = np.ones(q.guide.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(q.guide[outside], odd_pair.guide[outside])
    with pytest.raises(ValueError, match="does not fit"):
        with_guide_only_object(odd_pair, centre=(0, 0), radius=10)


def test_red_green_overlay_and_quiver(odd_pair):
    import matplotlib

    matplotlib.use("Agg")
    from mmsr.plot import displacement_quiver, red_green

    rg = red_green(odd_pair.target, odd_pair.guide)
    assert rg.shape == odd_pair.target.shape + (3,) and rg.min() >= 0 and rg.max() <= 1
    assert np.all(rg[..., 2] == 0)
    with pytest.raises(ValueError, match="same size"):
        red_green(odd_pair.target, odd_pair.guide[:-1])
    ax = displacement_quiver(DeformationStack(), (40, 60), step=10)
    assert "max 0.0 px" in ax.get_title()


def test_thermal_visible_loader(shared_data):
    from mmsr.data.datasets import load_thermal_visible

    pairs = load_thermal_visible("cats", 4, shared_data)
    assert pairs and all(p["guide"].shape[:2] == (p["lr"].shape[0] * 4, p["lr"].shape[1] * 4) for p in pairs)
    assert all(p["lr"].ndim == 2 for p in pairs)


def test_thermal_visible_loader_says_what_is_missing(tmp_path):
    from mmsr.checks import DataNotFoundError
    from mmsr.data.datasets import load_thermal_visible

    with pytest.raises(DataNotFoundError, match="thermal"):
        load_thermal_visible("cats", 4, tmp_path)
