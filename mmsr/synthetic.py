"""Synthetic sparse-recovery problems for the theory chapters: where the claims about l1 vs l1-l1 and about
learned unfolding are measured.

* :func:`sparse_signals` -- ``k``-sparse vectors with Gaussian entries on a uniformly random support;
* :func:`side_information` -- a prior ``s`` correlated with ``x``: a fraction of the support is wrong
  (missing, replaced by spurious entries) and every entry of ``s`` carries Gaussian noise;
* :func:`phase_transition` -- success rate of noiseless recovery vs number of measurements ``m`` for plain l1
  and for l1-l1 with side information (FISTA on a batch of independent Gaussian problems, Mota et al. 2017);
* :func:`train_unfolded` / :func:`nmse_db` -- LISTA and its side-information twin trained on synthetic data,
  compared with ISTA/FISTA at the same number of iterations (chapter 4).
"""
from __future__ import annotations

from typing import Sequence

import torch

from .models.lista import LISTA
from .ops.solvers import ista


def sparse_signals(batch: int, n: int, k: int, generator: torch.Generator, dtype=torch.float64) -> torch.Tensor:
    """``batch`` vectors of length ``n`` with exactly ``k`` non-zero standard-normal entries."""
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    order = torch.rand(batch, n, generator=generator).argsort(dim=1)[:, :k]
    x = torch.zeros(batch, n, dtype=dtype)
    x.scatter_(1, order, torch.randn(batch, k, generator=generator, dtype=dtype))
    return x


def side_information(x: torch.Tensor, wrong_fraction: float, noise: float, generator: torch.Generator) -> torch.Tensor:
    """A prior for ``x``: ``round(wrong_fraction * k)`` support entries are dropped, as many spurious entries
    are added off the support, and Gaussian noise of std ``noise`` is added on the (new) support.
    Vectorised over the batch (``k`` may differ between rows)."""
    if not 0 <= wrong_fraction <= 1:
        raise ValueError(f"wrong_fraction must lie in [0, 1], got {wrong_fraction}")
    supp = x != 0
    n_wrong = torch.round(wrong_fraction * supp.sum(1, keepdim=True).to(x.dtype)).long()

    def pick(mask):
        # the n_wrong entries of each row's mask with the smallest random keys
        keys = torch.rand(x.shape, generator=generator, dtype=x.dtype).masked_fill(~mask, float("inf"))
        rank = keys.argsort(dim=1).argsort(dim=1)
        return mask & (rank < n_wrong)

    drop, add = pick(supp), pick(~supp)
    s = x.masked_fill(drop, 0.0)
    s = torch.where(add, torch.randn(x.shape, generator=generator, dtype=x.dtype), s)
    mask = (s != 0).to(x.dtype)
    return s + noise * mask * torch.randn(s.shape, generator=generator, dtype=x.dtype)


def gaussian_dictionaries(batch: int, m: int, n: int, generator: torch.Generator, dtype=torch.float64):
    """``batch`` matrices ``(m, n)`` with i.i.d. ``N(0, 1/m)`` entries."""
    return torch.randn(batch, m, n, generator=generator, dtype=dtype) / m**0.5


def phase_transition(n: int, k: int, measurements: Sequence[int], priors: dict, trials: int = 20,
                     lam: float = 1e-3, iters: int = 1500, tol: float = 1e-2, seed: int = 0) -> dict:
    """Success rate (relative error < ``tol``) of recovering ``k``-sparse ``x`` from ``m`` noiseless Gaussian
    measurements, for each ``m`` and for l1 (``"l1"``) and l1-l1 with each prior in ``priors``
    (name -> ``(wrong_fraction, noise)``). Returns ``{"m": [...], name: [rates], ..., "error": {...}}``.

    Both problems are solved by FISTA with a small ``lam`` (approximating the constrained problems
    ``min ||x||_1`` resp. ``min ||x||_1 + ||x - s||_1`` subject to ``Ax = y``).
    """
    g = torch.Generator().manual_seed(seed)
    out = {"m": list(measurements), "l1": [], "error": {"l1": []}}
    for name in priors:
        out[name], out["error"][name] = [], []
    for m in measurements:
        A = gaussian_dictionaries(trials, m, n, g)
        x = sparse_signals(trials, n, k, g)
        y = (A @ x.unsqueeze(-1)).squeeze(-1)
        fits = {"l1": ista(A, y, lam, iters, fast=True).x}
        for name, (wrong, noise) in priors.items():
            s = side_information(x, wrong, noise, g)
            fits[name] = ista(A, y, lam, iters, s=s, fast=True).x
        for name, xh in fits.items():
            err = (xh - x).norm(dim=1) / x.norm(dim=1)
            out[name].append(float((err < tol).double().mean()))
            out["error"][name].append(float(err.median()))
    return out


def nmse_db(estimate: torch.Tensor, truth: torch.Tensor) -> float:
    """Normalised MSE in dB: ``10 log10( sum ||x_hat - x||^2 / sum ||x||^2 )``."""
    return float(10 * torch.log10(((estimate - truth) ** 2).sum() / (truth**2).sum()))


class SparseTask:
    """One synthetic task: a fixed dictionary ``A (m, n)``, ``k``-sparse signals, side information of given
    quality, noisy measurements ``y = A x + sigma e``. ``batch(size, seed)`` draws ``(y, s, x)``."""

    def __init__(self, m: int = 50, n: int = 100, k: int = 10, wrong_fraction: float = 0.2, noise: float = 0.1,
                 sigma: float = 0.01, seed: int = 0):
        self.m, self.n, self.k = m, n, k
        self.wrong_fraction, self.noise, self.sigma = wrong_fraction, noise, sigma
        g = torch.Generator().manual_seed(seed)
        self.A = torch.randn(m, n, generator=g, dtype=torch.float64) / m**0.5

    def batch(self, size: int, seed: int):
        g = torch.Generator().manual_seed(10_000 + seed)
        x = sparse_signals(size, self.n, self.k, g)
        s = side_information(x, self.wrong_fraction, self.noise, g)
        y = x @ self.A.T + self.sigma * torch.randn(size, self.m, generator=g, dtype=torch.float64)
        return y, s, x


def train_unfolded(task: SparseTask, layers: int, side_information: bool, lam: float, steps: int = 500,
                   batch_size: int = 256, lr: float = 1e-3, seed: int = 0, progress: bool = False) -> LISTA:
    """Train LISTA (or its l1-l1 twin) initialised at ISTA, on fresh synthetic batches, MSE on the codes."""
    torch.manual_seed(seed)
    net = LISTA.from_dictionary(task.A, lam, layers, side_information)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    it = range(steps)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc=f"LISTA{'-SI' if side_information else ''} K={layers}", leave=False)
    for step in it:
        y, s, x = task.batch(batch_size, seed * 1_000_003 + step)
        est = net(y, s) if side_information else net(y)
        loss = ((est - x) ** 2).sum(1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return net


def depth_comparison(task: SparseTask, depths: Sequence[int], lam: float, steps: int, test_size: int = 1000,
                     seed: int = 0, progress: bool = False) -> dict:
    """NMSE (dB) on fresh test data at each depth for ISTA, FISTA, l1-l1 ISTA, LISTA and LISTA with side info."""
    y, s, x = task.batch(test_size, seed=999_999)
    out = {"depth": list(depths), "ISTA": [], "FISTA": [], "ISTA l1-l1": [], "LISTA": [], "LISTA l1-l1": []}
    for K in depths:
        out["ISTA"].append(nmse_db(ista(task.A, y, lam, K).x, x))
        out["FISTA"].append(nmse_db(ista(task.A, y, lam, K, fast=True).x, x))
        out["ISTA l1-l1"].append(nmse_db(ista(task.A, y, lam, K, s=s).x, x))
        net = train_unfolded(task, K, False, lam, steps, seed=seed, progress=progress)
        with torch.no_grad():
            out["LISTA"].append(nmse_db(net(y), x))
        net = train_unfolded(task, K, True, lam, steps, seed=seed, progress=progress)
        with torch.no_grad():
            out["LISTA l1-l1"].append(nmse_db(net(y, s), x))
    return out


def train_acsc_on_codes(filters: torch.Tensor, train_y: torch.Tensor, lam: float, layers: int, steps: int,
                        code_iters: int = 300, batch: int = 32, lr: float = 1e-3, seed: int = 0):
    """Train ACSC (from its convolutional-ISTA initialisation) to predict converged sparse codes of images.

    The targets are ``code_iters`` FISTA iterations for the dictionary ``filters`` on ``train_y (N, C, H, W)``.
    Returns the trained network.
    """
    from .models.acsc import ACSC
    from .ops.operators import ConvDictionary

    if steps < 0 or layers < 1:
        raise ValueError(f"need layers >= 1 and steps >= 0, got layers={layers}, steps={steps}")
    D = ConvDictionary(filters)
    size = tuple(train_y.shape[-2:])
    L = D.lipschitz(size)
    codes = ista(D, train_y, lam, code_iters, L=L, fast=True).x
    net = ACSC.from_dictionary(filters, lam, layers, size).to(train_y.dtype)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, train_y.shape[0], (min(batch, train_y.shape[0]),), generator=gen)
        loss = ((net(train_y[idx]) - codes[idx]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net


def iterations_matched(net_nmse: float, filters: torch.Tensor, test_y: torch.Tensor, lam: float,
                       iterations: Sequence[int], code_iters: int = 300) -> dict:
    """Code NMSE (dB) of convolutional ISTA at each of ``iterations`` on ``test_y``, and the fewest iterations
    that reach ``net_nmse`` (``None`` if none of them does): how many iterations a trained network is worth."""
    from .ops.operators import ConvDictionary

    D = ConvDictionary(filters)
    L = D.lipschitz(tuple(test_y.shape[-2:]))
    truth = ista(D, test_y, lam, code_iters, L=L, fast=True).x
    curve = {int(k): nmse_db(ista(D, test_y, lam, int(k), L=L).x, truth) for k in sorted(iterations)}
    reached = [k for k, v in curve.items() if v <= net_nmse]
    return {"ista": curve, "matched_by": reached[0] if reached else None}


def zero_mean_crops(images: Sequence, n: int, size: int, peak: float = 255.0, seed: int = 0) -> torch.Tensor:
    """``n`` random ``size x size`` crops of ``images`` (HxW arrays) as ``(n, 1, size, size)`` float64 in [0, 1]
    minus each crop's mean: the image patches whose sparse codes chapter 4's ACSC learns."""
    import numpy as np

    if not images or n < 1:
        raise ValueError("need at least one image and n >= 1")
    if any(min(np.asarray(im).shape[:2]) <= size for im in images):
        raise ValueError(f"every image must be larger than the {size}x{size} crop")
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        im = np.asarray(images[rng.integers(len(images))], dtype=np.float64)
        r, c = rng.integers(0, im.shape[0] - size), rng.integers(0, im.shape[1] - size)
        out.append(im[r:r + size, c:c + size] / peak)
    t = torch.tensor(np.stack(out))[:, None]
    return t - t.mean(dim=(2, 3), keepdim=True)
