import numpy as np
import pytest
import torch

from mmsr.models.acsc import ACSC
from mmsr.models.lista import LISTA
from mmsr.ops import ConvDictionary, fista, ista, objective
from mmsr.synthetic import SparseTask, phase_transition, sparse_signals, side_information, train_unfolded, nmse_db


@pytest.fixture
def problem():
    g = torch.Generator().manual_seed(0)
    A = torch.randn(30, 80, generator=g, dtype=torch.float64) / 30**0.5
    x = sparse_signals(4, 80, 5, g)
    y = x @ A.T
    s = side_information(x, 0.2, 0.05, g)
    return A, x, y, s


@pytest.mark.parametrize("with_side", [False, True])
def test_ista_objective_never_increases_and_fista_is_faster(problem, with_side):
    A, x, y, s = problem
    s = s if with_side else None
    r_ista = ista(A, y, 0.05, 200, s=s, track=True)
    assert np.all(np.diff(r_ista.objective) <= 1e-12)  # ISTA is a descent method
    r_fista = fista(A, y, 0.05, 200, s=s, track=True)
    ref = fista(A, y, 0.05, 5000, s=s).x
    f_star = float(objective(A, y, ref, 0.05, s).mean())
    assert r_fista.objective[-1] - f_star < r_ista.objective[-1] - f_star
    assert r_fista.objective[-1] <= r_fista.objective[0]


def test_l1l1_solution_satisfies_optimality(problem):
    """0 in A^T(Ax - y) + lam (d|x| + d|x - s|): check on the computed minimiser."""
    A, x, y, s = problem
    lam = 0.05
    xh = fista(A, y, lam, 20000, s=s).x
    grad = (xh @ A.T - y) @ A
    lo = -lam * 2 * torch.ones_like(xh)
    hi = lam * 2 * torch.ones_like(xh)
    for term in (xh, xh - s):  # subdifferential of |t| is sign(t) off zero, [-1, 1] at zero
        nz = term.abs() > 1e-9
        lo = torch.where(nz, lo + lam * (torch.sign(term) + 1), lo)
        hi = torch.where(nz, hi + lam * (torch.sign(term) - 1), hi)
    assert torch.all(-grad >= lo - 1e-6) and torch.all(-grad <= hi + 1e-6)


def test_conv_dictionary_is_the_toeplitz_matrix_and_adjoint():
    g = torch.Generator().manual_seed(1)
    D = ConvDictionary(torch.randn(1, 3, 5, 5, generator=g, dtype=torch.float64))
    u = torch.randn(2, 3, 9, 7, generator=g, dtype=torch.float64)  # odd sizes
    y = torch.randn(2, 1, 9, 7, generator=g, dtype=torch.float64)
    M = D.matrix(9, 7)
    assert M.shape == (63, 3 * 63)
    assert torch.allclose(M @ u[0].flatten(), D.forward(u)[0].flatten(), atol=1e-12)
    assert torch.allclose((D.forward(u) * y).sum(), (u * D.adjoint(y)).sum(), atol=1e-10)
    assert torch.allclose(M.T @ y[0].flatten(), D.adjoint(y)[0].flatten(), atol=1e-12)
    assert D.lipschitz((9, 7)) >= float(torch.linalg.matrix_norm(M, 2) ** 2)


def test_convolutional_and_matrix_ista_agree():
    g = torch.Generator().manual_seed(2)
    D = ConvDictionary(0.3 * torch.randn(1, 2, 3, 3, generator=g, dtype=torch.float64))
    y = torch.randn(1, 1, 6, 5, generator=g, dtype=torch.float64)
    s = torch.randn(1, 2, 6, 5, generator=g, dtype=torch.float64) * 0.1
    M = D.matrix(6, 5)
    L = float(torch.linalg.matrix_norm(M, 2) ** 2)
    conv = ista(D, y, 0.02, 30, s=s, L=L).x
    mat = ista(M, y.flatten()[None], 0.02, 30, s=s.flatten()[None], L=L).x
    assert torch.allclose(conv.flatten(), mat.flatten(), atol=1e-12)


def test_unfolded_networks_start_as_the_algorithms(problem):
    A, x, y, s = problem
    for side in (False, True):
        net = LISTA.from_dictionary(A, 0.05, 7, side)
        ref = ista(A, y, 0.05, 7, s=s if side else None).x
        assert torch.allclose(net(y, s) if side else net(y), ref, atol=1e-12)
    with pytest.raises(ValueError, match="side information"):
        LISTA.from_dictionary(A, 0.05, 2, True)(y)
    g = torch.Generator().manual_seed(3)
    f = 0.2 * torch.randn(1, 4, 5, 5, generator=g, dtype=torch.float64)
    img = torch.randn(2, 1, 11, 13, generator=g, dtype=torch.float64)
    D = ConvDictionary(f)
    L = D.lipschitz((11, 13))
    net = ACSC.from_dictionary(f, 0.05, 4, (11, 13))
    assert torch.allclose(net(img), ista(D, img, 0.05, 4, L=L).x, atol=1e-12)


def test_side_information_reduces_measurements_needed():
    r = phase_transition(60, 6, [18, 24], {"good": (0.0, 0.01)}, trials=12, iters=600, seed=0)
    assert r["good"][0] > r["l1"][0] and r["good"][0] >= 0.9


def test_learning_beats_ista_at_equal_depth():
    task = SparseTask(m=20, n=40, k=4, seed=0)
    y, s, x = task.batch(500, seed=12345)
    K, lam = 3, 0.05
    before = nmse_db(ista(task.A, y, lam, K, s=s).x, x)
    net = train_unfolded(task, K, True, lam, steps=150, batch_size=128, lr=3e-3)
    with torch.no_grad():
        after = nmse_db(net(y, s), x)
    assert after < before - 1.0


def _patches(n, size, seed):
    from mmsr.data import embedded_pairs

    rng = np.random.default_rng(seed)
    img = embedded_pairs("train")[0].target / 255.0
    out = []
    for _ in range(n):
        r, c = rng.integers(0, img.shape[0] - size), rng.integers(0, img.shape[1] - size)
        out.append(img[r:r + size, c:c + size])
    t = torch.tensor(np.stack(out))[:, None]
    return t - t.mean(dim=(2, 3), keepdim=True)


def test_coupled_codes_share_the_guides_support():
    from mmsr.ops.operators import derivative_filters

    D = ConvDictionary(derivative_filters())
    g = torch.Generator().manual_seed(0)
    target = _patches(1, 32, 0)
    guide = target + 0.02 * torch.randn(target.shape, generator=g, dtype=torch.float64)  # a related modality
    L = D.lipschitz((32, 32))
    Z = fista(D, guide, 0.02, 200, L=L).x
    plain = fista(D, target, 0.02, 200, L=L).x
    coupled = fista(D, target, 0.02, 200, s=Z, L=L).x
    share = lambda a: float(((a != 0) & (Z != 0)).sum() / (a != 0).sum())
    assert share(coupled) > share(plain)


def test_side_information_has_the_requested_errors():
    g = torch.Generator().manual_seed(5)
    x = sparse_signals(50, 30, 10, g)
    s = side_information(x, 0.3, 0.0, g)
    supp_x, supp_s = x != 0, s != 0
    assert torch.all((supp_x & ~supp_s).sum(1) == 3) and torch.all((~supp_x & supp_s).sum(1) == 3)
    kept = supp_x & supp_s
    assert torch.equal(s[kept], x[kept])
    with pytest.raises(ValueError, match="wrong_fraction"):
        side_information(x, 1.5, 0.0, g)


def test_chapter4_acsc_helpers_train_and_count_matched_iterations():
    from mmsr.ops.operators import derivative_filters
    from mmsr.synthetic import iterations_matched, train_acsc_on_codes, zero_mean_crops

    rng = np.random.default_rng(0)
    images = [rng.uniform(0, 255, (40, 44)) for _ in range(3)]
    crops = zero_mean_crops(images, 40, 16, seed=1)
    assert crops.shape == (40, 1, 16, 16) and torch.allclose(crops.mean(dim=(2, 3)), torch.zeros(40, 1, dtype=crops.dtype),
                                                              atol=1e-12)
    assert torch.equal(crops, zero_mean_crops(images, 40, 16, seed=1))
    filters = derivative_filters()
    untrained = train_acsc_on_codes(filters, crops[:32], 0.01, 3, steps=0, code_iters=80)
    trained = train_acsc_on_codes(filters, crops[:32], 0.01, 3, steps=60, code_iters=80)
    test = crops[32:]
    with torch.no_grad():
        m = iterations_matched(0.0, filters, test, 0.01, [1, 3, 10], code_iters=80)
        truth = ista(ConvDictionary(filters), test, 0.01, 80, L=ConvDictionary(filters).lipschitz((16, 16)),
                     fast=True).x
        n0, n1 = nmse_db(untrained(test), truth), nmse_db(trained(test), truth)
    assert abs(n0 - m["ista"][3]) < 1e-9          # untrained ACSC is 3 ISTA iterations
    assert n1 < n0 - 0.2                           # trained ACSC beats conv ISTA at equal depth
    assert m["matched_by"] == 1                    # 0 dB is reached by any iteration count
    assert iterations_matched(-1e9, filters, test, 0.01, [1, 3], code_iters=80)["matched_by"] is None
    with pytest.raises(ValueError, match="larger than"):
        zero_mean_crops(images, 2, 50)


def test_one_layer_acsc_has_no_unused_parameters_and_the_same_draws():
    """A one-layer ACSC is soft(W * y): its C and E would never be used, so they are neither counted nor saved
    (LMCSC on CAVE reported 9,600 parameters it did not use), yet they are still drawn, so seeded models around it
    get the same initial weights whatever the depth."""
    torch.manual_seed(0)
    one, after_one = ACSC(3, 8, 5, 1), torch.randn(4)
    torch.manual_seed(0)
    three, after_three = ACSC(3, 8, 5, 3), torch.randn(4)
    assert set(one.state_dict()) == {"W", "gamma"} and {"W", "C", "E", "gamma"} == set(three.state_dict())
    assert torch.equal(one.W, three.W) and torch.equal(after_one, after_three)
    y = torch.rand(1, 3, 9, 11)
    # one layer is the first layer of three
    assert torch.equal(one(y), three(y, return_all=True)[0])
    assert ACSC.from_dictionary(torch.randn(1, 4, 3, 3), 0.1, layers=1).C is None
