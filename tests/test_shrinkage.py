"""LeSITA == the piecewise formula of 001 == the brute-force minimiser, everywhere that matters."""
import numpy as np
import pytest
import torch

from mmsr.ops import (lesita, lesita_piecewise, lesita_weighted, prox_l1l1_bruteforce, prox_l1l1_objective,
                      soft_threshold)


def _random(n, seed):
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(n, generator=g, dtype=torch.float64) * 2
    s = torch.randn(n, generator=g, dtype=torch.float64)
    return v, s


def test_soft_threshold_formula():
    u = torch.tensor([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0])
    assert torch.equal(soft_threshold(u, 1.0), torch.tensor([-2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0]))
    with pytest.raises(ValueError, match="non-negative"):
        soft_threshold(u, -0.1)


@pytest.mark.parametrize("mu", [0.05, 0.3, 1.7])
def test_lesita_equals_piecewise_and_bruteforce_random(mu):
    v, s = _random(2000, seed=int(mu * 100))
    ours = lesita(v, s, mu).numpy()
    assert np.max(np.abs(ours - lesita_piecewise(v.numpy(), s.numpy(), mu))) <= 1e-14
    brute = prox_l1l1_bruteforce(v.numpy()[:400], s.numpy()[:400], mu)
    assert np.max(np.abs(ours[:400] - brute)) < 1e-12


def test_case_boundaries_and_both_signs():
    mu = 0.25
    vs, ss = [], []
    for s in (-1.3, -0.2, 0.0, 0.2, 1.3):
        lo, hi = min(0.0, s), max(0.0, s)
        for v in (lo - 2 * mu, lo, hi, hi + 2 * mu, 0.5 * (lo + hi), lo - 2 * mu - 1e-9, hi + 2 * mu + 1e-9):
            vs.append(v)
            ss.append(s)
    v, s = np.array(vs), np.array(ss)
    ours = lesita(torch.tensor(v), torch.tensor(s), mu).numpy()
    assert np.allclose(ours, lesita_piecewise(v, s, mu), atol=1e-14, rtol=0)
    assert np.allclose(ours, prox_l1l1_bruteforce(v, s, mu), atol=1e-12, rtol=0)


def test_s_zero_is_soft_thresholding_by_two_mu_not_zero():
    v = torch.linspace(-3, 3, 601, dtype=torch.float64)
    out = lesita(v, torch.zeros_like(v), 0.4)
    assert torch.allclose(out, soft_threshold(v, 0.8), atol=0)
    assert out.abs().max() > 2  # a shortcut that returns 0 at s = 0 fails here
    assert out[-1] == pytest.approx(3 - 0.8)


def test_a_large_mu_projects_onto_the_interval_between_zero_and_s_it_does_not_switch_the_guide_off():
    """One mu weights both |u| and |u - s|: as mu grows LeSITA tends to v clipped to [min(0, s), max(0, s)] -- the
    guide's code s bounds the output (chapter 5: no switch that turns the side information off)."""
    v, s = _random(2000, 3)
    out = lesita(v, s, 1e3)
    assert torch.equal(out, torch.minimum(torch.maximum(v, s.clamp(max=0)), s.clamp(min=0)))
    assert not torch.allclose(out, soft_threshold(v, 2e3))   # plain soft thresholding would be all zeros here
    assert (out == s).float().mean() > 0.2                    # where v lies beyond s the output is s itself


def test_minimises_the_objective():
    v, s = _random(500, seed=7)
    mu = 0.3
    u = lesita(v, s, mu).numpy()
    f = prox_l1l1_objective(u, v.numpy(), s.numpy(), mu)
    for delta in (1e-6, -1e-6, 1e-3, -1e-3):
        assert np.all(f <= prox_l1l1_objective(u + delta, v.numpy(), s.numpy(), mu) + 1e-15)


def test_per_channel_mu_broadcasts_over_feature_maps():
    g = torch.Generator().manual_seed(0)
    v = torch.randn(2, 3, 5, 4, generator=g, dtype=torch.float64)
    s = torch.randn(2, 3, 5, 4, generator=g, dtype=torch.float64)
    mu = torch.tensor([0.1, 0.5, 1.0], dtype=torch.float64).view(1, 3, 1, 1)
    out = lesita(v, s, mu)
    for c in range(3):
        assert torch.allclose(out[:, c], lesita(v[:, c], s[:, c], float(mu[0, c, 0, 0])))


def test_gradcheck_away_from_kinks():
    v, s = _random(64, seed=3)
    mu = torch.tensor(0.2, dtype=torch.float64)
    lo, hi = torch.minimum(s, torch.zeros_like(s)), torch.maximum(s, torch.zeros_like(s))
    bounds = torch.stack([lo - 2 * mu, lo, hi, hi + 2 * mu])
    keep = ((v[None] - bounds).abs().min(0).values > 1e-3) & (s.abs() > 1e-3)
    v, s = v[keep].clone().requires_grad_(), s[keep].clone().requires_grad_()
    mu = mu.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b, c: lesita(a, b, c), (v, s, mu), eps=1e-6, atol=1e-8)


@pytest.mark.parametrize("mu", [-0.1, torch.tensor(-0.1), torch.tensor([[0.2], [-1e-3]])])
def test_negative_thresholds_are_refused(mu):
    """lesita(1, 0.5, -0.1) used to return 1 (a negative threshold expands instead of shrinking)."""
    with pytest.raises(ValueError, match="non-negative"):
        lesita(torch.ones(2, 1), torch.tensor(0.5), mu)
    with pytest.raises(ValueError, match="non-negative"):
        soft_threshold(torch.ones(2, 1), mu)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weighted_lesita_equals_the_bruteforce_minimiser_for_unequal_weights(seed):
    """The prox of mu|u| + nu|u - s| against the numerical minimiser, with nu below, equal to and above mu, and
    points placed on and beside every case boundary (m = v + (nu - mu) sign(s) in the middle piece)."""
    v, s = _random(300, 10 + seed)
    g = torch.Generator().manual_seed(seed)
    mu = torch.rand(300, generator=g, dtype=torch.float64) * 0.8
    nu = torch.rand(300, generator=g, dtype=torch.float64) * 0.8
    lo, hi = s.clamp(max=0), s.clamp(min=0)
    total, shift = mu + nu, (nu - mu) * torch.sign(s)
    edges = torch.cat([lo - total, hi + total, lo - shift, hi - shift])      # the four boundaries
    v = torch.cat([v, edges, edges + 1e-9, edges - 1e-9])
    s, mu, nu = (torch.cat([x] * 13) for x in (s, mu, nu))
    ours = lesita_weighted(v, s, mu, nu).numpy()
    brute = prox_l1l1_bruteforce(v.numpy(), s.numpy(), mu.numpy(), nu=nu.numpy())
    assert np.max(np.abs(ours - brute)) < 1e-8
    # and it is the minimiser: no nearby point does better
    for d in (1e-4, -1e-4):
        assert np.all(prox_l1l1_objective(ours, v.numpy(), s.numpy(), mu.numpy(), nu.numpy())
                      <= prox_l1l1_objective(ours + d, v.numpy(), s.numpy(), mu.numpy(), nu.numpy()) + 1e-15)


def test_weighted_lesita_with_equal_weights_is_lesita_and_with_no_side_weight_is_soft_thresholding():
    v, s = _random(2000, 7)
    assert torch.allclose(lesita_weighted(v, s, 0.3, 0.3), lesita(v, s, 0.3), atol=1e-15, rtol=0)
    off = lesita_weighted(v, s, 0.3, 0.0)
    assert torch.allclose(off, soft_threshold(v, 0.3), atol=1e-15, rtol=0)   # the guide switched off
    assert not torch.allclose(off, lesita(v, s, 0.15))
    mu = torch.full((1, 4, 1, 1), 0.2, dtype=torch.float64)
    out = lesita_weighted(v[:64].reshape(1, 4, 4, 4), s[:64].reshape(1, 4, 4, 4), mu, mu * 0)
    assert out.shape == (1, 4, 4, 4)
    with pytest.raises(ValueError, match="non-negative"):
        lesita_weighted(v, s, 0.1, -0.1)


def test_weighted_lesita_passes_gradients_to_both_weights():
    v, s = _random(500, 9)
    mu = torch.tensor(0.2, dtype=torch.float64, requires_grad=True)
    nu = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    lesita_weighted(v, s, mu, nu).sum().backward()
    assert mu.grad != 0 and nu.grad != 0
