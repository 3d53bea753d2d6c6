"""ISTA and FISTA for the LASSO (l1) and for l1-l1 minimisation (sparse coding with side information).

    l1:     min_x 1/2 ||y - A x||^2 + lambda ||x||_1
    l1-l1:  min_x 1/2 ||y - A x||^2 + lambda (||x||_1 + ||x - s||_1)          (eq. (2) of 000)

Both take proximal-gradient steps with step ``1/L`` (``L = ||A||_2^2``):

    x <- prox( x - (1/L) A^T (A x - y) )                                          (eq. (3) of 000)

with ``prox = soft_threshold(., lambda/L)`` for l1 and ``prox = lesita(.; s, mu = lambda/L)`` for l1-l1.
FISTA (Beck & Teboulle 2009) adds the momentum ``t_{k+1} = (1 + sqrt(1 + 4 t_k^2)) / 2`` and extrapolates
``z = x_k + (t_k - 1)/t_{k+1} (x_k - x_{k-1})``. ``A`` is any operator of :mod:`mmsr.ops.operators` (dense,
batched dense, or convolutional), so the same code runs on vectors and on images.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch

from .operators import ConvDictionary, MatrixDictionary
from .shrinkage import lesita, soft_threshold


def _reduce(t: torch.Tensor, sample_dims: int) -> torch.Tensor:
    """Sum over the trailing ``sample_dims`` dimensions (one value per problem of a batch)."""
    return t.flatten(-sample_dims).sum(-1) if sample_dims else t


def objective(A, y, x, lam, s=None) -> torch.Tensor:
    """``1/2||y - Ax||^2 + lam ||x||_1 (+ lam ||x - s||_1)``, one value per problem of the batch."""
    if torch.is_tensor(A):
        A = MatrixDictionary(A)
    xd = 3 if isinstance(A, ConvDictionary) else 1
    r = A.forward(x) - y
    val = 0.5 * _reduce(r * r, xd) + lam * _reduce(x.abs(), xd)
    if s is not None:
        val = val + lam * _reduce((x - s).abs(), xd)
    return val


@dataclass
class SolverResult:
    x: torch.Tensor
    objective: list = field(default_factory=list)  # mean objective over the batch per iteration (if tracked)
    iterates: list = field(default_factory=list)


def _lipschitz(A, x_shape) -> torch.Tensor | float:
    if isinstance(A, ConvDictionary):
        return A.lipschitz(x_shape)
    return A.lipschitz()


def ista(A, y: torch.Tensor, lam: float, n_iter: int = 100, s: Optional[torch.Tensor] = None,
         x0: Optional[torch.Tensor] = None, L=None, track: bool = False, keep_iterates: bool = False,
         fast: bool = False) -> SolverResult:
    """ISTA (``fast=False``) or FISTA (``fast=True``) for l1 (``s is None``) or l1-l1 (``s`` given).

    ``A``: a tensor ``(m, n)``/``(B, m, n)`` or an operator; ``y``: ``(..., m)`` or ``(N, C, H, W)``.
    Returns the final iterate and, with ``track``, the objective after every iteration.
    """
    if torch.is_tensor(A):
        A = MatrixDictionary(A)
    if lam < 0:
        raise ValueError(f"lambda must be non-negative, got {lam}")
    x = A.adjoint(y) * 0 if x0 is None else x0.clone()
    if s is not None and s.shape != x.shape:
        raise ValueError(f"side information shape {tuple(s.shape)} does not match the codes {tuple(x.shape)}")
    L = _lipschitz(A, x.shape) if L is None else L
    mu = lam / L  # a float, a 0-d tensor, or (B, 1) for a batch of matrices: broadcasts against x
    prox = (lambda v: soft_threshold(v, mu)) if s is None else (lambda v: lesita(v, s, mu))
    res = SolverResult(x)
    z, x_prev, t = x, x, 1.0
    for _ in range(n_iter):
        grad = A.adjoint(A.forward(z) - y)
        x_new = prox(z - grad / L)
        if fast:
            t_new = (1 + (1 + 4 * t * t) ** 0.5) / 2
            z = x_new + ((t - 1) / t_new) * (x_new - x_prev)
            t = t_new
        else:
            z = x_new
        x_prev = x_new
        if track:
            res.objective.append(float(objective(A, y, x_new, lam, s).mean()))
        if keep_iterates:
            res.iterates.append(x_new)
    res.x = x_prev
    return res


def fista(A, y, lam, n_iter=100, s=None, x0=None, L=None, track=False, keep_iterates=False) -> SolverResult:
    """FISTA: :func:`ista` with Nesterov/Beck-Teboulle momentum."""
    return ista(A, y, lam, n_iter, s, x0, L, track, keep_iterates, fast=True)
