"""The guide-gated blend (mmsr.models.gated): agreement map, trust map, blend, bad inputs."""
import pytest
import torch

from mmsr.degrade import imresize
from mmsr.evaluate import Bicubic
from mmsr.models.gated import GuideGatedSR, guide_agreement, luminance, trust_map


def _scene(h=23, w=17, scale=4, seed=0):
    """An odd-sized HR image with structure, its MATLAB-bicubic LR, and the HR image itself as a guide."""
    g = torch.Generator().manual_seed(seed)
    hr = torch.nn.functional.avg_pool2d(torch.rand(1, 1, h * scale + 4, w * scale + 4, generator=g), 5, 1)
    return imresize(hr, 1 / scale), hr


class _Const(torch.nn.Module):
    def __init__(self, value):
        super().__init__()
        self.value = value

    def forward(self, lr, guide=None):
        s = 4
        return torch.full((lr.shape[0], 1, lr.shape[-2] * s, lr.shape[-1] * s), self.value)


def test_agreement_is_one_for_the_target_itself_minus_one_for_its_negative_and_small_for_noise():
    lr, hr = _scene()
    r = guide_agreement(lr, hr, 4)
    assert r.shape == lr.shape
    assert r.mean() > 0.99                                   # the guide is the target
    assert guide_agreement(lr, 1 - hr, 4).mean() < -0.99     # contrast reversed everywhere
    noise = torch.rand(hr.shape, generator=torch.Generator().manual_seed(5))
    assert guide_agreement(lr, noise, 4).abs().mean() < 0.5
    rgb = hr.expand(1, 3, *hr.shape[-2:])                    # an RGB guide is read through its luminance
    assert torch.allclose(guide_agreement(lr, rgb, 4), r, atol=1e-3)


def test_trust_map_signed_drops_a_reversed_guide_unsigned_keeps_it():
    r = torch.tensor([[[[-1.0, 0.5], [1.0, 0.0]]]])
    signed = trust_map(r, 2, power=2.0, signed=True)
    unsigned = trust_map(r, 2, power=2.0, signed=False)
    assert signed.shape == (1, 1, 4, 4) and 0 <= signed.min() and signed.max() <= 1
    # at the corner pixel the bilinear upsampling is the value itself
    assert signed[0, 0, 0, 0] == 0 and unsigned[0, 0, 0, 0] == pytest.approx(1.0)
    assert signed[0, 0, 3, 0] == pytest.approx(1.0) and signed[0, 0, 0, 3] == pytest.approx(0.25)


def test_blend_follows_the_guided_model_where_the_guide_agrees_and_the_single_one_where_it_is_reversed():
    lr, hr = _scene()
    gated = GuideGatedSR(_Const(1.0), _Const(0.0), 4, window=5, power=2.0)
    assert gated(lr, hr).mean() > 0.95            # guide = target: the guided estimate
    assert gated(lr, 1 - hr).mean() < 0.05        # reversed guide: the single-image estimate
    w = gated.trust(lr, hr)
    y = gated(lr, hr)
    assert torch.allclose(y, w * 1.0 + (1 - w) * 0.0)


def test_gradients_reach_both_models():
    from mmsr.models import DJF, SRCNN

    lr, hr = _scene(h=9, w=11)
    guided, single = DJF(4), SRCNN(4)
    gated = GuideGatedSR(guided, single, 4)
    guide = hr.expand(1, 3, *hr.shape[-2:]) * 0.7 + 0.3 * torch.rand(1, 3, *hr.shape[-2:])
    gated(lr, guide).sum().backward()
    for m in (guided, single):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in m.parameters())


def test_bad_inputs_are_refused_with_one_line_errors():
    lr, hr = _scene(h=8, w=8)
    with pytest.raises(ValueError, match="window"):
        GuideGatedSR(Bicubic(4), Bicubic(4), 4, window=4)
    with pytest.raises(ValueError, match="power"):
        GuideGatedSR(Bicubic(4), Bicubic(4), 4, power=0)
    with pytest.raises(ValueError, match="scale"):
        GuideGatedSR(Bicubic(4), Bicubic(4), 0)
    with pytest.raises(ValueError, match="guide: expected"):
        guide_agreement(lr, hr[..., :-1], 4)
    with pytest.raises(ValueError, match="1 or 3 channels, got 2"):
        luminance(torch.zeros(1, 2, 4, 4))
    with pytest.raises(ValueError, match="lr: expected"):
        guide_agreement(lr[0], hr, 4)
