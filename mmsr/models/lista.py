"""Learned unfolding of ISTA: LISTA (Gregor & LeCun 2010) and its side-information twin (unfolded l1-l1).

ISTA's iteration ``x <- phi_{lambda/L}(x + (1/L) A^T (y - A x))`` is, with ``W = A^T / L`` and
``S = I - A^T A / L``, the layer ``x <- phi_theta(S x + W y)``. LISTA unrolls ``K`` such layers and learns ``W``,
``S`` (shared across layers) and one threshold per layer. :class:`LISTA` with ``side_information=True`` is the
same network with the LeSITA operator ``xi_mu(.; s)`` (eq. (3) of 000) in place of soft thresholding: the
unfolded proximal-gradient solver of l1-l1 minimisation (the learned side-information network of
Tsiligianni & Deligiannis 2019). ``from_dictionary`` sets the weights so that the network *is* ``K`` steps of
ISTA (resp. of eq. (3)) -- the starting point from which learning improves.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from ..ops.shrinkage import lesita, soft_threshold


class LISTA(nn.Module):
    def __init__(self, m: int, n: int, layers: int, side_information: bool = False, theta0: float = 0.1):
        super().__init__()
        if layers < 1:
            raise ValueError(f"layers must be >= 1, got {layers}")
        self.m, self.n, self.layers, self.side_information = m, n, layers, side_information
        self.W = nn.Parameter(torch.randn(n, m) / m**0.5)
        self.S = nn.Parameter(torch.eye(n))
        self.theta = nn.Parameter(torch.full((layers,), float(theta0)))

    @classmethod
    def from_dictionary(cls, A: torch.Tensor, lam: float, layers: int, side_information: bool = False) -> "LISTA":
        """Weights of ``layers`` ISTA (or l1-l1 proximal-gradient) iterations for dictionary ``A`` and ``lam``."""
        m, n = A.shape
        net = cls(m, n, layers, side_information).to(A.dtype)
        L = float(torch.linalg.matrix_norm(A, 2) ** 2)
        with torch.no_grad():
            net.W.copy_(A.T / L)
            net.S.copy_(torch.eye(n, dtype=A.dtype) - A.T @ A / L)
            net.theta.fill_(lam / L)
        return net

    def forward(self, y: torch.Tensor, s: Optional[torch.Tensor] = None, return_all: bool = False):
        """Codes of ``y (B, m)`` (with side information ``s (B, n)`` if the network uses it)."""
        if self.side_information and s is None:
            raise ValueError("this network uses side information: pass s")
        by = y @ self.W.T
        x = torch.zeros_like(by)
        outs = []
        for k in range(self.layers):
            v = x @ self.S.T + by
            th = self.theta[k].clamp_min(0)
            x = lesita(v, s, th) if self.side_information else soft_threshold(v, th)
            outs.append(x)
        return outs if return_all else x

    def extra_repr(self) -> str:
        return f"m={self.m}, n={self.n}, layers={self.layers}, side_information={self.side_information}"
