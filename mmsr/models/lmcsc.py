"""LMCSC: learned multimodal convolutional sparse coding (``../shared/papers/000``, Fig. 1, eqs. (4)-(5)).

Three subnetworks, trained end to end:

1. **guidance encoder** -- ACSC (:class:`~mmsr.models.acsc.ACSC`, 001) on the guide's luminance: the side
   information maps ``Z`` (``k`` maps on the HR grid);
2. **LMCSC encoder** -- ``stages`` unfolded proximal-gradient steps of coupled convolutional sparse coding,

       u^{t+1} = xi_mu( u^t - Q * (R * u^t) + P * Y ; Z )                    (eq. (5) of 000)

   with learnable convolutions ``P`` (1 -> k), ``R`` (k -> 1), ``Q`` (1 -> k) and learnable per-map ``mu``;
   with ``P = Q = D~ / L`` and ``R = D`` it is exactly eq. (4), i.e. eq. (3) in convolutional form
   (:meth:`LMCSCEncoder.from_dictionary`, checked in the tests);
3. **decoder** -- a convolutional dictionary ``k -> 1`` that synthesises the HR image from the codes.

Choices the paper leaves open, and ours (chapter and issue note justify them):

* the LR target meets the HR grid by bicubic upsampling before the encoder (``Y`` is on the HR grid, so the
  codes and the guide's codes live on the same grid, as eq. (1) requires);
* the decoder adds its output to that bicubic image (``residual=True``): the codes model the missing detail;
* ``mu`` is clamped at 0 (a threshold), initialised to ``mu0 = 0.01``; kernels ``N(0, 0.01^2)`` as in the paper.
  The paper initialises ``mu`` and ``gamma`` at 0.2; with images in [0, 1] and such kernels every code is then
  zero, LeSITA's flat region passes no gradient and the network never leaves its bicubic output (tested), so
  ``mu0=0.2`` reproduces the paper's setting and the default is the one that trains.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_scale
from ..degrade import upsample_bicubic
from ..ops.operators import ConvDictionary, conv2d_few_outputs
from ..ops.shrinkage import lesita
from .acsc import ACSC


class LMCSCEncoder(nn.Module):
    """``Y (N,1,H,W), Z (N,k,H,W) -> u (N,k,H,W)`` by ``stages`` steps of eq. (5); ``u^0 = 0``."""

    def __init__(self, atoms: int = 85, kernel: int = 5, stages: int = 3, mu0: float = 0.01, std: float = 0.01,
                 channels: int = 1):
        super().__init__()
        if kernel % 2 == 0:
            raise ValueError(f"kernel must be odd, got {kernel}")
        if stages < 1:
            raise ValueError(f"stages must be >= 1, got {stages}")
        self.stages, self.pad = stages, kernel // 2
        self.P = nn.Parameter(torch.randn(atoms, channels, kernel, kernel) * std)
        self.Q = nn.Parameter(torch.randn(atoms, channels, kernel, kernel) * std)
        self.R = nn.Parameter(torch.randn(channels, atoms, kernel, kernel) * std)
        self.mu = nn.Parameter(torch.full((1, atoms, 1, 1), float(mu0)))

    @classmethod
    def from_dictionary(cls, filters: torch.Tensor, lam: float, stages: int, image_size=(32, 32)) -> "LMCSCEncoder":
        """Weights for which every stage is one proximal-gradient step (eq. (3)/(4)) on dictionary ``filters``."""
        c, k, p, _ = filters.shape
        enc = cls(k, p, stages, channels=c).to(filters.dtype)
        L = ConvDictionary(filters).lipschitz(image_size)
        adjoint = filters.flip(-1, -2).transpose(0, 1)  # conv2d with these == conv_transpose2d with filters
        with torch.no_grad():
            enc.P.copy_(adjoint / L)
            enc.Q.copy_(adjoint / L)
            enc.R.copy_(filters)
            enc.mu.fill_(lam / L)
        return enc

    def forward(self, y: torch.Tensor, z: torch.Tensor, return_all: bool = False):
        py = F.conv2d(y, self.P, padding=self.pad)
        mu = self.mu.clamp_min(0)
        u = lesita(py, z, mu)
        outs = [u]
        for _ in range(self.stages - 1):
            u = lesita(u - F.conv2d(conv2d_few_outputs(u, self.R, self.pad), self.Q, padding=self.pad) + py, z, mu)
            outs.append(u)
        return outs if return_all else u


class LMCSCNet(nn.Module):
    """The guided SR network of Fig. 1 of 000: ``model(lr, guide) -> hr``; guide ``(N,1,H,W)`` luminance as in
    000, or ``(N,3,H,W)`` colour with ``guide_channels=3`` (ours, for multispectral targets: a luminance guide
    throws away what differs between the colour channels)."""

    def __init__(self, scale: int = 2, atoms: int = 85, kernel: int = 5, stages: int = 3, guide_layers: int = 3,
                 mu0: float = 0.01, std: float = 0.01, residual: bool = True, guide_channels: int = 1):
        super().__init__()
        if guide_channels not in (1, 3):
            raise ValueError(f"guide_channels must be 1 (luminance) or 3 (colour), got {guide_channels}")
        self.scale = check_scale(scale)
        self.residual = residual
        self.guide_channels = guide_channels
        self.guide_encoder = ACSC(guide_channels, atoms, kernel, guide_layers, gamma0=mu0, std=std)
        self.encoder = LMCSCEncoder(atoms, kernel, stages, mu0, std)
        self.decoder = nn.Conv2d(atoms, 1, kernel, padding=kernel // 2, bias=False)
        nn.init.normal_(self.decoder.weight, std=std)

    def codes(self, lr: torch.Tensor, guide: torch.Tensor, return_all: bool = False):
        """``(u, z)``: the target's sparse maps (all stages with ``return_all``) and the guide's."""
        if guide.shape[1] != self.guide_channels:
            kind = "luminance" if self.guide_channels == 1 else "colour"
            raise ValueError(f"this LMCSC was built for {self.guide_channels}-channel guides ({kind}), got "
                             f"{guide.shape[1]} channels")
        up = upsample_bicubic(lr, self.scale)
        if up.shape[-2:] != guide.shape[-2:]:
            raise ValueError(f"guide size {tuple(guide.shape[-2:])} does not match the upsampled target "
                             f"{tuple(up.shape[-2:])}")
        z = self.guide_encoder(guide)
        return self.encoder(up, z, return_all), z, up

    def forward(self, lr: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        u, _, up = self.codes(lr, guide)
        out = conv2d_few_outputs(u, self.decoder.weight, self.decoder.padding[0])
        return up + out if self.residual else out

    def stage_outputs(self, lr: torch.Tensor, guide: torch.Tensor) -> list:
        """The HR reconstruction the decoder makes from the codes after each stage (interpretability)."""
        us, _, up = self.codes(lr, guide, return_all=True)
        return [(up + self.decoder(u)) if self.residual else self.decoder(u) for u in us]

    def monitor(self) -> dict:
        """Scalars worth following during training: the mean thresholds of both encoders."""
        return {"mu_mean": float(self.encoder.mu.detach().clamp_min(0).mean()),
                "gamma_mean": float(self.guide_encoder.gamma.detach().clamp_min(0).mean())}

    def extra_repr(self) -> str:
        # the luminance default is left out: the signatures of weights saved before colour guides still match
        colour = f", guide_channels={self.guide_channels}" if self.guide_channels != 1 else ""
        return f"scale={self.scale}, residual={self.residual}{colour}"
