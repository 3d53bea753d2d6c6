"""CSCN: the cascaded sparse-coding network of Wang et al. (ICCV 2015, "Deep networks for image super-resolution
with sparse prior") -- single-image SR by one unfolded LISTA step per x2 stage; a comparison column of Table 1 of
the LMCSC paper (Marivani et al.).

One stage (SCN) works on the bicubic x2 upsampling ``y`` of its input and reads, at every pixel, the 9x9 patch
around it:

* ``H`` -- patch features: a 9x9 convolution to 100 channels (initialised, as in the authors' code, with four
  Haar-like 5x5 gradient filters at each of the 25 positions of a 5x5 window), normalised to unit length per pixel;
* LISTA with one recurrent stage (``k = 1``): ``z0 = h(W f)``, ``z = h(S z0 + W f)`` with ``h`` the soft threshold
  (the paper writes it as a unit-threshold neuron between two learned diagonal scalings; one learned threshold
  per atom is the same function), 128 atoms, initialised as one ISTA step on a random dictionary ``D_y``:
  ``W = D_y^T / L``, ``S = I - D_y^T D_y / L``;
* ``D_x`` -- the HR 5x5 patch (25 values) from the code, normalised and rescaled to the norm of the input's
  mean-removed 5x5 patch times a learned gain (1.1 at the start, the authors' constant);
* ``G`` -- the patch combination: each of the 25 values is placed at its position in the 5x5 window and the
  overlapping patches are summed with 25 learned weights, on top of the local mean of ``y``.

CSCN cascades ``log2(scale)`` such stages (x4: two, x8: three), each with its own weights, and is trained end to
end here. Departures from the paper, all ours: end-to-end training of the whole cascade from the start (the paper
trains stages and then fine-tunes); the local mean is a fixed 5x5 box (the authors' code loads a learned 13x13
filter); replicate padding instead of the authors' symmetric border extension; no multi-scale self-ensemble.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_scale
from ..degrade import upsample_bicubic
from ..ops.shrinkage import soft_threshold

PATCH = 5       # HR patch side (D_x gives 25 values)
FEATURE = 9     # side of the input window read by H


def haar_position_filters() -> torch.Tensor:
    """H's initialisation, ``(100, 1, 9, 9)``: 4 Haar-like 5x5 filters (vertical, horizontal, centre line,
    checker) at each of the 25 positions of a 5x5 window inside the 9x9 support."""
    base = torch.ones(4, 5, 5)
    base[0, :, :3] = -1
    base[1, :3, :] = -1
    base[2, :, 2] = -1
    base[3, :3, 3:] = -1
    base[3, 3:, :3] = -1
    out = torch.zeros(4, 25, 9, 9)
    for k in range(4):
        for p in range(25):
            i, j = divmod(p, 5)
            out[k, p, i:i + 5, j:j + 5] = base[k]
    return out.reshape(100, 1, 9, 9) / 5.0


def placement_kernel() -> torch.Tensor:
    """``(1, 25, 5, 5)``: channel ``p`` of the HR patch map sits at position ``p`` of the 5x5 window. A
    convolution with it sums, at every pixel, the values the 25 overlapping patches predict for that pixel."""
    k = torch.zeros(1, 25, PATCH, PATCH)
    for p in range(25):
        i, j = divmod(p, PATCH)
        k[0, p, PATCH - 1 - i, PATCH - 1 - j] = 1.0   # a convolution reads the patch from the far corner
    return k


class SCNStage(nn.Module):
    """One x2 sparse-coding stage: ``forward(x)`` returns an image of twice ``x``'s size."""

    def __init__(self, features: int = 100, atoms: int = 128, theta0: float = 0.01):
        super().__init__()
        self.H = nn.Conv2d(1, features, FEATURE, bias=False)
        self.W = nn.Conv2d(features, atoms, 1, bias=False)
        self.S = nn.Conv2d(atoms, atoms, 1, bias=False)
        self.Dx = nn.Conv2d(atoms, PATCH * PATCH, 1, bias=False)
        self.theta = nn.Parameter(torch.full((1, atoms, 1, 1), float(theta0)))
        self.gain = nn.Parameter(torch.tensor(1.1))
        self.g = nn.Parameter(torch.full((PATCH * PATCH,), 1.0 / (PATCH * PATCH)))
        with torch.no_grad():
            if features == 100:
                self.H.weight.copy_(haar_position_filters())
            else:
                nn.init.normal_(self.H.weight, std=1.0 / FEATURE)
            # ISTA on a random LR dictionary D_y (unit atoms) gives the starting point: W = D_y^T / L,
            # S = I - D_y^T D_y / L with L the largest eigenvalue of D_y^T D_y
            dy = F.normalize(torch.randn(features, atoms), dim=0)
            lip = torch.linalg.matrix_norm(dy, ord=2) ** 2
            self.W.weight.copy_((dy.T / lip).reshape(atoms, features, 1, 1))
            self.S.weight.copy_((torch.eye(atoms) - dy.T @ dy / lip).reshape(atoms, atoms, 1, 1))
            nn.init.normal_(self.Dx.weight, std=1.0 / math.sqrt(atoms))
        self.register_buffer("place", placement_kernel())
        self.register_buffer("box", torch.full((1, 1, PATCH, PATCH), 1.0 / (PATCH * PATCH)))

    def _features(self, y: torch.Tensor) -> torch.Tensor:
        """H's feature maps of the upsampled image (not yet normalised)."""
        return self.H(F.pad(y, (FEATURE // 2,) * 4, mode="replicate"))

    def _codes(self, f: torch.Tensor, W, S, theta, dim: int) -> torch.Tensor:
        """Normalise the features along ``dim`` and take one LISTA step after the initial threshold. ``W, S``
        apply the matrices: 1x1 convolutions on maps (``dim = 1``) or matrix products on ``(features, n)``
        pixel columns (``dim = 0``)."""
        wf = W(f / (f.norm(dim=dim, keepdim=True) + 1e-6))
        z = soft_threshold(wf, theta)
        return soft_threshold(S(z) + wf, theta)

    def codes(self, y: torch.Tensor) -> torch.Tensor:
        """The sparse codes ``z`` of the upsampled image ``y``, ``(N, atoms, H, W)``."""
        return self._codes(self._features(y), self.W, self.S, self.theta.abs(), dim=1)

    def _shape(self, patch: torch.Tensor, target_norm: torch.Tensor, g: torch.Tensor, dim: int) -> torch.Tensor:
        """Give every HR patch the norm of the input's patch, times the learned gain and per-position weights."""
        return patch / (patch.norm(dim=dim, keepdim=True) + 1e-6) * target_norm * self.gain * g

    def _patches_in_chunks(self, f: torch.Tensor, target_norm: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
        """The HR patch map without autograd, ``chunk`` pixels at a time. Every pixel is coded on its own, so
        the values are those of the full-map path, but a chunk's codes stay in the CPU cache (the thresholds
        and norms over full-size maps are memory-bound)."""
        n, c, h, w = f.shape
        ff, tn = f.reshape(n, c, h * w), target_norm.reshape(n, 1, h * w)
        W, S, Dx = (m.weight[:, :, 0, 0] for m in (self.W, self.S, self.Dx))
        theta, g = self.theta.abs().view(-1, 1), self.g.view(-1, 1)
        out = f.new_empty(n, Dx.shape[0], h * w)
        for i in range(n):
            for a in range(0, h * w, chunk):
                z = self._codes(ff[i, :, a:a + chunk], lambda v: W @ v, lambda v: S @ v, theta, dim=0)
                out[i, :, a:a + chunk] = self._shape(Dx @ z, tn[i, :, a:a + chunk], g, dim=0)
        return out.view(n, -1, h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = upsample_bicubic(x, 2)
        pad = (PATCH // 2,) * 4
        mean = F.conv2d(F.pad(y, pad, mode="replicate"), self.box)
        # the norm of the input's mean-removed 5x5 patch around each pixel (the authors' "diffms")
        sq = F.conv2d(F.pad(y * y, pad, mode="replicate"), self.box) - mean ** 2
        target_norm = torch.sqrt(sq.clamp_min(0) * PATCH * PATCH + 1e-12)
        f = self._features(y)
        if torch.is_grad_enabled():                                    # (N, 25, H, W): HR 5x5 patch per pixel
            z = self._codes(f, self.W, self.S, self.theta.abs(), dim=1)
            patch = self._shape(self.Dx(z), target_norm, self.g.view(1, -1, 1, 1), dim=1)
        else:
            patch = self._patches_in_chunks(f, target_norm)
        combined = F.conv2d(F.pad(patch, pad, mode="replicate"), self.place)
        return mean + combined


class CSCN(nn.Module):
    """Cascaded SCN for scale ``2**k``: ``k`` x2 stages. Single image: ``forward(lr, guide=None)`` ignores the
    guide. ``atoms``/``features``: the paper's 128 / 100 by default."""

    def __init__(self, scale: int = 2, atoms: int = 128, features: int = 100):
        super().__init__()
        self.scale = check_scale(scale)
        k = int(round(math.log2(self.scale)))
        if 2 ** k != self.scale:
            raise ValueError(f"CSCN cascades x2 stages: the scale must be a power of 2 (2, 4, 8), got {scale}")
        self.stages = nn.ModuleList(SCNStage(features, atoms) for _ in range(k))

    def forward(self, lr: torch.Tensor, guide: torch.Tensor | None = None) -> torch.Tensor:
        if lr.dim() != 4 or lr.shape[1] != 1:
            raise ValueError(f"CSCN expects a (N, 1, h, w) LR image, got shape {tuple(lr.shape)}")
        x = lr
        for stage in self.stages:
            x = stage(x)
        return x
