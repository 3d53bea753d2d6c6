"""Global cross-modal registration: a robust starting point for the learned deformation of a guide.

A deformation trained by gradient descent from the identity only sees the guide through small patches and a
local image gradient; a rig misaligned by tens of pixels puts the right guide content outside that reach and
the network learns to ignore the guide. So before the learned layers we estimate a global similarity
transform (shift, rotation, scale) by exhaustive search, in the spirit of classical multimodal registration:

1. both images are reduced to *edge maps* -- the gradient magnitude of a Gaussian-smoothed image, normalised
   by its local mean (so that a strong edge in one modality does not dominate): the one structure NIR, depth,
   thermal and RGB share is where their edges are, not their intensities or contrast polarity;
2. for each rotation and scale of a small grid, the guide's edge map is resampled and the translation is
   found by FFT cross-correlation with the target's edge map, normalised by the overlap (a masked normalised
   cross-correlation, so partial overlaps do not win by size);
3. the best (rotation, scale, shift) is returned as an affine map from target coordinates to guide
   coordinates, in the normalised convention of :mod:`mmsr.ops.warps`.

The search runs on the LR grid (the guide is downscaled to the target's size), where one-pixel accuracy is a
sub-pixel error at HR; the learned affine layer refines it. The tolerated range is measured in the CMSR
chapter.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .degrade import gaussian_blur
from .ops.warps import identity_grid, warp_image


@dataclass
class Registration:
    """A similarity transform ``guide(p) <- target(p)``: ``theta`` (2x3, normalised coordinates) and its parts."""

    theta: torch.Tensor
    shift_px: tuple  # (dx, dy) in pixels of the LR target grid
    rotation_deg: float
    scale: float
    score: float


def edge_map(image: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """Normalised gradient magnitude of ``image`` ``(1, C, H, W)`` (channels averaged first): ``(1, 1, H, W)``."""
    x = image.float().mean(dim=1, keepdim=True)
    if sigma > 0:
        x = gaussian_blur(x, sigma)
    gx = F.pad(x[..., :, 1:] - x[..., :, :-1], (0, 1, 0, 0))
    gy = F.pad(x[..., 1:, :] - x[..., :-1, :], (0, 0, 0, 1))
    mag = torch.sqrt(gx**2 + gy**2 + 1e-12)
    local = gaussian_blur(mag, 8.0) + mag.mean() * 0.1
    return mag / local


def similarity_theta(rotation_deg: float = 0.0, scale: float = 1.0, shift_px=(0.0, 0.0), size=(1, 1)) -> torch.Tensor:
    """Normalised ``2x3`` matrix of ``p_guide = s R (p - c) + c + t``, with ``t`` in pixels of a grid of ``size``."""
    height, width = int(size[0]), int(size[1])
    a = math.radians(rotation_deg)
    R = torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], dtype=torch.float64) * scale
    # pixel -> normalised: p_n = D p_px + e with D = diag(2/W, 2/H) and the centre at 0
    D = torch.diag(torch.tensor([2.0 / width, 2.0 / height], dtype=torch.float64))
    A = D @ R @ torch.linalg.inv(D)
    t = D @ torch.tensor([float(shift_px[0]), float(shift_px[1])], dtype=torch.float64)
    return torch.cat((A, t[:, None]), dim=1).float()


def _masked_ncc(fixed: torch.Tensor, moving: torch.Tensor, mask: torch.Tensor, max_shift: Sequence[int]):
    """Normalised cross-correlation of ``fixed`` with ``moving`` shifted by every ``(dy, dx)`` in range."""
    H, W = fixed.shape
    ph, pw = 2 * H, 2 * W
    Ff = torch.fft.rfft2(fixed, s=(ph, pw))
    Ff2 = torch.fft.rfft2(fixed**2, s=(ph, pw))
    Fones = torch.fft.rfft2(torch.ones_like(fixed), s=(ph, pw))
    Fm = torch.fft.rfft2(moving * mask, s=(ph, pw))
    Fm2 = torch.fft.rfft2(moving**2 * mask, s=(ph, pw))
    Fmask = torch.fft.rfft2(mask, s=(ph, pw))

    def corr(a, b):  # sum_x a(x) b(x + d), for every d (circular on the padded grid)
        return torch.fft.irfft2(torch.conj(a) * b, s=(ph, pw))

    n = corr(Fones, Fmask).clamp_min(1.0)
    sf, sf2 = corr(Ff, Fmask), corr(Ff2, Fmask)  # sums of the fixed image over the overlap
    sm, sm2 = corr(Fones, Fm), corr(Fones, Fm2)
    sfm = corr(Ff, Fm)
    # note: corr(A, B)(d) = sum_x A(x) B(x + d): the moving image sampled at x + d against fixed at x
    cov = sfm - sf * sm / n
    var_f = (sf2 - sf**2 / n).clamp_min(1e-9)
    var_m = (sm2 - sm**2 / n).clamp_min(1e-9)
    ncc = cov / torch.sqrt(var_f * var_m)
    # keep only shifts within range and with at least half of the frame overlapping
    dy = torch.arange(ph)
    dy = torch.where(dy >= H, dy - ph, dy)
    dx = torch.arange(pw)
    dx = torch.where(dx >= W, dx - pw, dx)
    valid = (dy.abs()[:, None] <= max_shift[0]) & (dx.abs()[None] <= max_shift[1]) & (n >= 0.5 * H * W)
    ncc = torch.where(valid, ncc, torch.full_like(ncc, -2.0))
    idx = int(torch.argmax(ncc))
    iy, ix = divmod(idx, pw)

    def vertex(m, c, p):  # sub-pixel peak of the parabola through three samples
        den = m - 2 * c + p
        return 0.0 if den >= 0 else float(0.5 * (m - p) / den)

    ox = vertex(ncc[iy, (ix - 1) % pw], ncc[iy, ix], ncc[iy, (ix + 1) % pw])
    oy = vertex(ncc[(iy - 1) % ph, ix], ncc[iy, ix], ncc[(iy + 1) % ph, ix])
    return float(ncc[iy, ix]), (float(dx[ix]) + ox, float(dy[iy]) + oy)


@torch.no_grad()
def register_global(target_lr: torch.Tensor, guide: torch.Tensor, *, rotations: Sequence[float] = tuple(range(-10, 11, 2)),
                    scales: Sequence[float] = (0.92, 0.96, 1.0, 1.04, 1.08), max_shift: float = 0.2,
                    sigma: float = 1.0) -> Registration:
    """Estimate the similarity that maps the target's grid onto the guide (see the module text).

    ``target_lr``: ``(1, 1, h, w)``; ``guide``: ``(1, C, H, W)`` covering the same scene at any resolution;
    ``max_shift``: the largest shift searched, as a fraction of the image size.
    """
    if target_lr.dim() != 4 or guide.dim() != 4 or target_lr.shape[0] != 1 or guide.shape[0] != 1:
        raise ValueError(f"expected (1, C, h, w) tensors, got {tuple(target_lr.shape)} and {tuple(guide.shape)}")
    # a search over a few hundred small warps, in float64: on the CPU whatever device the images are on (the
    # returned theta is a CPU tensor; callers move it)
    target_lr, guide = target_lr.detach().cpu(), guide.detach().cpu()
    h, w = target_lr.shape[-2:]
    small = F.interpolate(guide.float().mean(1, keepdim=True), size=(h, w), mode="area")
    fixed = edge_map(target_lr, sigma)[0, 0].double()
    fixed = (fixed - fixed.mean()) / fixed.std().clamp_min(1e-9)
    grid = identity_grid(h, w)[None]
    shift_lim = (int(max_shift * h), int(max_shift * w))

    def search(candidates):
        best = None
        for s, r in candidates:
            theta = similarity_theta(r, s, (0, 0), (h, w))
            pts = grid @ theta[:, :2].T + theta[:, 2]
            moving = edge_map(warp_image(small, pts), sigma)[0, 0].double()
            inside = (pts.abs() <= 1).all(-1)[0].double()  # pixels that came from inside the guide frame
            score, (dx, dy) = _masked_ncc(fixed, moving, inside, shift_lim)
            if best is None or score > best[0]:
                best = (score, r, s, dx, dy)
        return best

    _, r0, s0, _, _ = search([(s, r) for s in scales for r in rotations])
    # refine rotation and scale on a grid four times finer around the coarse optimum
    dr = (rotations[1] - rotations[0]) / 4 if len(rotations) > 1 else 0.0
    ds = (scales[1] - scales[0]) / 4 if len(scales) > 1 else 0.0
    score, r, s, dx, dy = search([(s0 + i * ds, r0 + j * dr) for i in range(-2, 3) for j in range(-2, 3)
                                  if (i == 0 or ds) and (j == 0 or dr)])
    # the best match: target(p) ~ moving(p + d) = guide(sR(p + d - c) + c)
    a = math.radians(r)
    Rs = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]]) * s
    t = Rs @ np.array([dx, dy], dtype=np.float64)
    theta = similarity_theta(r, s, (t[0], t[1]), (h, w))
    return Registration(theta, (float(t[0]), float(t[1])), float(r), float(s), score)


def registration_error_px(theta_est: torch.Tensor, theta_true: torch.Tensor, size) -> float:
    """Mean distance in pixels (of ``size``) between where two affines send the pixel centres."""
    h, w = int(size[0]), int(size[1])
    grid = identity_grid(h, w).reshape(-1, 2).double()
    a = grid @ theta_est.double()[:, :2].T + theta_est.double()[:, 2]
    b = grid @ theta_true.double()[:, :2].T + theta_true.double()[:, 2]
    d = (a - b) * torch.tensor([w / 2.0, h / 2.0], dtype=torch.float64)
    return float(d.norm(dim=1).mean())
