"""The re-implemented comparison columns (issue #15): CSCN (Wang et al., 2015), CoISTA (Deng & Dragotti,
2019) and SRFBN (Li et al., 2019). Shapes at x2/x4/x8 and odd
sizes, the published layer sizes, gradients that reach every parameter and are not zero, the exact patch
combination, and bad inputs refused."""
import pytest
import torch

from mmsr.models.coista import CoISTA, PatchCodec
from mmsr.models.cscn import CSCN, SCNStage, haar_position_filters, placement_kernel


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_cscn_shapes_and_nonzero_gradients(scale):
    torch.manual_seed(0)
    m = CSCN(scale, atoms=16)
    lr = torch.rand(2, 1, 7, 9)  # odd sizes
    out = m(lr, torch.rand(2, 3, 7 * scale, 9 * scale))  # the guide is accepted and ignored
    assert out.shape == (2, 1, 7 * scale, 9 * scale) and len(m.stages) == {2: 1, 4: 2, 8: 3}[scale]
    out.square().mean().backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_cscn_has_the_papers_layer_sizes():
    st = CSCN(2).stages[0]
    assert st.H.weight.shape == (100, 1, 9, 9) and st.W.weight.shape == (128, 100, 1, 1)
    assert st.S.weight.shape == (128, 128, 1, 1) and st.Dx.weight.shape == (25, 128, 1, 1)
    h = haar_position_filters().reshape(100, -1)
    assert torch.linalg.matrix_rank(h) == 81  # 4 filters x 25 positions span every 9x9 patch


def test_patch_combination_rebuilds_an_image_from_its_true_patches():
    """Give every pixel the true 5x5 patch around it: the placement kernel must put each value back where it
    came from, so the sum over the 25 overlapping patches is 25 times the image (interior)."""
    torch.manual_seed(1)
    img = torch.rand(1, 1, 12, 14)
    padded = torch.nn.functional.pad(img, (2, 2, 2, 2))
    patches = torch.stack([padded[0, 0, i:i + 12, j:j + 14] for i in range(5) for j in range(5)])[None]
    out = torch.nn.functional.conv2d(torch.nn.functional.pad(patches, (2, 2, 2, 2)), placement_kernel())
    assert torch.allclose(out[..., 4:-4, 4:-4], 25 * img[..., 4:-4, 4:-4], atol=1e-5)


def test_cscn_lista_step_is_one_ista_step_at_initialisation():
    """At initialisation W = D^T / L and S = I - D^T D / L with L = ||D||_2^2 (one ISTA step of size 1/L):
    then I - S = W W^T / ||W||_2^2 and ||I - S||_2 = 1."""
    torch.manual_seed(2)
    st = SCNStage(atoms=32)
    w, s = st.W.weight[:, :, 0, 0].detach(), st.S.weight[:, :, 0, 0].detach()
    gram = torch.eye(32) - s
    assert torch.allclose(gram, w @ w.T / torch.linalg.matrix_norm(w, ord=2) ** 2, atol=1e-5)
    assert torch.linalg.matrix_norm(gram, ord=2).item() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("scale", [3, 6])
def test_cscn_refuses_scales_that_are_not_powers_of_two(scale):
    with pytest.raises(ValueError, match="power of 2"):
        CSCN(scale)


def test_cscn_refuses_a_colour_input():
    with pytest.raises(ValueError, match=r"\(N, 1, h, w\)"):
        CSCN(2)(torch.rand(1, 3, 8, 8))


@pytest.mark.parametrize("stride,channels", [(1, 1), (2, 3), (3, 1)])
def test_patch_codec_extract_then_combine_is_the_identity(stride, channels):
    """Every pixel is covered by at least one patch and overlap averaging of true patches gives it back."""
    codec = PatchCodec(8, channels, stride)
    x = torch.rand(2, channels, 13, 17)  # odd sizes
    v = codec.extract(x)
    assert v.shape[1] == 64 * channels
    assert torch.allclose(codec.combine(v, x.shape[-2:]), x, atol=1e-6)
    # a patch vector holds its window: channel (c, i, j) of the pixel (r, s) is x[c, r + i - 3, s + j - 3]
    if stride == 1:
        assert v[0, (channels - 1) * 64 + 2 * 8 + 5, 6, 7] == x[0, channels - 1, 6 + 2 - 3, 7 + 5 - 3]


@pytest.mark.parametrize("scale", [2, 4])
def test_coista_shapes_and_nonzero_gradients(scale):
    torch.manual_seed(0)
    m = CoISTA(scale, guide_channels=3, atoms=16, layers=2)
    out = m(torch.rand(2, 1, 7, 9), torch.rand(2, 3, 7 * scale, 9 * scale))
    assert out.shape == (2, 1, 7 * scale, 9 * scale)
    out.square().mean().backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_coista_uses_the_guide_and_its_layer_sizes():
    torch.manual_seed(0)
    m = CoISTA(2, atoms=32, layers=4)
    assert len(m.code_x.D) == 4 and m.code_x.We.weight.shape == (32, 64, 1, 1) and m.Dz.weight.shape == (64, 32, 1, 1)
    with torch.no_grad():
        m.Wy.weight.normal_(std=0.1)
    lr = torch.rand(1, 1, 8, 8)
    assert not torch.allclose(m(lr, torch.rand(1, 1, 16, 16)), m(lr, torch.rand(1, 1, 16, 16)))


def test_coista_refuses_bad_inputs():
    m = CoISTA(2, atoms=8, layers=1)
    with pytest.raises(ValueError, match="guide of 1 channel"):
        m(torch.rand(1, 1, 8, 8), torch.rand(1, 3, 16, 16))
    with pytest.raises(ValueError, match="2x the LR size"):
        m(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 15, 16))
    with pytest.raises(ValueError, match="guide of 1 channel"):
        m(torch.rand(1, 1, 8, 8), None)


# ---------------------------------------------------------------------------------------------------- SRFBN
from mmsr.models.srfbn import PROJECTION, SRFBN  # noqa: E402


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_srfbn_shapes_steps_and_nonzero_gradients(scale):
    m = SRFBN(scale, features=6, groups=2, steps=3)
    lr = torch.rand(2, 1, 5, 7)   # odd sizes
    outs = m(lr)                  # training mode: one estimate per step
    assert isinstance(outs, list) and len(outs) == 3
    assert all(o.shape == (2, 1, 5 * scale, 7 * scale) for o in outs)
    torch.stack([((o - 0.5) ** 2).mean() for o in outs]).mean().backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and float(p.grad.abs().sum()) > 0, name
    m.eval()
    with torch.no_grad():
        last = m(lr, torch.rand(2, 3, 5 * scale, 7 * scale))   # the guide is ignored
        assert torch.equal(last, m.step_outputs(lr)[-1])


def test_srfbn_steps_differ_and_feed_back():
    torch.manual_seed(0)
    m = SRFBN(2, features=6, groups=2, steps=3).eval()
    with torch.no_grad():
        outs = m.step_outputs(torch.rand(1, 1, 6, 6))
    assert not torch.allclose(outs[0], outs[1])   # the feedback state changes the estimate


def test_srfbn_has_the_papers_layer_sizes():
    for scale, (k, s, p) in PROJECTION.items():
        m = SRFBN(scale, features=64, groups=6, steps=4)
        up, down = m.block.up[0][0], m.block.down[0][0]
        assert (up.kernel_size, up.stride, up.padding) == ((k, k), (s, s), (p, p))
        assert (down.kernel_size, down.stride, down.padding) == ((k, k), (s, s), (p, p))
        assert len(m.block.up) == 6 and m.steps == 4
        assert m.extract[0][0].weight.shape == (256, 1, 3, 3) and m.extract[1][0].weight.shape == (64, 256, 1, 1)
        # the dense 1x1 compressions grow with the group index: g * m inputs for group g
        assert [c[0].weight.shape[1] for c in m.block.up_compress] == [64 * g for g in range(2, 7)]
    assert PROJECTION == {2: (6, 2, 2), 4: (8, 4, 2), 8: (12, 8, 2)}


def test_srfbn_refuses_bad_inputs():
    with pytest.raises(ValueError, match="scales"):
        SRFBN(3)
    with pytest.raises(ValueError, match=">= 1"):
        SRFBN(2, groups=0)
    with pytest.raises(ValueError, match="LR image"):
        SRFBN(2, features=4, groups=1, steps=1)(torch.rand(1, 3, 8, 8))
