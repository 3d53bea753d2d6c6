"""Guide detail transfer: bicubic upsampling plus a per-pixel linear map of the detail the guide loses under the
same degradation -- a closed-form probe of what a guided model must learn, not one of the papers' methods.

For a target ``x`` observed as ``y = D x`` (chapter 1: MATLAB-bicubic downscaling by ``s``) and a guide ``g`` of
``C`` channels, let ``U`` be bicubic upsampling. The target's missing detail is ``x - U y``; the guide's detail
lost to the same degradation is ``d = g - U D g`` (one map per channel). Two estimates:

* ``colour=False``: ``x_hat = U y + sum_c a_c d_c`` -- one coefficient per guide channel, the same everywhere
  (a guide whose detail is a fixed mix of the target's);
* ``colour=True``: ``x_hat = U y + sum_c (a_c + sum_k b_ck u_k) d_c`` with ``u = U D g`` the guide's low-pass
  colour: how much of each channel's detail reaches the target depends on the local colour -- products of colour
  and detail, which a map linear in the guide's values cannot form.

:meth:`GuideDetailTransfer.fit` sets the coefficients by least squares over every pixel of training pairs (float64,
closed form; ``C`` or ``C + C*C`` numbers). Chapter 7 uses it on CAVE (640 nm band, RGB guide) to ask what the
local colour is worth there.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..checks import check_scale
from ..degrade import degrade, upsample_bicubic


class GuideDetailTransfer(nn.Module):
    """``forward(lr, guide)``: bicubic ``lr`` plus the fitted map of the guide's lost detail (module docstring).
    ``coef``: ``C`` coefficients (``colour=False``) or ``C + C*C`` (``colour=True``: the ``a_c``, then ``b_ck``
    row by row); zeros (plain bicubic) until :meth:`fit`."""

    def __init__(self, scale: int, guide_channels: int = 3, colour: bool = True):
        super().__init__()
        self.scale, self.guide_channels, self.colour = check_scale(scale), int(guide_channels), bool(colour)
        n = self.guide_channels * (1 + self.guide_channels * self.colour)
        self.register_buffer("coef", torch.zeros(n, dtype=torch.float64))

    def features(self, guide: torch.Tensor) -> torch.Tensor:
        """``(N, K, H, W)``: the guide's lost detail per channel, then (``colour``) its products with the guide's
        low-pass channels -- the columns of the least-squares problem."""
        if guide.dim() != 4 or guide.shape[1] != self.guide_channels:
            raise ValueError(f"GuideDetailTransfer was built for a (N, {self.guide_channels}, H, W) guide, got "
                             f"{tuple(guide.shape)}")
        low = upsample_bicubic(degrade(guide, self.scale), self.scale)
        d = guide - low
        cols = [d[:, c] for c in range(self.guide_channels)]
        if self.colour:
            cols += [d[:, c] * low[:, k] for c in range(self.guide_channels) for k in range(self.guide_channels)]
        return torch.stack(cols, dim=1)

    def forward(self, lr: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        up = upsample_bicubic(lr, self.scale)
        if guide is None or guide.shape[-2:] != up.shape[-2:]:
            raise ValueError(f"the guide must be {self.scale}x the LR size {tuple(up.shape[-2:])}, got "
                             f"{None if guide is None else tuple(guide.shape[-2:])}")
        f = self.features(guide).to(torch.float64)
        return (up.to(torch.float64) + torch.einsum("k,nkhw->nhw", self.coef, f)[:, None]).to(up.dtype)

    @torch.no_grad()
    def fit(self, examples: Sequence[tuple]) -> "GuideDetailTransfer":
        """Least squares over every pixel of ``examples``: ``(lr, guide, hr)`` tensors as
        :func:`mmsr.evaluate.prepare_inputs` gives them, with ``hr`` on the ``[0, 1]`` scale of ``lr``
        (``(1, 1, H, W)`` or ``(H, W)``). Returns ``self``."""
        if not examples:
            raise ValueError("fit needs at least one (lr, guide, hr) training example")
        n = self.coef.numel()
        gram, rhs = torch.zeros(n, n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64)
        for lr, guide, hr in examples:
            hr = torch.as_tensor(hr, dtype=torch.float64)
            up = upsample_bicubic(lr, self.scale).to(torch.float64)
            if hr.numel() != up.numel():
                raise ValueError(f"hr has {tuple(hr.shape)} but the LR image upsampled gives {tuple(up.shape)}")
            a = self.features(guide).to(torch.float64).permute(1, 0, 2, 3).reshape(n, -1)
            gram += a @ a.T
            rhs += a @ (hr.reshape(-1) - up.reshape(-1))
        self.coef.copy_(torch.linalg.lstsq(gram, rhs[:, None]).solution[:, 0])
        return self
