"""The inference paths that make the comparison models fast enough (#10, #15: <= 5 s per 1024x680 image on a 2-core
CPU) must compute what the training paths compute: each fast form against the plain PyTorch operation or the
model's autograd path, on odd sizes and in float64 where rounding would hide a wrong index. And mmsr.speed: its
records, its table rows and the bad inputs it refuses before timing anything."""
import json

import pytest
import torch
import torch.nn.functional as F

from mmsr import speed
from mmsr.models.coista import CoISTA, PatchCodec
from mmsr.models.cscn import CSCN
from mmsr.models.srfbn import SRFBN
from mmsr.ops.operators import conv2d_few_outputs, conv_adjoint
from mmsr.ops.shrinkage import lesita, lesita_piecewise, soft_threshold


@pytest.mark.parametrize("n,c,o,k,pad,h,w", [(2, 7, 1, 5, 2, 9, 11), (1, 3, 3, 3, 1, 8, 5), (2, 5, 2, 4, 1, 7, 9),
                                             (1, 4, 4, 5, 0, 12, 13)])
def test_conv2d_few_outputs_is_conv2d(n, c, o, k, pad, h, w):
    torch.manual_seed(0)
    x, wt = torch.randn(n, c, h, w, dtype=torch.float64), torch.randn(o, c, k, k, dtype=torch.float64)
    with torch.no_grad():
        fast = conv2d_few_outputs(x, wt, pad)
    ref = F.conv2d(x, wt, padding=pad)
    assert fast.shape == ref.shape and torch.allclose(fast, ref, atol=1e-12)
    # a kernel that is not symmetric catches a flipped or transposed tap order
    wt = torch.zeros(o, c, k, k, dtype=torch.float64)
    wt[..., 0, k - 1] = 1.0
    with torch.no_grad():
        assert torch.allclose(conv2d_few_outputs(x, wt, pad), F.conv2d(x, wt, padding=pad), atol=1e-12)


def test_conv2d_few_outputs_keeps_autograd_through_conv2d():
    x = torch.randn(1, 6, 8, 8, requires_grad=True)
    w = torch.randn(1, 6, 3, 3, requires_grad=True)
    conv2d_few_outputs(x, w, 1).square().sum().backward()
    assert x.grad.abs().sum() > 0 and w.grad.abs().sum() > 0


def test_conv_adjoint_is_the_transposed_convolution():
    torch.manual_seed(1)
    y, f = torch.randn(2, 3, 9, 7, dtype=torch.float64), torch.randn(3, 5, 5, 5, dtype=torch.float64)
    assert torch.allclose(conv_adjoint(y, f, 2), F.conv_transpose2d(y, f, padding=2), atol=1e-12)


def test_fast_shrinkage_forms_match_their_formulas_and_gradients():
    torch.manual_seed(2)
    u = torch.randn(4, 6, 5, 5, dtype=torch.float64, requires_grad=True)
    g = (torch.rand(1, 6, 1, 1, dtype=torch.float64) * 0.5).requires_grad_()
    soft_threshold(u, g).sum().backward()
    u2, g2 = u.detach().clone().requires_grad_(), g.detach().clone().requires_grad_()
    ref = torch.sign(u2) * torch.relu(u2.abs() - g2)
    ref.sum().backward()
    assert torch.equal(soft_threshold(u, g), ref)
    assert torch.allclose(u.grad, u2.grad) and torch.allclose(g.grad, g2.grad)
    v, s = torch.linspace(-3, 3, 601, dtype=torch.float64), torch.tensor([-1.0, 0.0, 0.7], dtype=torch.float64)
    got = lesita(v[:, None], s[None], 0.4).numpy()
    assert abs(got - lesita_piecewise(v[:, None].numpy(), s[None].numpy(), 0.4)).max() < 1e-12


@pytest.mark.parametrize("guide_channels,stride", [(1, 1), (3, 1), (1, 2)])
def test_coista_chunked_inference_is_its_training_path(guide_channels, stride):
    torch.manual_seed(3)
    m = CoISTA(2, guide_channels=guide_channels, atoms=12, layers=3, stride=stride).double().eval()
    with torch.no_grad():  # make every part of the network matter: a real mix of the guide's codes
        m.Wy.weight.normal_(std=0.3)
    lr = torch.rand(2, 1, 13, 11, dtype=torch.float64)
    guide = torch.rand(2, guide_channels, 26, 22, dtype=torch.float64)
    ref = m(lr, guide)                                    # autograd on: full-map path
    vx = m.target_patches.extract(torch.rand(2, 1, 26, 22, dtype=torch.float64))
    with torch.no_grad():
        fast = m(lr, guide)
        vy = m.guide_patches.extract(guide)
        small = m._hr_patches_in_chunks(vx, vy, chunk=37)  # chunks that do not divide the pixel count
    assert torch.allclose(fast, ref, atol=1e-12)
    assert torch.allclose(small, m._hr_patches(vx, vy), atol=1e-12)


def test_patch_combination_by_fold_is_the_overlap_average():
    """Every pixel's true 8x8 patch, combined, gives the image back; and a constant patch map gives 1 everywhere
    (the overlap counts, including the image borders and a stride that leaves a remainder)."""
    torch.manual_seed(4)
    for stride in (1, 3):
        pc = PatchCodec(8, 2, stride).double()
        img = torch.rand(1, 2, 17, 14, dtype=torch.float64)
        assert torch.allclose(pc.combine(pc.extract(img), img.shape[-2:]), img, atol=1e-12)
        ones = torch.ones_like(pc.extract(img))
        assert torch.allclose(pc.combine(ones, img.shape[-2:]), torch.ones_like(img), atol=1e-12)


def test_cscn_chunked_inference_is_its_training_path():
    torch.manual_seed(5)
    m = CSCN(4, atoms=16, features=10).double().eval()
    lr = torch.rand(2, 1, 9, 7, dtype=torch.float64)
    ref = m(lr)
    with torch.no_grad():
        fast = m(lr)
        st = m.stages[0]
        y = torch.rand(1, 1, 18, 14, dtype=torch.float64)
        f, tn = st._features(y), torch.rand(1, 1, 18, 14, dtype=torch.float64)
        z = st.codes(y)
        full = st._shape(st.Dx(z), tn, st.g.view(1, -1, 1, 1), dim=1)
        assert torch.allclose(st._patches_in_chunks(f, tn, chunk=50), full, atol=1e-12)
    assert torch.allclose(fast, ref, atol=1e-12)


def test_srfbn_inference_is_the_last_training_step():
    torch.manual_seed(6)
    m = SRFBN(4, features=8, groups=2, steps=3).double()
    lr = torch.rand(2, 1, 7, 9, dtype=torch.float64)
    steps = m.train()(lr)
    assert isinstance(steps, list) and len(steps) == 3
    with torch.no_grad():
        last = m.eval()(lr)
    assert torch.allclose(last, steps[-1], atol=1e-12) and not torch.allclose(steps[0], steps[-1])


# ----------------------------------------------------------------------------------------------- mmsr.speed
def test_speed_records_and_rows(tmp_path):
    recs = speed.measure(["srcnn", "lmcsc"], scale=4, size=(32, 48), reps=2, out=tmp_path)
    assert [r["model"] for r in recs] == ["srcnn", "lmcsc"]
    for r in recs:
        assert r["size"] == [32, 48] and len(r["seconds_each"]) == 2 and r["seconds"] > 0
        assert r["weights"].startswith(f"mmsr/weights/{r['model']}_x4.safetensors@") and r["threads"] >= 1
    lines = (tmp_path / "cpu_x4.jsonl").read_text().splitlines()
    assert [json.loads(x)["model"] for x in lines] == ["srcnn", "lmcsc"]
    rows = speed.speed_rows(speed.read(4, tmp_path) + [{**recs[0], "seconds": 9.0}], goal=5)
    assert [r["model"] for r in rows] == ["srcnn", "lmcsc"] and rows[0]["<= 5 s"] == "no"  # newest record wins
    assert rows[0]["image"] == "48x32"


@pytest.mark.parametrize("kwargs,msg", [({"names": ["nope"]}, "unknown NIR model"),
                                        ({"names": ["djf_cave"]}, "unknown NIR model"),
                                        ({"size": (30, 48)}, "multiple of the scale"),
                                        ({"reps": 0}, "reps must be"),
                                        ({"scale": 3}, "no committed x3 weights")])
def test_speed_refuses_bad_inputs_before_timing(kwargs, msg, tmp_path, monkeypatch):
    monkeypatch.setattr(speed, "time_model", lambda *a, **k: pytest.fail("timed before checking"))
    args = {"names": ["srcnn"], "scale": 4, "size": (32, 48), "reps": 1, "out": tmp_path, **kwargs}
    with pytest.raises((ValueError, FileNotFoundError), match=msg):
        speed.measure(**args)
    assert not (tmp_path / "cpu_x4.jsonl").exists()


def test_forward_times_warms_up_times_each_pass_without_autograd():
    from mmsr.benchmark import forward_times, time_forward

    class Counting(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.calls, self.modes = 0, []

        def forward(self, lr, guide):
            self.calls += 1
            self.modes.append((self.training, torch.is_grad_enabled()))
            return lr

    m = Counting().train()
    lr, guide = torch.rand(1, 1, 4, 4), torch.rand(1, 1, 8, 8)
    times = forward_times(m, lr, guide, torch.device("cpu"), reps=3)
    assert len(times) == 3 and all(t >= 0 for t in times)
    assert m.calls == 4 and set(m.modes) == {(False, False)}  # one warm-up + 3 timed, eval mode, no autograd
    assert time_forward(m, lr, guide, torch.device("cpu"), reps=2) >= 0 and m.calls == 7
    with pytest.raises(ValueError, match="reps must be"):
        forward_times(m, lr, guide, torch.device("cpu"), reps=0)


def test_speed_default_models_are_those_with_weights_at_the_scale(monkeypatch):
    timed = []
    monkeypatch.setattr(speed, "time_model", lambda model, *a, **k: timed.append(type(model).__name__) or [0.1])
    recs = speed.measure(scale=4, reps=1, out=None)
    assert [r["model"] for r in recs] == list(speed.MODELS)   # every NIR model has x4 weights, VTSR* included
    assert {"VTSRCNN"} <= set(timed)
    assert "vtsrcnn" not in [r["model"] for r in speed.measure(scale=2, reps=1, out=None)]   # no x2 VTSR weights


def test_step_flops_feeds_the_guide_the_model_reads():
    """A colour-guide model is counted on a 3-channel guide (a 1-channel one is refused by the model, which is how
    a DJF run once failed here), and its colour filters cost more than the luminance model's."""
    from mmsr.benchmark import step_flops
    from mmsr.models.lmcsc import LMCSCNet

    cpu = torch.device("cpu")
    gray, rgb = (LMCSCNet(scale=2, atoms=4, stages=1, guide_layers=1, guide_channels=c) for c in (1, 3))
    f_gray = step_flops(gray, 2, 8, 2, cpu)
    f_rgb = step_flops(rgb, 2, 8, 2, cpu, guide_channels=3)
    assert 0 < f_gray < f_rgb
    with pytest.raises(ValueError, match="3-channel guides"):
        step_flops(rgb, 2, 8, 2, cpu)
    assert all(p.grad is None for p in rgb.parameters())   # the counting pass leaves no gradients behind
