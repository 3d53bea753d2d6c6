"""The guided filter (He, Sun & Tang, ECCV 2010 / TPAMI 2013) as a classical guided-upsampling baseline.

Within each ``(2r+1)x(2r+1)`` window ``w_k`` the output is a linear function of the guide,
``q_i = a_k^T I_i + b_k`` (eq. 1 of He et al.), with ``a_k = (Sigma_k + eps U)^{-1} cov_k(I, p)`` and
``b_k = mean_k(p) - a_k^T mean_k(I)`` (eqs. 5-6 and 14), and the coefficients are averaged over the windows that
cover each pixel (eq. 8). For guided super-resolution ``p`` is the bicubic-upsampled LR target and ``I`` the
HR guide (grey or RGB); with a small ``eps`` the output inherits the guide's edges wherever target and guide
are locally linearly related. Windows are clipped at the borders (averages over the pixels inside).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_scale
from ..degrade import upsample_bicubic


def box_filter(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over the ``(2r+1)^2`` window around each pixel of ``(N, C, H, W)`` (windows clipped at borders)."""
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    if radius == 0:
        return x
    k = 2 * radius + 1
    return F.avg_pool2d(x, k, stride=1, padding=radius, count_include_pad=False) if radius <= x.shape[-1] // 2 and \
        radius <= x.shape[-2] // 2 else _box_cumsum(x, radius)


def _box_cumsum(x, r):
    def along(t, dim):
        n = t.shape[dim]
        c = torch.cumsum(t, dim)
        c = torch.cat([torch.zeros_like(c.narrow(dim, 0, 1)), c], dim)
        idx = torch.arange(n, device=t.device)
        hi = (idx + r + 1).clamp(max=n)
        lo = (idx - r).clamp(min=0)
        cnt = (hi - lo).to(t.dtype)
        shape = [1] * t.ndim
        shape[dim] = n
        return (c.index_select(dim, hi) - c.index_select(dim, lo)) / cnt.view(shape)

    return along(along(x, -1), -2)


def guided_filter(p: torch.Tensor, guide: torch.Tensor, radius: int, eps: float) -> torch.Tensor:
    """Filter ``p (N,1,H,W)`` guided by ``guide (N,1|3,H,W)``; eps regularises ``a`` (larger = smoother)."""
    if p.shape[-2:] != guide.shape[-2:] or p.shape[0] != guide.shape[0]:
        raise ValueError(f"guide shape {tuple(guide.shape)} does not match input shape {tuple(p.shape)}")
    if eps <= 0:
        raise ValueError(f"eps must be positive, got {eps}")
    mean_p = box_filter(p, radius)
    mean_i = box_filter(guide, radius)
    if guide.shape[1] == 1:
        var_i = box_filter(guide * guide, radius) - mean_i**2
        cov = box_filter(guide * p, radius) - mean_i * mean_p
        a = cov / (var_i + eps)
        b = mean_p - a * mean_i
        return box_filter(a, radius) * guide + box_filter(b, radius)
    # colour guide: a 3x3 system per pixel (He et al., eq. 14)
    c = guide.shape[1]
    cov_ip = box_filter(guide * p, radius) - mean_i * mean_p  # (N,C,H,W)
    prod = guide[:, :, None] * guide[:, None, :]  # (N,C,C,H,W)
    n, _, h, w = guide.shape
    sigma = box_filter(prod.reshape(n, c * c, h, w), radius).reshape(n, c, c, h, w)
    sigma = sigma - mean_i[:, :, None] * mean_i[:, None, :]
    eye = torch.eye(c, dtype=p.dtype, device=p.device)[None, :, :, None, None]
    sys_m = (sigma + eps * eye).permute(0, 3, 4, 1, 2)  # (N,H,W,C,C)
    a = torch.linalg.solve(sys_m, cov_ip.permute(0, 2, 3, 1)[..., None])[..., 0].permute(0, 3, 1, 2)
    b = mean_p - (a * mean_i).sum(1, keepdim=True)
    return (box_filter(a, radius) * guide).sum(1, keepdim=True) + box_filter(b, radius)


class GuidedFilterUpsampler(nn.Module):
    """Bicubic upsampling followed by the guided filter: no learned parameters, two fixed hyper-parameters."""

    def __init__(self, scale: int = 2, radius: int = 4, eps: float = 1e-4):
        super().__init__()
        self.scale = check_scale(scale)
        self.radius = int(radius)
        self.eps = float(eps)

    def forward(self, lr: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        up = upsample_bicubic(lr, self.scale)
        return guided_filter(up, guide.to(up.dtype), self.radius, self.eps)

    def extra_repr(self) -> str:
        return f"scale={self.scale}, radius={self.radius}, eps={self.eps}"
