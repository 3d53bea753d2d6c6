"""The guide-detail-transfer probe (mmsr.models.detail_transfer): exact on a guide whose detail is a fixed mix of
the target's, the colour form never worse on its own training data, and clear errors."""
import pytest
import torch

from mmsr.degrade import degrade, upsample_bicubic
from mmsr.models.detail_transfer import GuideDetailTransfer


def _guide(seed=0, size=(40, 56)):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, *size, generator=g, dtype=torch.float64)


def test_unfitted_is_bicubic_and_a_fixed_mix_is_recovered_exactly():
    s, g = 4, _guide()
    hr = 0.7 * g[:, :1] + 0.2 * g[:, 2:]            # the target is a fixed mix of the guide's channels
    lr = degrade(hr, s)
    m = GuideDetailTransfer(s, colour=False)
    assert torch.equal(m(lr, g), upsample_bicubic(lr, s))
    m.fit([(lr, g, hr)])
    assert m.coef.tolist() == pytest.approx([0.7, 0.0, 0.2], abs=1e-8)
    assert torch.allclose(m(lr, g), hr, atol=1e-8)   # the degradation is linear: the lost detail mixes alike
    # the colour form contains the fixed mix: it finds it too, with its products at zero
    mc = GuideDetailTransfer(s, colour=True).fit([(lr, g, hr)])
    assert mc.coef.numel() == 12 and mc.coef[:3].tolist() == pytest.approx([0.7, 0.0, 0.2], abs=1e-6)
    assert mc.coef[3:].abs().max() < 1e-6


def test_the_colour_form_fits_colour_dependent_detail_and_is_never_worse_on_its_training_data():
    s, g = 2, _guide(1)
    low = upsample_bicubic(degrade(g, s), s)
    hr = low[:, :1] + (g - low)[:, :1] * low[:, 1:2] * 2.0    # channel 0's detail, scaled by the local green
    lr = degrade(hr, s)
    err = {}
    for colour in (False, True):
        m = GuideDetailTransfer(s, colour=colour).fit([(lr, g, hr)])
        err[colour] = float(((m(lr, g) - hr) ** 2).mean())
    assert err[True] < 0.25 * err[False]            # the products carry what the fixed mix cannot
    assert GuideDetailTransfer(s).features(g).shape == (1, 12, 40, 56)


def test_bad_inputs_are_refused_in_one_line():
    m = GuideDetailTransfer(2)
    lr, g = torch.rand(1, 1, 10, 12), torch.rand(1, 3, 20, 24)
    with pytest.raises(ValueError, match="at least one"):
        m.fit([])
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\) guide"):
        m(lr, g[:, :1])
    with pytest.raises(ValueError, match="2x the LR size"):
        m(lr, g[..., :22])
    with pytest.raises(ValueError, match="hr has"):
        m.fit([(lr, g, torch.rand(1, 1, 18, 24))])
