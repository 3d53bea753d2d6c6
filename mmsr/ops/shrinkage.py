"""Shrinkage (proximal) operators of the l1 and l1-l1 problems.

* :func:`soft_threshold` -- ``phi_gamma(u) = sign(u) max(|u| - gamma, 0)``, the proximal operator of
  ``gamma |u|`` (ISTA, and the ACSC shrinkage of ``../shared/papers/001``).
* :func:`lesita` -- ``xi_mu(v; s)``, the proximal operator of ``mu (|u| + |u - s|)`` used by eq. (3) of 000 and by
  the LMCSC stages (eq. (5) of 000): the LeSITA operator of Tsiligianni & Deligiannis (2019). Vectorised,
  differentiable, broadcasting ``s`` and ``mu`` (scalar, per channel, or per element).
* :func:`lesita_weighted` -- the proximal operator of ``mu |u| + nu |u - s|``: LeSITA with its own weight on the
  side-information term (``nu = 0`` switches the guide off; chapter 7).
* :func:`lesita_piecewise` -- the same operator written literally as the two five-case formulas of 001
  (one for ``s >= 0``, one for ``s < 0``), element by element. It exists to be checked against.
* :func:`prox_l1l1_bruteforce` -- a numerical minimiser of ``1/2 (u - v)^2 + mu|u| + mu|u - s|`` (grid plus
  bisection on the subgradient), the ground truth both are tested against.

Derivation (chapter 3). With ``lo = min(0, s)`` and ``hi = max(0, s)`` the objective
``h(u) = 1/2 (u - v)^2 + mu |u| + mu |u - s|`` has slope ``u - v - 2 mu`` left of ``lo``, ``u - v`` between ``lo``
and ``hi`` and ``u - v + 2 mu`` right of ``hi``; the minimiser is where ``0`` lies in the subdifferential:

    u* = v + 2mu          if v < lo - 2mu
    u* = lo               if lo - 2mu <= v <= lo
    u* = v                if lo < v < hi
    u* = hi               if hi <= v <= hi + 2mu
    u* = v - 2mu          if v > hi + 2mu

which is 001's formula for both signs of ``s`` at once, and in one line
``u* = v - clamp(v - hi, 0, 2mu) + clamp(lo - v, 0, 2mu)``. At ``s = 0`` it is soft thresholding by ``2 mu``
(not zero). In eq. (3) of 000 the proximal-gradient step on ``1/2||y - Ax||^2 + lambda(||x||_1 + ||x - s||_1)``
with step ``1/L`` applies this operator with ``mu = lambda / L``: the formula shrinks by ``2 mu`` because both
l1 terms pull with weight ``mu`` beyond ``[lo, hi]``.
"""
from __future__ import annotations

import numpy as np
import torch


def _check_mu(mu):
    """Refuse a negative threshold, scalar or tensor (a negative ``mu`` silently turns shrinkage into expansion)."""
    if torch.is_tensor(mu):
        if mu.numel() and bool((mu.detach() < 0).any()):
            raise ValueError(f"the threshold must be non-negative, got a tensor with minimum {float(mu.min()):g}")
    elif mu < 0:
        raise ValueError(f"the threshold must be non-negative, got {mu}")


def soft_threshold(u: torch.Tensor, gamma) -> torch.Tensor:
    """``phi_gamma(u) = sign(u) max(|u| - gamma, 0)`` (001, ACSC); ``gamma`` broadcasts against ``u``."""
    _check_mu(gamma)
    # computed as u - clip(u, -gamma, gamma): the same values and gradients as the formula (up to the sign of
    # zero), in two or three passes over u instead of five -- these networks spend most of their CPU time in such
    # elementwise passes over large code maps
    if not torch.is_tensor(gamma):
        return u - u.clamp(-gamma, gamma)
    return u - torch.minimum(torch.maximum(u, -gamma), gamma)   # (torch.clamp with tensor bounds is ~5x slower)


def lesita(v: torch.Tensor, s: torch.Tensor, mu) -> torch.Tensor:
    """``xi_mu(v; s)``: proximal operator of ``mu(|u| + |u - s|)`` (LeSITA; eq. (3)/(5) of 000, formula of 001).

    ``v`` and ``s`` broadcast against each other; ``mu`` may be a float or a tensor broadcasting against them
    (e.g. shape ``(1, C, 1, 1)`` for one threshold per feature map). Differentiable in ``v``, ``s`` and ``mu``
    away from the five case boundaries.
    """
    _check_mu(mu)
    if not torch.is_tensor(s):
        s = torch.as_tensor(s, dtype=v.dtype, device=v.device)
    two_mu = 2 * mu if torch.is_tensor(mu) else torch.as_tensor(2.0 * mu, dtype=v.dtype, device=v.device)
    # nearest point c of the interval between 0 and s, plus the soft-thresholded distance to it: the five cases
    # in a few elementwise passes, and where LeSITA copies s (or 0) the output is s (or 0) exactly
    c = torch.minimum(torch.maximum(v, s.clamp(max=0)), s.clamp(min=0))
    d = v - c
    return c + (d - torch.minimum(torch.maximum(d, -two_mu), two_mu))


def lesita_weighted(v: torch.Tensor, s: torch.Tensor, mu, nu) -> torch.Tensor:
    """The proximal operator of ``mu |u| + nu |u - s|``: LeSITA with a weight of its own on the side-information
    term (chapter 7). ``nu = mu`` is :func:`lesita`; ``nu = 0`` is soft thresholding by ``mu`` -- the guide
    switched off; ``mu = 0`` pulls every code towards ``s`` by ``nu``.

    Derivation (as in the module docstring). Between the kinks ``lo = min(0, s)`` and ``hi = max(0, s)`` the slope
    of ``1/2 (u - v)^2 + mu |u| + nu |u - s|`` is ``u - v + (mu - nu) sign(s)``, so there the minimiser is
    ``m = v + (nu - mu) sign(s)``; left of ``lo`` and right of ``hi`` both terms pull with ``mu + nu``. Hence

        u* = max(v - (mu + nu), min(v + (mu + nu), clamp(m, lo, hi)))

    (the middle piece clipped to the interval, the outer pieces taking over beyond it). ``mu``, ``nu``: floats or
    tensors broadcasting against ``v``; both non-negative."""
    _check_mu(mu)
    _check_mu(nu)
    if not torch.is_tensor(s):
        s = torch.as_tensor(s, dtype=v.dtype, device=v.device)
    total = mu + nu
    if not torch.is_tensor(total):
        total = torch.as_tensor(float(total), dtype=v.dtype, device=v.device)
    middle = v + (nu - mu) * torch.sign(s)
    inside = torch.minimum(torch.maximum(middle, s.clamp(max=0)), s.clamp(min=0))
    return torch.maximum(v - total, torch.minimum(v + total, inside))


def lesita_piecewise(v, s, mu) -> np.ndarray:
    """001's piecewise formula, literally: five cases for ``s_i >= 0`` and five for ``s_i < 0`` (NumPy, float64)."""
    v, s = np.broadcast_arrays(np.asarray(v, dtype=np.float64), np.asarray(s, dtype=np.float64))
    mu = np.broadcast_to(np.asarray(mu, dtype=np.float64), v.shape)
    out = np.empty(v.shape, dtype=np.float64)
    for i in np.ndindex(v.shape):
        u, si, m = v[i], s[i], mu[i]
        if si >= 0:
            if u < -2 * m:
                out[i] = u + 2 * m
            elif u <= 0:
                out[i] = 0.0
            elif u < si:
                out[i] = u
            elif u <= si + 2 * m:
                out[i] = si
            else:
                out[i] = u - 2 * m
        else:
            if u < si - 2 * m:
                out[i] = u + 2 * m
            elif u <= si:
                out[i] = si
            elif u < 0:
                out[i] = u
            elif u <= 2 * m:
                out[i] = 0.0
            else:
                out[i] = u - 2 * m
    return out


def prox_l1l1_objective(u, v, s, mu, nu=None):
    """``1/2 (u - v)^2 + mu |u| + nu |u - s|`` (``nu = mu`` unless given), the function whose minimiser is
    ``xi_mu(v; s)`` (:func:`lesita_weighted` with ``nu``)."""
    nu = mu if nu is None else nu
    return 0.5 * (u - v) ** 2 + mu * np.abs(u) + nu * np.abs(u - s)


def prox_l1l1_bruteforce(v, s, mu, iters: int = 200, nu=None) -> np.ndarray:
    """Minimise ``h(u) = 1/2 (u - v)^2 + mu|u| + nu|u - s|`` (``nu = mu`` unless given) numerically, element by
    element.

    ``h`` is convex, so its minimiser is where the derivative ``h'(u) = u - v + mu sign(u) + nu sign(u - s)``
    changes sign. A dense grid on ``[min(v, 0, s) - 1, max(v, 0, s) + 1]`` brackets that point and bisection on
    ``h'`` narrows the bracket to machine precision (a search on ``h`` itself could not get below ~1e-8, where
    ``h`` is flat to rounding); a kink (``0`` or ``s``) left inside the final bracket is returned exactly. It
    uses no case analysis:
    it is the reference the formulas are checked against, slow by design.
    """
    v, s = np.broadcast_arrays(np.asarray(v, dtype=np.float64), np.asarray(s, dtype=np.float64))
    mu = np.broadcast_to(np.asarray(mu, dtype=np.float64), v.shape)
    nu = mu if nu is None else np.broadcast_to(np.asarray(nu, dtype=np.float64), v.shape)
    out = np.empty(v.shape)
    for i in np.ndindex(v.shape):
        vi, si, mi, ni = v[i], s[i], mu[i], nu[i]

        def dh(u):
            return u - vi + mi * np.sign(u) + ni * np.sign(u - si)

        grid = np.linspace(min(vi, 0.0, si) - 1.0, max(vi, 0.0, si) + 1.0, 1001)
        k = int(np.argmax(dh(grid) >= 0))  # first grid point at or right of the sign change
        a, b = grid[max(k - 1, 0)], grid[k]
        for _ in range(iters):
            m = 0.5 * (a + b)
            if m in (a, b):
                break
            if dh(m) >= 0:
                b = m
            else:
                a = m
        # the minimiser lies in [a, b]; a kink inside that bracket is the minimiser exactly
        kinks = [k for k in (0.0, si) if a <= k <= b]
        out[i] = kinks[0] if kinks else 0.5 * (a + b)
    return out
