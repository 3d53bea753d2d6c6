"""Test-time self-ensemble: a model applied to the 8 flips and rotations of its input, the outputs turned back.

Super-resolution has no preferred orientation -- a scene flipped left-right or turned by 90 degrees is as likely as
the scene itself -- but a trained network is not exactly equivariant: its learned filters are not symmetric, so
its estimates of a turned input, turned back, differ a little. Their average (or median) is a better estimate than
any one of them; single-image SR uses it as "+" variants (EDSR+ in Lim et al., 2017), and CMSR's zero-shot
networks use the median (:func:`mmsr.zeroshot.predict`). For a guided model the guide is turned with the target, so
the pair stays registered.

The price is eight forward passes. Nothing is trained; it is an option at inference, and the book reports it as
its own row ("+ self-ensemble"), never as the model itself.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn

#: the 8 elements of the dihedral group of the square: ``k`` in 0..3 turns by ``k`` quarter turns, ``k`` in 4..7
#: flips left-right first
DIHEDRAL = tuple(range(8))
REDUCTIONS = ("mean", "median")


def _check_k(k: int) -> int:
    if not isinstance(k, int) or not 0 <= k < 8:
        raise ValueError(f"k: expected an integer in 0..7 (an element of the dihedral group), got {k!r}")
    return k


def dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """``x`` (``(..., H, W)``) transformed by group element ``k``: flipped left-right if ``k >= 4``, then turned by
    ``k % 4`` quarter turns counter-clockwise."""
    k = _check_k(k)
    x = torch.flip(x, dims=(-1,)) if k >= 4 else x
    return torch.rot90(x, k % 4, dims=(-2, -1))


def dihedral_inverse(x: torch.Tensor, k: int) -> torch.Tensor:
    """The inverse of :func:`dihedral`: ``dihedral_inverse(dihedral(x, k), k) == x``."""
    k = _check_k(k)
    x = torch.rot90(x, -(k % 4), dims=(-2, -1))
    return torch.flip(x, dims=(-1,)) if k >= 4 else x


def self_ensemble(fn, lr: torch.Tensor, guide: Optional[torch.Tensor], reduce: str = "mean") -> torch.Tensor:
    """``reduce`` over ``k`` of ``dihedral_inverse(fn(dihedral(lr, k), dihedral(guide, k)), k)``; ``guide`` may be
    ``None`` (then ``fn`` gets ``None``)."""
    if reduce not in REDUCTIONS:
        raise ValueError(f"reduce: expected one of {list(REDUCTIONS)}, got {reduce!r}")
    outs = []
    for k in DIHEDRAL:
        g = None if guide is None else dihedral(guide, k)
        outs.append(dihedral_inverse(fn(dihedral(lr, k), g), k))
    stacked = torch.stack(outs)
    return stacked.mean(dim=0) if reduce == "mean" else stacked.median(dim=0).values


class SelfEnsemble(nn.Module):
    """``model`` (called ``model(lr, guide)``) wrapped so that each call is :func:`self_ensemble` of it.

    The wrapped model's parameters stay its own (``self.model``); the wrapper adds none."""

    def __init__(self, model: nn.Module, reduce: str = "mean"):
        super().__init__()
        if reduce not in REDUCTIONS:
            raise ValueError(f"reduce: expected one of {list(REDUCTIONS)}, got {reduce!r}")
        self.model, self.reduce = model, reduce

    def forward(self, lr: torch.Tensor, guide: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self_ensemble(self.model, lr, guide, self.reduce)
