"""The recurrent coupled network of 001: shapes, gradients, the unfolded steps against l1-l1 / l1 ISTA, no bicubic
anywhere in the forward pass, and bad inputs."""
import pytest
import torch

from mmsr.models.recurrent import RecurrentCoupledNet, bilinear_kernel
from mmsr.ops import ConvDictionary, ista
from mmsr.ops.operators import derivative_filters


@pytest.mark.parametrize("scale,h,w", [(2, 5, 7), (4, 6, 9), (8, 3, 5), (3, 4, 5)])
def test_shapes_at_every_scale_and_odd_sizes(scale, h, w):
    net = RecurrentCoupledNet(scale, atoms=6, steps=2, guide_layers=2)
    out = net(torch.rand(2, 1, h, w), torch.rand(2, 3, h * scale, w * scale))
    assert out.shape == (2, 1, h * scale, w * scale)
    ls, hs, z = net.states(torch.rand(1, 1, h, w), torch.rand(1, 3, h * scale, w * scale))
    assert ls[0].shape == (1, 6, h, w) and hs[0].shape == z.shape == (1, 6, h * scale, w * scale)
    assert len(ls) == len(hs) == 2 and len(net.step_outputs(torch.rand(1, 1, h, w),
                                                            torch.rand(1, 3, h * scale, w * scale))) == 2


def test_every_parameter_gets_a_non_zero_gradient():
    torch.manual_seed(0)
    net = RecurrentCoupledNet(4, atoms=8, steps=3, guide_layers=2)
    lr, guide = torch.rand(2, 1, 6, 6), torch.rand(2, 3, 24, 24)
    ((net(lr, guide) - torch.rand(2, 1, 24, 24)) ** 2).mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and float(p.grad.abs().sum()) > 0, name


def _net_and_dictionary():
    """A float64 network whose atoms and kernel match a fixed dictionary: (net, D, filters, adjoint weights)."""
    f = derivative_filters().double()  # (1, k, p, p)
    net = RecurrentCoupledNet(2, atoms=f.shape[1], kernel=f.shape[-1]).double()
    return net, ConvDictionary(f), f, f.flip(-1, -2).transpose(0, 1)  # adjoint: conv2d weights of D^T


def test_hr_step_is_one_l1l1_proximal_gradient_step():
    """With Q = D~/L, R = D and the drive Up(l) = D~ x / L, one HR step is one step of eq. (3) of 000."""
    net, D, f, adj = _net_and_dictionary()
    k = f.shape[1]
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 1, 10, 12, generator=g, dtype=torch.float64)
    z = 0.1 * torch.randn(1, k, 10, 12, generator=g, dtype=torch.float64)
    h = 0.1 * torch.randn(1, k, 10, 12, generator=g, dtype=torch.float64)
    L, lam = D.lipschitz((10, 12)), 0.05
    with torch.no_grad():
        net.Q.copy_(3 * adj / L)  # Q != the drive's filters: a swapped Q/R or Q/drive would fail below
        net.R.copy_(f / 3)
        net.mu.fill_(lam / L)
    drive = D.adjoint(x) / L
    ref = ista(D, x, lam, 1, s=z, x0=h, L=L).x
    assert torch.allclose(net.hr_step(h, drive, z), ref, atol=1e-12)
    with torch.no_grad():
        net.R.copy_(f)  # now Q R is 3x too strong: no longer the proximal step
    assert not torch.allclose(net.hr_step(h, drive, z), ref, atol=1e-6)


def test_lr_step_without_feedback_is_one_ista_step():
    net, D, f, adj = _net_and_dictionary()
    k, p = f.shape[1], f.shape[-1]
    g = torch.Generator().manual_seed(1)
    y = torch.randn(1, 1, 9, 11, generator=g, dtype=torch.float64)
    l0 = 0.1 * torch.randn(1, k, 9, 11, generator=g, dtype=torch.float64)
    L, lam = D.lipschitz((9, 11)), 0.03
    with torch.no_grad():
        net.W.copy_(adj / L)
        net.C.copy_(adj / L)
        net.E.copy_(f)
        net.gamma.fill_(lam / L)
    wy = torch.nn.functional.conv2d(y, net.W, padding=p // 2)
    assert torch.allclose(net.lr_step(l0, wy), ista(D, y, lam, 1, x0=l0, L=L).x, atol=1e-12)


def test_no_bicubic_or_interpolation_in_the_forward_pass(monkeypatch):
    import mmsr.degrade

    def forbidden(*a, **k):
        raise AssertionError("interpolation called")

    for name in ("upsample_bicubic", "imresize"):
        monkeypatch.setattr(mmsr.degrade, name, forbidden)
    monkeypatch.setattr(torch.nn.functional, "interpolate", forbidden)
    net = RecurrentCoupledNet(4, atoms=4, steps=2, guide_layers=1)
    net(torch.rand(1, 1, 4, 4), torch.rand(1, 3, 16, 16))


def test_learned_upsampling_starts_as_bilinear():
    """The skip path and Up start as bilinear interpolation: a constant image stays constant (away from the
    border), and the kernel's phases each sum to 1."""
    net = RecurrentCoupledNet(4, atoms=2, steps=1, guide_layers=1)
    out = net.skip(torch.full((1, 1, 8, 8), 0.7))
    assert torch.allclose(out[..., 4:-4, 4:-4], torch.tensor(0.7), atol=1e-6)
    k = bilinear_kernel(8, 4)
    for i in range(4):
        for j in range(4):
            assert torch.isclose(k[i::4, j::4].sum(), torch.tensor(1.0))


@pytest.mark.parametrize("lr_shape,guide_shape,match", [
    ((1, 1, 4, 4), (1, 3, 15, 16), "must be scale x"),
    ((1, 1, 4, 4), (1, 1, 16, 16), "3-channel"),
    ((1, 3, 4, 4), (1, 3, 16, 16), r"\(N, 1, h, w\)"),
    ((2, 1, 4, 4), (1, 3, 16, 16), "batch sizes differ"),
])
def test_bad_inputs_are_refused(lr_shape, guide_shape, match):
    net = RecurrentCoupledNet(4, atoms=2, steps=1, guide_layers=1)
    with pytest.raises(ValueError, match=match):
        net(torch.rand(*lr_shape), torch.rand(*guide_shape))
    with pytest.raises(ValueError, match="steps"):
        RecurrentCoupledNet(4, steps=0)
    with pytest.raises(ValueError, match="output"):
        RecurrentCoupledNet(4, output="max")


def test_coupled_priors_tables_transcribed_consistently_and_regenerated_in_two_blocks():
    import numpy as np

    from mmsr.reproduce import (TABLE1_000, TABLE1_000_IMAGES, TABLE_001_MS, TABLE_001_NIR, reported_001,
                                table_001)
    from mmsr.tables import unlabelled_columns

    for table, t, scales in (("nir", TABLE_001_NIR, (2, 4)), ("ms", TABLE_001_MS, (4, 8))):
        for m in t:
            for s in scales:
                v = reported_001(table, m, s)
                assert abs(np.mean(v[:-1]) - v[-1]) <= 0.025, (table, m, s)   # the printed average, to rounding
    assert TABLE_001_NIR["LMCSC"][2] == TABLE1_000["LMCSC"][2]    # the same column as the LMCSC paper's table
    rows = [{"image": n, "psnr": 30.0 + i, "ssim": 0.9} for i, n in enumerate(TABLE1_000_IMAGES)]
    md = table_001({"recurrent": {4: rows}})
    rep, ours = md.split("**Computed here")
    assert "| Proposed | 39.81 | 0.9981 | 35.19 | 0.9888 |" in rep
    assert "| recurrent | - | - | 33.50 | 0.9000 |" in ours and unlabelled_columns(md) == []
    with pytest.raises(ValueError, match="lack images"):
        table_001({"recurrent": {4: rows[:2]}})


def test_from_dictionary_makes_both_steps_the_algorithms():
    f = derivative_filters().double()
    D = ConvDictionary(f)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(1, 1, 10, 12, generator=g, dtype=torch.float64)
    z = 0.1 * torch.randn(1, f.shape[1], 10, 12, generator=g, dtype=torch.float64)
    h = 0.1 * torch.randn(1, f.shape[1], 10, 12, generator=g, dtype=torch.float64)
    net = RecurrentCoupledNet.from_dictionary(f, 0.05, 2, (10, 12))
    L = D.lipschitz((10, 12))
    assert torch.allclose(net.hr_step(h, D.adjoint(x) / L, z), ista(D, x, 0.05, 1, s=z, x0=h, L=L).x, atol=1e-12)
    wy = torch.nn.functional.conv2d(x, net.W, padding=f.shape[-1] // 2)
    assert torch.allclose(net.lr_step(h, wy), ista(D, x, 0.05, 1, x0=h, L=L).x, atol=1e-12)


@pytest.mark.parametrize("output", ["mean", "last"])
def test_the_last_step_output_is_the_network_output(output):
    torch.manual_seed(1)
    net = RecurrentCoupledNet(2, atoms=5, steps=3, guide_layers=2, output=output).eval()
    with torch.no_grad():   # random thresholds/filters so that the states differ from step to step
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    lr, guide = torch.rand(1, 1, 7, 6), torch.rand(1, 3, 14, 12)
    with torch.no_grad():
        outs, full = net.step_outputs(lr, guide), net(lr, guide)
        _, hs, _ = net.states(lr, guide)
    assert len(outs) == 3 and torch.allclose(outs[-1], full, atol=1e-6)
    first = net.decoder(hs[0]) + net.skip(lr)   # after one step both readings agree
    assert torch.allclose(outs[0], first, atol=1e-6)
    assert not torch.allclose(outs[1], outs[2], atol=1e-6)


def test_multispectral_table_names_every_cave_test_scene_and_labels_its_16_bit_protocol():
    from mmsr.reproduce import CAVE_TABLE_NAMES, PROTOCOL_HERE_CAVE, TABLE_001_MS_IMAGES, table_001
    from mmsr.tables import unlabelled_columns

    assert sorted(CAVE_TABLE_NAMES.values()) == sorted(TABLE_001_MS_IMAGES)
    rows = [{"image": n, "psnr": 30.0, "ssim": 0.9} for n in CAVE_TABLE_NAMES.values()]
    md = table_001({"bicubic": {4: rows}}, "ms", protocol=PROTOCOL_HERE_CAVE)
    assert "peak 65535" in md.split("**Computed here")[1] and unlabelled_columns(md) == []
    assert "| bicubic | 30.00 | 0.9000 | - | - |" in md


def test_ablation_without_fusion_ignores_the_guide_and_still_learns():
    """fusion='none' (chapter 7's ablation) has no guide branch: the output cannot depend on the guide, the HR
    state is soft-thresholded (LeSITA with the guide codes z = 0 is soft thresholding at 2 mu), every remaining
    parameter gets a gradient, and with fusion the guide does change the output."""
    torch.manual_seed(0)
    lr = torch.rand(2, 1, 5, 7)
    plain = RecurrentCoupledNet(2, atoms=6, steps=2, guide_layers=2, fusion="none")
    assert plain.guide_encoder is None and not any("guide" in n for n, _ in plain.named_parameters())
    g1, g2 = torch.rand(2, 3, 10, 14), torch.rand(2, 3, 10, 14)
    assert torch.equal(plain(lr, g1), plain(lr, g2))
    ((plain(lr, g1) - torch.rand(2, 1, 10, 14)) ** 2).mean().backward()
    for name, p in plain.named_parameters():
        assert p.grad is not None and float(p.grad.abs().sum()) > 0, name
    fused = RecurrentCoupledNet(2, atoms=6, steps=2, guide_layers=2)
    assert not torch.allclose(fused(lr, g1), fused(lr, g2))
    # the HR step without guide codes is LeSITA's z = 0 case with the threshold doubled
    v = torch.randn(1, 6, 4, 4)
    with torch.no_grad():
        plain.R.zero_()
        fused.R.zero_()
        fused.mu.copy_(plain.mu / 2)
    assert torch.allclose(plain.hr_step(torch.zeros_like(v), v, None),
                          fused.hr_step(torch.zeros_like(v), v, torch.zeros_like(v)))
    with pytest.raises(ValueError, match="fusion must be"):
        RecurrentCoupledNet(2, fusion="late")


def test_ablation_settings_choose_the_guide_and_reach_every_loader(tmp_path):
    """The recipe's ``guide`` / ``fusion`` settings build the network they name, a run folder trained with the
    luminance guide is scored with the luminance guide, records without the settings load as RGB + LeSITA, and a
    bad guide is refused before any work."""
    import json

    from mmsr.guidance_check import run_method
    from mmsr.recipes import TRAINABLE, guide_mode_of, train_model

    build = TRAINABLE["recurrent"][1]
    s = {"atoms": 4, "rnn_steps": 1, "guide_layers": 1, "output": "mean"}
    assert build(2, s).guide_channels == 3 and build(2, s).fusion == "lesita"
    assert build(2, {**s, "guide": "gray"}).guide_channels == 1
    assert build(2, {**s, "fusion": "none"}).guide_encoder is None
    assert guide_mode_of("recurrent", s) == "rgb" and guide_mode_of("recurrent", {"guide": "gray"}) == "gray"
    assert guide_mode_of("djf", {}) == "rgb" and guide_mode_of("lmcsc", {}) == "gray"
    with pytest.raises(ValueError, match="guide must be"):
        train_model("recurrent", 2, "smoke", out_dir=tmp_path / "bad", guide="grey")
    assert not (tmp_path / "bad").exists()
    train_model("recurrent", 2, "smoke", out_dir=tmp_path / "run", progress=False, steps=2, guide="gray")
    assert json.loads((tmp_path / "run" / "record.json").read_text())["meta"]["settings"]["guide"] == "gray"
    model, mode, _ = run_method(tmp_path / "run")
    assert mode == "gray" and model.guide_channels == 1
    # weights committed before the settings existed still load (their signature has no fusion in it)
    from mmsr.recipes import load_pretrained

    for name, scale in (("recurrent", 2), ("recurrent", 4), ("recurrent_cave", 8)):
        net = load_pretrained(name, scale)
        assert net.fusion == "lesita" and net.guide_channels == 3


def test_per_step_weights_are_the_shared_network_when_copied_from_it_and_all_learn():
    """shared=False (chapter 7's ablation) gives steps 2..T their own E, C, gamma, Q, R, mu: with each step's set
    copied from a shared network the outputs are that network's; untied, every parameter gets a gradient and the
    steps differ; the shared network's initial draw is unchanged by the option."""
    torch.manual_seed(1)
    shared = RecurrentCoupledNet(2, atoms=5, steps=3, guide_layers=2)
    torch.manual_seed(1)
    untied = RecurrentCoupledNet(2, atoms=5, steps=3, guide_layers=2, shared=False)
    assert len(untied.later) == 2 and not hasattr(untied, "E")
    # the shared network registers its parameters in the order its checkpoints' optimizer states were written in
    assert [n for n, _ in shared.named_parameters()][:7] == ["W", "E", "C", "gamma", "Q", "R", "mu"]
    one_set = sum(p.numel() for p in untied.later[0].parameters())
    filters = sum(getattr(shared, n).numel() for n in ("E", "C", "Q", "R"))
    # T - 1 sets replace the shared filters; step 1 keeps its own thresholds
    assert sum(p.numel() for p in untied.parameters()) - sum(p.numel() for p in shared.parameters()) == \
        2 * one_set - filters
    own = dict(shared.named_parameters())
    assert all(torch.equal(p, own[n]) for n, p in untied.named_parameters() if n in own)
    assert all(torch.equal(getattr(untied.later[0], n), own[n]) for n in ("E", "C", "Q", "R"))
    with torch.no_grad():
        for w in untied.later:
            for n in ("E", "C", "gamma", "Q", "R", "mu"):
                getattr(w, n).copy_(own[n])
    lr, guide = torch.rand(2, 1, 5, 7), torch.rand(2, 3, 10, 14)
    assert torch.equal(shared(lr, guide), untied(lr, guide))
    with torch.no_grad():
        untied.later[1].mu.mul_(3)
    assert not torch.allclose(shared(lr, guide), untied(lr, guide))
    ((untied(lr, guide) - torch.rand(2, 1, 10, 14)) ** 2).mean().backward()
    for name, p in untied.named_parameters():
        assert p.grad is not None and float(p.grad.abs().sum()) > 0, name
    assert untied.step_weights(3) is untied.later[1] and shared.step_weights(2) is shared
    with pytest.raises(ValueError, match="steps 2..3"):
        shared.step_weights(1)
    with pytest.raises(ValueError, match="shared=True"):
        RecurrentCoupledNet.from_dictionary(derivative_filters(), 0.1, 2, (8, 8), shared=False)


@pytest.mark.parametrize("fusion", ["lr", "both"])
def test_fusion_in_the_lr_state_uses_block_averaged_guide_codes_and_all_learn(fusion):
    """fusion='lr' (chapter 7's ablation): LeSITA in the LR state with the guide codes averaged over scale x scale
    blocks, soft thresholding in the HR state; 'both' fuses in both. The guide changes the output, every parameter
    gets a gradient, and the committed network's parameters and initial draw are untouched by the option."""
    import torch.nn.functional as F

    from mmsr.ops.shrinkage import lesita, soft_threshold

    torch.manual_seed(2)
    hr_only = RecurrentCoupledNet(3, atoms=5, steps=2, guide_layers=2)
    torch.manual_seed(2)
    net = RecurrentCoupledNet(3, atoms=5, steps=2, guide_layers=2, fusion=fusion)
    assert [n for n, _ in net.named_parameters()] == [n for n, _ in hr_only.named_parameters()]
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), hr_only.parameters()))
    lr, g1, g2 = torch.rand(2, 1, 4, 5), torch.rand(2, 3, 12, 15), torch.rand(2, 3, 12, 15)
    z, z_hr, z_lr = net.guide_codes(g1)
    assert torch.allclose(z_lr, F.avg_pool2d(z, 3)) and z_lr.shape == (2, 5, 4, 5)
    assert (z_hr is None) == (fusion == "lr")
    # the first LR state is the shrinkage of W * y: LeSITA against z_lr, not soft thresholding
    wy = F.conv2d(lr, net.W, padding=net.pad)
    with torch.no_grad():
        net.gamma.fill_(0.05)
    ls, hs, zs = net.states(lr, g1)
    assert torch.equal(zs, z)
    assert torch.allclose(ls[0], lesita(wy, z_lr, net.gamma))
    assert not torch.allclose(ls[0], soft_threshold(wy, net.gamma))
    if fusion == "lr":   # the HR state is plain soft thresholding of Up(l_1)
        assert torch.allclose(hs[0], soft_threshold(net.up(ls[0]), net.mu))
    with torch.no_grad():
        net.gamma.fill_(0.01)   # the initial value: some coefficients above it, some below
    assert not torch.allclose(net(lr, g1), net(lr, g2))
    ((net(lr, g1) - torch.rand(2, 1, 12, 15)) ** 2).mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and float(p.grad.abs().sum()) > 0, name
    assert f"fusion={fusion}" in repr(net) and "fusion" not in hr_only.extra_repr()


@pytest.mark.parametrize("scale,h,w", [(2, 5, 7), (3, 4, 5), (4, 3, 6)])
def test_fixed_and_subpixel_projections_map_between_the_grids(scale, h, w):
    """updown='fixed' (not learned) keeps a constant map constant both ways away from the border and has no
    parameters; updown='subpixel' starts Up as nearest-neighbour copying and maps back to the LR grid; with either,
    every parameter learns; the committed network's signature does not name the option (its weights load)."""
    torch.manual_seed(3)
    lr, guide = torch.rand(2, 1, h, w), torch.rand(2, 3, h * scale, w * scale)
    fixed = RecurrentCoupledNet(scale, atoms=4, steps=2, guide_layers=2, updown="fixed")
    assert not any(n.startswith(("up.", "down.")) for n, _ in fixed.named_parameters())
    assert not any(k.startswith(("up.", "down.")) for k in fixed.state_dict())   # rebuilt from the scale
    const = torch.full((1, 4, 3 * scale, 3 * scale), 0.3)
    up = fixed.up(torch.full((1, 4, 6, 6), 0.3))
    assert up.shape[-1] == 6 * scale and torch.allclose(up[..., scale:-scale, scale:-scale], torch.tensor(0.3))
    down = fixed.down(const)
    assert down.shape[-1] == 3 and torch.allclose(down[..., 1:-1, 1:-1], torch.tensor(0.3))
    sub = RecurrentCoupledNet(scale, atoms=4, steps=2, guide_layers=2, updown="subpixel")
    x = torch.rand(1, 4, h, w)
    assert torch.equal(sub.up(x), x.repeat_interleave(scale, -2).repeat_interleave(scale, -1))
    assert sub.down(sub.up(x)).shape == x.shape
    for net in (fixed, sub):
        out = net(lr, guide)
        assert out.shape == (2, 1, h * scale, w * scale)
        ((out - torch.rand_like(out)) ** 2).mean().backward()
        for name, p in net.named_parameters():
            assert p.grad is not None and float(p.grad.abs().sum()) > 0, (net.updown, name)
        assert f"updown={net.updown}" in net.extra_repr()
    assert "updown" not in RecurrentCoupledNet(scale, atoms=4, steps=2, guide_layers=1).extra_repr()
    with pytest.raises(ValueError, match="updown must be one of"):
        RecurrentCoupledNet(scale, updown="pool")


@pytest.mark.parametrize("scale,h,w", [(4, 3, 5), (8, 2, 3)])
def test_cascade_of_x2_steps_is_one_shared_x2_network_applied_stage_by_stage(scale, h, w, monkeypatch):
    """RecurrentCascade (chapter 7's ablation: x8 in one step or three x2 steps): its output is the x2 network
    applied log2(scale) times, each stage guided by the guide downscaled to that stage's grid; it has the x2
    network's parameters; only the guide is ever resized (never the target); every parameter learns; a scale
    that is not a power of two and a guide of the wrong size are refused."""
    import mmsr.models.recurrent as rec
    from mmsr.degrade import imresize
    from mmsr.recipes import TRAINABLE

    torch.manual_seed(4)
    cas = rec.RecurrentCascade(scale, atoms=4, steps=2, guide_layers=2)
    assert cas.stages == {4: 2, 8: 3}[scale]
    assert sum(p.numel() for p in cas.parameters()) == sum(p.numel() for p in cas.net.parameters())
    lr, guide = torch.rand(2, 1, h, w), torch.rand(2, 3, h * scale, w * scale)
    resized = []

    def spy(x, *a, **k):
        resized.append(x.shape[1])
        return imresize(x, *a, **k)

    monkeypatch.setattr(rec, "imresize", spy)
    out = cas(lr, guide)
    assert out.shape == (2, 1, h * scale, w * scale)
    assert resized == [3] * (cas.stages - 1)          # guides only, one per stage below the last
    y = lr
    for k in range(1, cas.stages + 1):
        g = guide if k == cas.stages else imresize(guide, output_shape=(h * 2 ** k, w * 2 ** k))
        y = cas.net(y, g)
    assert torch.allclose(out, y)
    ((out - torch.rand_like(out)) ** 2).mean().backward()
    for name, p in cas.named_parameters():
        assert p.grad is not None and float(p.grad.abs().sum()) > 0, name
    with pytest.raises(ValueError, match="power-of-two"):
        rec.RecurrentCascade(6)
    with pytest.raises(ValueError, match="must be scale x"):
        cas(lr, torch.rand(2, 3, h * scale, w * scale + 1))
    build = TRAINABLE["recurrent_cave"][1]
    s = {"atoms": 4, "rnn_steps": 2, "guide_layers": 2, "output": "mean"}
    assert isinstance(build(scale, {**s, "cascade": True}), rec.RecurrentCascade)
    assert isinstance(build(scale, s), rec.RecurrentCoupledNet)


@pytest.mark.parametrize("shared", [True, False])
def test_side_weight_starts_as_lesita_learns_and_at_zero_switches_the_guide_off(shared):
    """side_weight=True (chapter 7's x2 question): LeSITA's |u - s| term gets a weight nu per map, equal to mu at
    the start -- the same network, the same draws -- every parameter (nu included) learns, and with nu = 0 the
    output no longer depends on the guide's codes: the network is the single-image one (fusion='none')."""
    torch.manual_seed(3)
    plain = RecurrentCoupledNet(2, atoms=5, steps=3, guide_layers=2, shared=shared)
    torch.manual_seed(3)
    net = RecurrentCoupledNet(2, atoms=5, steps=3, guide_layers=2, shared=shared, side_weight=True)
    lr, guide = torch.rand(2, 1, 5, 7), torch.rand(2, 3, 10, 14)
    assert torch.equal(plain(lr, guide), net(lr, guide))
    assert "side_weight=True" in repr(net) and "side_weight" not in repr(plain)
    ((net(lr, guide) - torch.rand(2, 1, 10, 14)) ** 2).mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and float(p.grad.abs().sum()) > 0, name
    with torch.no_grad():
        for w in [net] + ([] if shared else list(net.later)):
            w.nu.zero_()
    torch.manual_seed(3)
    single = RecurrentCoupledNet(2, atoms=5, steps=3, guide_layers=2, shared=shared, fusion="none")
    single.load_state_dict({n: p for n, p in net.state_dict().items() if "guide_encoder" not in n and
                            not n.endswith("nu")})
    assert torch.allclose(net(lr, guide), single(lr, guide), atol=1e-6)
    assert torch.allclose(net(lr, guide), net(lr, torch.rand_like(guide)), atol=1e-6)
    assert "nu_mean" in net.monitor()
    with pytest.raises(ValueError, match="fusion='lesita'"):
        RecurrentCoupledNet(2, atoms=5, fusion="lr", side_weight=True)


@pytest.mark.parametrize("scale,h,w", [(2, 5, 7), (4, 6, 9), (3, 4, 5)])
def test_a_wider_skip_starts_as_the_bilinear_one_and_leaves_the_other_draws_alone(scale, h, w):
    """skip_kernel widens the learned Skip with zeros around the bilinear taps: the same output at the start (the
    other parameters' draws unchanged), the same grids, more taps per output pixel that all learn."""
    size = 2 * scale - scale % 2
    torch.manual_seed(4)
    plain = RecurrentCoupledNet(scale, atoms=4, steps=2, guide_layers=1)
    torch.manual_seed(4)
    wide = RecurrentCoupledNet(scale, atoms=4, steps=2, guide_layers=1, skip_kernel=size + 2 * scale)
    assert wide.skip.weight.shape[-1] == size + 2 * scale and f"skip_kernel={size + 2 * scale}" in repr(wide)
    lr, guide = torch.rand(1, 1, h, w), torch.rand(1, 3, h * scale, w * scale)
    assert torch.allclose(plain(lr, guide), wide(lr, guide), atol=1e-6)
    ((wide(lr, guide) - torch.rand(1, 1, h * scale, w * scale)) ** 2).mean().backward()
    assert bool((wide.skip.weight.grad[0, 0, 0] != 0).any())   # the new outer taps learn
    for bad in (size - 2, size + 1):
        with pytest.raises(ValueError, match="skip_kernel"):
            RecurrentCoupledNet(scale, atoms=4, skip_kernel=bad)
