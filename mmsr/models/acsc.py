"""ACSC: approximate (learned) convolutional sparse coding -- the convolutional LISTA of 001 and Sreter & Giryes.

    alpha^{t+1} = phi_gamma( S * alpha^t + W * y )                    (ACSC, ../shared/papers/001)

With a convolutional dictionary ``D`` (:class:`~mmsr.ops.operators.ConvDictionary`), convolutional ISTA is the
special case ``W * y = D^T y / L`` and ``S * alpha = alpha - D^T D alpha / L``. Like Sreter & Giryes we keep
``S`` in that factorised form, ``alpha - C^T(E alpha)``, with two learned filter banks ``C``, ``E`` (the same
structure as the ``Q * R`` term of the LMCSC stage, eq. (5) of 000); :meth:`from_dictionary` makes ACSC
exactly ``layers`` iterations of convolutional ISTA. A decoder ``x = D_x * alpha`` turns codes into an image.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..ops.operators import ConvDictionary, conv2d_few_outputs, conv_adjoint
from ..ops.shrinkage import soft_threshold


class ACSC(nn.Module):
    """Encoder ``y (N, C, H, W) -> alpha (N, k, H, W)`` with ``layers`` unfolded stages and per-map thresholds."""

    def __init__(self, in_channels: int = 1, atoms: int = 32, kernel: int = 5, layers: int = 3,
                 gamma0: float = 0.1, std: float = 0.01):
        super().__init__()
        if kernel % 2 == 0:
            raise ValueError(f"kernel size must be odd (size-preserving zero padding), got {kernel}")
        self.layers, self.pad = layers, kernel // 2
        self.W = nn.Parameter(torch.randn(in_channels, atoms, kernel, kernel) * std)  # applied as D^T-like
        C = torch.randn(in_channels, atoms, kernel, kernel) * std
        E = torch.randn(in_channels, atoms, kernel, kernel) * std
        # one layer is soft(W * y): C and E would never be used, so they are not parameters (not counted, not
        # saved); they are drawn all the same, so a seeded model's other weights do not depend on the depth
        self.C = nn.Parameter(C) if layers > 1 else None
        self.E = nn.Parameter(E) if layers > 1 else None
        self.gamma = nn.Parameter(torch.full((1, atoms, 1, 1), float(gamma0)))

    @classmethod
    def from_dictionary(cls, filters: torch.Tensor, lam: float, layers: int, image_size=(32, 32)) -> "ACSC":
        """ACSC equal to ``layers`` iterations of convolutional ISTA for dictionary ``filters (C, k, p, p)``."""
        c, k, p, _ = filters.shape
        net = cls(c, k, p, layers).to(filters.dtype)
        L = ConvDictionary(filters).lipschitz(image_size)
        with torch.no_grad():
            net.W.copy_(filters / L)
            if layers > 1:
                net.C.copy_(filters / L)
                net.E.copy_(filters)
            net.gamma.fill_(lam / L)
        return net

    def forward(self, y: torch.Tensor, return_all: bool = False):
        wy = conv_adjoint(y, self.W, self.pad)
        alpha = soft_threshold(wy, self.gamma.clamp_min(0))
        outs = [alpha]
        for _ in range(self.layers - 1):
            back = conv_adjoint(conv2d_few_outputs(alpha, self.E, self.pad), self.C, self.pad)
            alpha = soft_threshold(alpha - back + wy, self.gamma.clamp_min(0))
            outs.append(alpha)
        return outs if return_all else alpha
