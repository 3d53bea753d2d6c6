"""Interpretability helpers (mmsr.interpret): LeSITA outcome counts, the disagreement map and the gain of an ACSC
stage."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmsr.interpret import acsc_iteration_gain, disagreement_map, outcome_fractions, side_weights, state_statistics
from mmsr.models.acsc import ACSC
from mmsr.models.recurrent import RecurrentCoupledNet
from mmsr.ops import lesita
from mmsr.ops.operators import conv_adjoint


def test_outcome_fractions_count_each_lesita_case_exactly():
    z = torch.tensor([0.5, 0.5, 0.5, 0.5, -0.3, 0.0]).view(1, 6, 1, 1)
    v = torch.tensor([-0.01, 0.55, 0.2, 2.0, -0.31, 0.9]).view(1, 6, 1, 1)
    h = lesita(v, z, 0.05)
    # zero (v in [-2mu, 0]), copy (v in [z, z+2mu]), pass-through, shrink, copy (negative side), shrink (z = 0)
    got = outcome_fractions(h, z)
    assert got == pytest.approx({"zero": 1 / 6, "copies_guide": 2 / 6, "other": 3 / 6})


def test_outcome_fractions_respect_the_region_and_refuse_bad_masks():
    h = torch.zeros(1, 2, 2, 2)
    z = torch.ones(1, 2, 2, 2)
    h[..., 0, 0] = 1.0                      # pixel (0, 0): both atoms copy the guide
    region = torch.zeros(1, 1, 2, 2, dtype=torch.bool)
    region[..., 0, 0] = True
    assert outcome_fractions(h, z, region) == pytest.approx({"zero": 0, "copies_guide": 1, "other": 0})
    assert outcome_fractions(h, z)["copies_guide"] == pytest.approx(0.25)
    with pytest.raises(ValueError, match="no pixel"):
        outcome_fractions(h, z, torch.zeros(1, 1, 2, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="boolean"):
        outcome_fractions(h, z, region.float())
    with pytest.raises(ValueError, match="one shape"):
        outcome_fractions(h, z[:, :1])


def test_disagreement_map_ignores_gain_and_offset_and_sees_inversion():
    rng = np.random.default_rng(0)
    t = rng.random((9, 11))
    assert np.allclose(disagreement_map(t, 3 * t + 7), 0)
    inv = disagreement_map(t, 1 - t)
    assert inv.mean() > 1.0                     # an inverted guide disagrees everywhere
    with pytest.raises(ValueError, match="one size"):
        disagreement_map(t, t[:, :5])


def test_state_statistics_per_step_match_the_states():
    torch.manual_seed(0)
    net = RecurrentCoupledNet(2, atoms=6, steps=3, guide_layers=2)
    with torch.no_grad():
        net.mu.fill_(0.05)
    lr, guide = torch.rand(1, 1, 6, 7), torch.rand(1, 3, 12, 14)
    stats = state_statistics(net, lr, guide)
    ls, hs, z = net.states(lr, guide)
    assert [s["step"] for s in stats] == [1, 2, 3]
    for s, l, h in zip(stats, ls, hs):
        assert s["lr_zero"] == pytest.approx(float((l == 0).float().mean()))
        assert s["hr_zero"] + s["hr_copies_guide"] + s["hr_other"] == pytest.approx(1.0)
        assert s["hr_copies_guide"] == pytest.approx(float(((h == z) & (z != 0)).float().mean()))
    everywhere = torch.ones(1, 1, 12, 14, dtype=torch.bool)
    for a, b in zip(state_statistics(net, lr, guide, everywhere), stats):
        assert a == pytest.approx(b)
    assert any(s["hr_copies_guide"] > 0 for s in stats)   # the case being counted does occur


def _dense(op, shape):
    """The matrix of the linear map ``op`` on tensors of ``shape``, column by column."""
    n = int(torch.tensor(shape).prod())
    cols = [op(torch.eye(n, dtype=torch.float64)[i].view(shape)).reshape(-1) for i in range(n)]
    return torch.stack(cols, 1)


def test_acsc_iteration_gain_is_the_operator_norm_of_one_stage():
    torch.manual_seed(0)
    enc = ACSC(3, 4, 3, 3, std=0.3).double()   # a learned-looking encoder: random C and E, gain > 1
    shape = (1, 4, 5, 6)

    def stage(a):
        return a - conv_adjoint(F.conv2d(a, enc.E, padding=1), enc.C, 1)
    exact = torch.linalg.matrix_norm(_dense(stage, shape), ord=2).item()
    assert exact > 1.0
    assert acsc_iteration_gain(enc, size=(5, 6), iters=300) == pytest.approx(exact, rel=1e-4)


def test_acsc_iteration_gain_is_at_most_one_for_ista_and_grows_with_a_scaled_c():
    torch.manual_seed(1)
    filters = torch.randn(1, 8, 5, 5, dtype=torch.float64)
    enc = ACSC.from_dictionary(filters, lam=0.1, layers=3, image_size=(16, 16))
    gain = acsc_iteration_gain(enc, size=(16, 16), iters=200)
    assert 0.9 < gain <= 1.0 + 1e-6
    with torch.no_grad():
        enc.C.mul_(4.0)   # four times ISTA's step: I - 4 D^T D / L has eigenvalues down to -3
    assert acsc_iteration_gain(enc, size=(16, 16), iters=200) > 2.5
    with pytest.raises(ValueError, match="no stage after the first"):
        acsc_iteration_gain(ACSC(3, 4, 3, 1))


def test_side_weights_reads_the_learned_weights_per_map_and_sorts_the_maps_into_four_kinds():
    net = RecurrentCoupledNet(2, atoms=5, steps=2, guide_layers=1, side_weight=True)
    with torch.no_grad():
        net.mu.copy_(torch.tensor([0.1, 0.2, -0.1, 0.3, 0.0]).view(1, 5, 1, 1))
        net.nu.copy_(torch.tensor([0.0, 0.5, 0.2, 0.01, -0.2]).view(1, 5, 1, 1))
    w = side_weights(net)
    assert w["mu"].tolist() == pytest.approx([0.1, 0.2, 0.0, 0.3, 0.0])
    assert w["nu"].tolist() == pytest.approx([0.0, 0.5, 0.2, 0.01, 0.0])
    # maps 0 and 3: the guide (nearly) off; map 2: mu clamped to 0, only the guide pulls; map 4: no shrinkage
    assert (w["guide_off"], w["guide_only"], w["linear"], w["both"]) == (0.4, 0.2, 0.2, 0.2)
    assert list(w["kind"]) == ["guide_off", "both", "guide_only", "guide_off", "linear"]
    with pytest.raises(ValueError, match="side_weight=True"):
        side_weights(RecurrentCoupledNet(2, atoms=4, steps=2, guide_layers=1))
