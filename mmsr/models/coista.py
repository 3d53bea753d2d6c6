"""CoISTA: the deep coupled ISTA network of Deng & Dragotti (IEEE TIP 2019, "Deep coupled ISTA network for
multi-modal image super-resolution") -- a comparison column of 001's tables and the closest relative of LMCSC.

CoISTA is patch based. Every overlapping ``p x p`` patch (``p = 8``, stride 1 in the authors' code) of the
bicubic-upsampled target ``x_L`` and of the guide ``y`` loses its mean (DC) and is coded on its own:

* per modality, an unfolded ISTA with ``T`` layers and per-layer dictionaries (the authors' code: ``T = 4``):
  ``b_0 = W_e v``, ``b_t = soft(b_{t-1} + P_t (v - D_t b_{t-1}), lambda_t)``;
* the coupling: ``z = soft(W_x b_x + W_y b_y, lambda_r)`` -- the codes of target and guide are mixed by two
  learned transforms into the code of the HR patch;
* the HR patch ``D_z z`` plus the target patch's DC, put back where it came from and averaged over overlaps.

How it differs from LMCSC (chapter 5): CoISTA works on vectorised patches with dense dictionaries and fuses the
two modalities *after* coding each one alone (a learned linear mix of the codes), whereas LMCSC is convolutional
and lets the guide's codes enter every threshold through LeSITA (the l1-l1 prior). In the code below a patch
vector is a pixel's ``p*p*C`` channels (an exact unfold by an identity convolution), so every dictionary is a
1x1 convolution and "overlap and average" is its adjoint divided by the overlap count.

Departures, all ours: random initialisation and end-to-end training instead of the paper's layer-wise
optimisation (LOA) initialisation from K-SVD dictionaries; ``atoms`` (the paper uses larger dictionaries) and
``layers`` set per run mode; ``stride`` > 1 may be used to trade accuracy for speed (1 = the authors').
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_scale
from ..degrade import upsample_bicubic
from ..ops.shrinkage import soft_threshold


def _soft(v: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    return soft_threshold(v, lam.abs())


def _mat(conv: nn.Conv2d) -> torch.Tensor:
    """The ``(out, in)`` matrix of a 1x1 convolution."""
    return conv.weight[:, :, 0, 0]


class PatchCodec(nn.Module):
    """Exact overlapping-patch extraction and overlap-averaging for ``p x p`` patches of ``channels`` channels,
    as convolutions: :meth:`extract` gives ``(N, p*p*C, H', W')`` (one patch per position, border replicated),
    :meth:`combine` is its adjoint divided by how many patches cover each pixel."""

    def __init__(self, patch: int = 8, channels: int = 1, stride: int = 1):
        super().__init__()
        self.patch, self.channels, self.stride = patch, channels, stride
        eye = torch.eye(patch * patch * channels).reshape(patch * patch * channels, channels, patch, patch)
        self.register_buffer("eye", eye)

    def _pad(self):
        lo = (self.patch - 1) // 2
        return lo, self.patch - 1 - lo

    def extract(self, x: torch.Tensor) -> torch.Tensor:
        lo, hi = self._pad()
        return F.conv2d(F.pad(x, (lo, hi, lo, hi), mode="replicate"), self.eye, stride=self.stride)

    def combine(self, patches: torch.Tensor, size) -> torch.Tensor:
        lo, hi = self._pad()
        h, w = size[0] + lo + hi, size[1] + lo + hi
        # fold (col2im) is the adjoint of the identity convolution above, without its multiplications
        total = F.fold(patches.flatten(2), (h, w), self.patch, stride=self.stride)
        out_pad = ((h - self.patch) % self.stride, (w - self.patch) % self.stride)
        ones = patches.new_ones(1, 1, *patches.shape[-2:])
        count = F.conv_transpose2d(ones, patches.new_ones(1, 1, self.patch, self.patch), stride=self.stride,
                                   output_padding=out_pad)
        return (total / count.clamp_min(1e-6))[..., lo:lo + size[0], lo:lo + size[1]]


class UnfoldedISTA(nn.Module):
    """``b_0 = W_e v``, ``b_t = soft(b_{t-1} + P_t (v - D_t b_{t-1}), lambda_t)``, ``t = 1..T`` on patch
    vectors ``v`` of ``dim`` channels (1x1 convolutions: every pixel's patch is coded on its own)."""

    def __init__(self, dim: int, atoms: int, layers: int, lam0: float = 0.01):
        super().__init__()
        self.We = nn.Conv2d(dim, atoms, 1, bias=False)
        self.D = nn.ModuleList(nn.Conv2d(atoms, dim, 1, bias=False) for _ in range(layers))
        self.P = nn.ModuleList(nn.Conv2d(dim, atoms, 1, bias=False) for _ in range(layers))
        self.lam = nn.Parameter(torch.full((layers, 1, atoms, 1, 1), float(lam0)))
        with torch.no_grad():  # an ISTA start: D_t = D, P_t = D^T / L, W_e = D^T / L
            d = F.normalize(torch.randn(dim, atoms), dim=0)
            lip = torch.linalg.matrix_norm(d, ord=2) ** 2
            self.We.weight.copy_((d.T / lip)[..., None, None])
            for dt, pt in zip(self.D, self.P):
                dt.weight.copy_(d[..., None, None])
                pt.weight.copy_((d.T / lip)[..., None, None])

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        b = self.We(v)
        for t, (dt, pt) in enumerate(zip(self.D, self.P)):
            b = _soft(b + pt(v - dt(b)), self.lam[t])
        return b

    def columns(self, v: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` on a ``(dim, n)`` matrix of patch vectors (one column per pixel) -> ``(atoms, n)``."""
        b = _mat(self.We) @ v
        for t, (dt, pt) in enumerate(zip(self.D, self.P)):
            r = torch.addmm(v, _mat(dt), b, alpha=-1)                    # v - D_t b
            b = _soft(torch.addmm(b, _mat(pt), r), self.lam[t].view(-1, 1))
        return b


class CoISTA(nn.Module):
    """Deep coupled ISTA for guided SR at ``scale``: ``forward(lr, guide)`` with ``lr`` ``(N, 1, h, w)`` and
    ``guide`` ``(N, guide_channels, h*s, w*s)``."""

    def __init__(self, scale: int = 2, guide_channels: int = 1, atoms: int = 64, layers: int = 4, patch: int = 8,
                 stride: int = 1):
        super().__init__()
        self.scale = check_scale(scale)
        self.guide_channels = guide_channels
        self.target_patches = PatchCodec(patch, 1, stride)
        self.guide_patches = PatchCodec(patch, guide_channels, stride)
        self.code_x = UnfoldedISTA(patch * patch, atoms, layers)
        self.code_y = UnfoldedISTA(patch * patch * guide_channels, atoms, layers)
        self.Wx = nn.Conv2d(atoms, atoms, 1, bias=False)
        self.Wy = nn.Conv2d(atoms, atoms, 1, bias=False)
        self.lam_r = nn.Parameter(torch.full((1, atoms, 1, 1), 0.001))
        self.Dz = nn.Conv2d(atoms, patch * patch, 1, bias=False)
        with torch.no_grad():  # start near "the target's own code, decoded by its own dictionary"
            nn.init.eye_(self.Wx.weight[..., 0, 0])
            nn.init.normal_(self.Wy.weight, std=1e-3)
            self.Dz.weight.copy_(self.code_x.D[-1].weight)

    def forward(self, lr: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        if lr.dim() != 4 or lr.shape[1] != 1:
            raise ValueError(f"CoISTA expects a (N, 1, h, w) LR image, got shape {tuple(lr.shape)}")
        if guide is None or guide.shape[1] != self.guide_channels:
            raise ValueError(f"CoISTA was built for a guide of {self.guide_channels} channel(s), got "
                             f"{None if guide is None else tuple(guide.shape)}")
        up = upsample_bicubic(lr, self.scale)
        if guide.shape[-2:] != up.shape[-2:]:
            raise ValueError(f"the guide must be {self.scale}x the LR size {tuple(up.shape[-2:])}, "
                             f"got {tuple(guide.shape[-2:])}")
        vx = self.target_patches.extract(up)
        vy = self.guide_patches.extract(guide)
        if torch.is_grad_enabled():
            hr = self._hr_patches(vx, vy)
        else:
            hr = self._hr_patches_in_chunks(vx, vy)
        return self.target_patches.combine(hr, up.shape[-2:])

    def _hr_patches(self, vx: torch.Tensor, vy: torch.Tensor) -> torch.Tensor:
        """Every pixel's HR patch (with the target patch's DC added back) from its target and guide patches."""
        dc = vx.mean(dim=1, keepdim=True)
        vy = vy - vy.mean(dim=1, keepdim=True)
        z = _soft(self.Wx(self.code_x(vx - dc)) + self.Wy(self.code_y(vy)), self.lam_r)
        return self.Dz(z) + dc

    def _hr_patches_in_chunks(self, vx: torch.Tensor, vy: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
        """:meth:`_hr_patches` without autograd, ``chunk`` pixels at a time: every pixel is coded on its own, so
        the result is the same, but a chunk's codes stay in the CPU cache through the whole ISTA (measured: about
        3x faster on a 340x512 image than one pass of full-size maps, whose soft thresholds are memory-bound)."""
        n, c, h, w = vx.shape
        vxf, vyf = vx.reshape(n, c, h * w), vy.reshape(n, vy.shape[1], h * w)
        out = vx.new_empty(n, self.Dz.out_channels, h * w)
        lam_r = self.lam_r.view(-1, 1)
        for i in range(n):
            for a in range(0, h * w, chunk):
                x, y = vxf[i, :, a:a + chunk], vyf[i, :, a:a + chunk]
                dc = x.mean(dim=0, keepdim=True)
                y = y - y.mean(dim=0, keepdim=True)
                z = _soft(_mat(self.Wx) @ self.code_x.columns(x - dc) + _mat(self.Wy) @ self.code_y.columns(y), lam_r)
                out[i, :, a:a + chunk] = torch.addmm(dc, _mat(self.Dz), z)
        return out.view(n, -1, h, w)
