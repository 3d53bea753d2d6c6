"""The guided filter (He, Sun & Tang, ECCV 2010 / TPAMI 2013) as a classical guided-upsampling baseline.

Within each ``(2r+1)x(2r+1)`` window ``w_k`` the output is a linear function of the guide,
``q_i = a_k^T I_i + b_k`` (eq. 1 of He et al.), with ``a_k = (Sigma_k + eps U)^{-1} cov_k(I, p)`` and
``b_k = mean_k(p) - a_k^T mean_k(I)`` (eqs. 5-6 and 14), and the coefficients are averaged over the windows that
cover each pixel (eq. 8). For guided super-resolution ``p`` is the bicubic-upsampled LR target and ``I`` the
HR guide (grey or RGB); with a small ``eps`` the output inherits the guide's edges wherever target and guide
are locally linearly related. Windows are clipped at the borders (averages over the pixels inside).

For *upsampling* He et al. also fit the coefficients at low resolution and upsample them (the joint
upsampling use of the filter; Wu et al.'s fast guided filter): :func:`guided_upsample`. On the NIR images this
is by far the stronger of the two (chapter 1 measures both).
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
    if 2 * radius <= min(x.shape[-2:]):  # avg_pool2d allows padding up to half the window only
        return F.avg_pool2d(x, 2 * radius + 1, stride=1, padding=radius, count_include_pad=False)
    return _box_cumsum(x, radius)


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


def guided_filter_coefficients(p: torch.Tensor, guide: torch.Tensor, radius: int, eps: float):
    """The window-averaged linear coefficients ``(a, b)`` of He et al. (eqs. 5-6, 14 and 8) for input
    ``p (N,1,H,W)`` and guide ``(N,1|3,H,W)``: the filter output is ``sum_c a_c I_c + b``."""
    if p.shape[-2:] != guide.shape[-2:] or p.shape[0] != guide.shape[0]:
        raise ValueError(f"guide shape {tuple(guide.shape)} does not match input shape {tuple(p.shape)}")
    if eps <= 0:
        raise ValueError(f"eps must be positive, got {eps}")
    mean_p = box_filter(p, radius)
    mean_i = box_filter(guide, radius)
    cov_ip = box_filter(guide * p, radius) - mean_i * mean_p  # (N,C,H,W)
    c = guide.shape[1]
    if c == 1:
        var_i = box_filter(guide * guide, radius) - mean_i**2
        a = cov_ip / (var_i + eps)
    else:  # colour guide: a C x C system per pixel (He et al., eq. 14)
        n, _, h, w = guide.shape
        prod = guide[:, :, None] * guide[:, None, :]
        sigma = box_filter(prod.reshape(n, c * c, h, w), radius).reshape(n, c, c, h, w)
        sigma = sigma - mean_i[:, :, None] * mean_i[:, None, :]
        eye = torch.eye(c, dtype=p.dtype, device=p.device)[None, :, :, None, None]
        sys_m = (sigma + eps * eye).permute(0, 3, 4, 1, 2)
        a = torch.linalg.solve(sys_m, cov_ip.permute(0, 2, 3, 1)[..., None])[..., 0].permute(0, 3, 1, 2)
    b = mean_p - (a * mean_i).sum(1, keepdim=True)
    return box_filter(a, radius), box_filter(b, radius)


def guided_filter(p: torch.Tensor, guide: torch.Tensor, radius: int, eps: float) -> torch.Tensor:
    """Filter ``p (N,1,H,W)`` guided by ``guide (N,1|3,H,W)``; eps regularises ``a`` (larger = smoother)."""
    a, b = guided_filter_coefficients(p, guide, radius, eps)
    return (a * guide).sum(1, keepdim=True) + b


def guided_upsample(lr: torch.Tensor, guide: torch.Tensor, scale: int, radius: int, eps: float) -> torch.Tensor:
    """Joint upsampling with the guided filter (He et al.'s joint upsampling; the fast guided filter of Wu et al.):
    fit the coefficients between the LR target and the guide *degraded to the LR grid* (same MATLAB bicubic
    rule), upsample ``a`` and ``b`` bicubically, and apply them to the HR guide: ``q = A I_HR + B``. The HR
    guide's detail enters through ``A``; nothing is learned."""
    from ..degrade import imresize

    guide_lr = imresize(guide, output_shape=lr.shape[-2:])
    a, b = guided_filter_coefficients(lr, guide_lr.to(lr.dtype), radius, eps)
    a_hr, b_hr = upsample_bicubic(a, scale), upsample_bicubic(b, scale)
    return (a_hr * guide.to(lr.dtype)).sum(1, keepdim=True) + b_hr


class GuidedFilterUpsampler(nn.Module):
    """A classical guided-upsampling baseline with two fixed hyper-parameters and nothing learned.

    ``variant="joint"``: :func:`guided_upsample` (coefficients fitted on the LR grid, applied to the HR guide);
    ``variant="hr"``: bicubic upsampling followed by :func:`guided_filter` on the HR grid.
    """

    def __init__(self, scale: int = 2, radius: int = 1, eps: float = 1e-4, variant: str = "joint"):
        super().__init__()
        if variant not in ("joint", "hr"):
            raise ValueError(f"unknown guided filter variant {variant!r}; expected 'joint' or 'hr'")
        self.scale = check_scale(scale)
        self.radius = int(radius)
        self.eps = float(eps)
        self.variant = variant

    def forward(self, lr: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        if self.variant == "joint":
            return guided_upsample(lr, guide, self.scale, self.radius, self.eps)
        up = upsample_bicubic(lr, self.scale)
        return guided_filter(up, guide.to(up.dtype), self.radius, self.eps)

    def extra_repr(self) -> str:
        return f"scale={self.scale}, radius={self.radius}, eps={self.eps}, variant={self.variant}"
