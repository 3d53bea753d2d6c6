"""Looking inside the coupled networks: how sparse their codes are, and what LeSITA does with the guide's codes
where target and guide disagree (chapter 7, issue #10's "interpretability").

LeSITA, the proximal step of the l1-l1 prior (chapter 3), has three kinds of outcome for a coefficient ``v`` with
side information ``s``: **zero** (``v`` near 0), **a copy of the side information** (``v`` near ``s``: the output
is ``s`` exactly) and **the rest** (passed through between 0 and ``s``, or shrunk by ``2 mu``). Counting these
outcomes in the HR states tells how much of the HR representation the guide dictates, and counting them where
target and guide disagree tells whether the learned thresholds stop copying there.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch


def _standardise(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return (a - a.mean()) / max(float(a.std()), 1e-12)


def disagreement_map(target, guide) -> np.ndarray:
    """``|std(target) - std(guide)|`` per pixel, each image standardised to zero mean and unit deviation over the
    image (so a global gain or offset of either image changes nothing). ``guide``: one channel (e.g. its
    luminance), the target's size. Large where the two show different things (vegetation bright in NIR and dark in
    RGB, a sky that differs), near 0 where the guide is a faithful picture of the target."""
    target, guide = np.asarray(target), np.asarray(guide)
    if target.shape != guide.shape or target.ndim != 2:
        raise ValueError(f"target and guide must be 2-D images of one size, got {target.shape} and {guide.shape}")
    return np.abs(_standardise(target) - _standardise(guide))


def outcome_fractions(h: torch.Tensor, z: torch.Tensor, region: Optional[torch.Tensor] = None) -> dict:
    """Fractions of the coefficients of an HR state ``h`` that LeSITA set to zero, set to (a non-zero) guide code
    ``z`` exactly, or left elsewhere; ``region``: a boolean ``(N, 1, H, W)`` mask of the pixels to count (all
    atoms of each pixel). The three fractions sum to 1."""
    if h.shape != z.shape:
        raise ValueError(f"state and guide codes must have one shape, got {tuple(h.shape)} and {tuple(z.shape)}")
    zero = h == 0
    copy = (h == z) & (z != 0)
    if region is not None:
        if region.dtype != torch.bool or region.shape[1] != 1 or region.shape[-2:] != h.shape[-2:]:
            raise ValueError(f"region must be a boolean (N, 1, H, W) mask of the state's size {tuple(h.shape[-2:])}")
        sel = region.expand_as(h)
        n = int(sel.sum())
        if n == 0:
            raise ValueError("region selects no pixel")
        zero, copy = zero & sel, copy & sel
    else:
        n = h.numel()
    f_zero, f_copy = int(zero.sum()) / n, int(copy.sum()) / n
    return {"zero": f_zero, "copies_guide": f_copy, "other": 1.0 - f_zero - f_copy}


@torch.no_grad()
def state_statistics(net, lr: torch.Tensor, guide: torch.Tensor, region: Optional[torch.Tensor] = None) -> list:
    """Per step of a :class:`~mmsr.models.recurrent.RecurrentCoupledNet`: the fraction of zeros in the LR state,
    the HR state's LeSITA outcomes (:func:`outcome_fractions`, restricted to ``region`` if given) and the fraction
    of zeros in the guide's codes. Returns one dict per step."""
    ls, hs, z = net.states(lr, guide)
    guide_zero = float((z == 0).float().mean()) if region is None else \
        float(((z == 0) & region.expand_as(z)).sum() / region.expand_as(z).sum())
    return [{"step": t + 1, "lr_zero": float((l == 0).float().mean()), "guide_zero": guide_zero,
             **{f"hr_{k}": v for k, v in outcome_fractions(h, z, region).items()}}
            for t, (l, h) in enumerate(zip(ls, hs))]


@torch.no_grad()
def acsc_iteration_gain(acsc, size=(32, 32), iters: int = 100, seed: int = 0) -> float:
    """The largest factor by which one stage of an :class:`~mmsr.models.acsc.ACSC` encoder can enlarge a code map,
    before its threshold: the operator norm of ``S(a) = a - C^T(E a)`` on ``(k, *size)`` maps (zero padding, as
    the encoder computes it), by power iteration on ``S^T S``. ``S^T`` is the same map with ``C`` and ``E``
    swapped.

    For an encoder made by :meth:`~mmsr.models.acsc.ACSC.from_dictionary` (``C = D / L``, ``E = D``), ``S`` is
    ``I - D^T D / L``, whose eigenvalues lie in [0, 1]: the gain is at most 1 and the stages are ISTA's. A learned
    encoder is free to leave that range; a gain well above 1 compounds over the stages and lets the codes grow
    without bound, which chapter 7 meets in LMCSC trained on CAVE (issue #10). A one-layer encoder has no such
    stage (its codes are ``soft(W * y)``): refused."""
    from .ops.operators import conv2d_few_outputs, conv_adjoint

    if acsc.layers < 2:
        raise ValueError(f"a {acsc.layers}-layer ACSC has no stage after the first: no iteration gain to measure")

    k = acsc.W.shape[1]
    pad = acsc.pad

    def apply(a, first, second):   # a - first^T (second a)
        return a - conv_adjoint(conv2d_few_outputs(a, second, pad), first, pad)

    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(1, k, *size, generator=gen, dtype=acsc.W.dtype).to(acsc.W.device)
    norm = torch.zeros(())
    for _ in range(iters):
        a = a / a.norm()
        b = apply(apply(a, acsc.C, acsc.E), acsc.E, acsc.C)
        norm = (a * b).sum()
        a = b
    return float(norm.clamp_min(0).sqrt())


@torch.no_grad()
def side_weights(net) -> dict:
    """The weights a :class:`~mmsr.models.recurrent.RecurrentCoupledNet` built with ``side_weight=True`` learned
    for LeSITA in its HR state, per code map: ``mu`` on ``|u|`` and ``nu`` on ``|u - s|`` (clamped at 0, as the
    network uses them; NumPy arrays of the shared set -- steps 1..T, or step 1 alone with per-step weights), each
    map's ``kind`` and the fraction of maps of each kind: ``guide_off`` (``mu > 0``, ``nu`` under a tenth of it:
    nearly soft thresholding, the guide switched off), ``guide_only`` (``mu = 0 < nu``: no pull towards 0, only
    towards the guide's code), ``linear`` (both 0: no shrinkage at all) and ``both`` (the rest: LeSITA with two
    weights)."""
    nu = getattr(net, "nu", None)
    if nu is None:
        raise ValueError("this network has no weight of its own on LeSITA's side-information term (build it with "
                         "side_weight=True)")
    mu_v = net.mu.clamp_min(0).flatten().cpu().numpy().astype(np.float64)
    nu_v = nu.clamp_min(0).flatten().cpu().numpy().astype(np.float64)
    kind = np.full(mu_v.shape, "both", dtype=object)
    kind[(mu_v > 0) & (nu_v < 0.1 * mu_v)] = "guide_off"
    kind[(mu_v == 0) & (nu_v > 0)] = "guide_only"
    kind[(mu_v == 0) & (nu_v == 0)] = "linear"
    return {"mu": mu_v, "nu": nu_v, "kind": kind,
            **{k: float(np.mean(kind == k)) for k in ("guide_off", "guide_only", "linear", "both")}}
