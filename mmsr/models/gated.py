"""A guided model that falls back on a single-image model where the guide disagrees with the target.

A guided network trained on urban pairs has learned that an edge in the guide is an edge in the target, with the
same sign. On landscapes that is false -- vegetation is bright in NIR and dark in RGB -- and the network paints the
guide's structure, inverted or invented, into its output (chapter 5: below SRCNN on the held-out landscapes).

Whether the guide can be trusted is visible *before* super-resolving: on the LR grid both the target and the guide
(brought to that grid) are known, and their local correlation says whether they share structure with the sign the
network expects. :class:`GuideGatedSR` blends the two estimates pixel by pixel,

    y = w * guided(lr, guide) + (1 - w) * single(lr),   w = max(r, 0) ** p  (or |r| ** p, ``signed=False``),

with ``r`` the correlation of LR target and LR guide luminance in a ``window x window`` box, upsampled bilinearly
to the HR grid. Nothing is trained: ``window``, ``p`` and ``signed`` are chosen on the validation images
(:func:`mmsr.guidance_check.select_gate`). This is our construction, not one of the papers'.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..degrade import imresize
from ..checks import check_scale
from .guided_filter import box_filter

#: BT.601 luminance weights (as :func:`mmsr.data.io.to_gray`)
LUMA = (0.299, 0.587, 0.114)
#: added to the product of the two local variances: windows with almost no contrast in either image count as
#: disagreeing (there the two estimates hardly differ anyway)
EPS = 1e-8


def luminance(guide: torch.Tensor) -> torch.Tensor:
    """``(N, 1, H, W)`` luminance of a ``(N, 3, H, W)`` RGB guide; a one-channel guide is returned as it is."""
    if guide.shape[1] == 1:
        return guide
    if guide.shape[1] != 3:
        raise ValueError(f"guide: expected 1 or 3 channels, got {guide.shape[1]}")
    w = guide.new_tensor(LUMA).view(1, 3, 1, 1)
    return (guide * w).sum(1, keepdim=True)


def guide_agreement(lr: torch.Tensor, guide: torch.Tensor, scale: int, window: int = 5) -> torch.Tensor:
    """Local correlation in [-1, 1] on the LR grid, ``(N, 1, h, w)``, between the LR target and the guide's
    luminance brought to the LR grid by MATLAB-style bicubic downscaling (the degradation of chapter 1)."""
    scale = check_scale(scale)
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window must be an odd positive number of pixels, got {window}")
    if lr.dim() != 4 or lr.shape[1] != 1:
        raise ValueError(f"lr: expected shape (N, 1, h, w), got {tuple(lr.shape)}")
    if guide.dim() != 4 or tuple(guide.shape[-2:]) != (lr.shape[-2] * scale, lr.shape[-1] * scale):
        raise ValueError(f"guide: expected (N, C, {lr.shape[-2] * scale}, {lr.shape[-1] * scale}) for lr "
                         f"{tuple(lr.shape)} at x{scale}, got {tuple(guide.shape)}")
    g = imresize(luminance(guide), 1 / scale)
    r = window // 2
    mx, my = box_filter(lr, r), box_filter(g, r)
    cxy = box_filter(lr * g, r) - mx * my
    vx = (box_filter(lr * lr, r) - mx * mx).clamp_min(0)
    vy = (box_filter(g * g, r) - my * my).clamp_min(0)
    return (cxy / torch.sqrt(vx * vy + EPS)).clamp(-1, 1)


def back_projection_error(lr: torch.Tensor, estimate: torch.Tensor, scale: int, window: int = 5) -> torch.Tensor:
    """How far an HR ``estimate`` departs from the LR target once brought back to the LR grid by the degradation
    of chapter 1 (MATLAB-style bicubic downscaling): the root mean square of ``imresize(estimate, 1/scale) - lr``
    in a ``window x window`` box, ``(N, 1, h, w)``. An estimate that paints structure the target does not have
    (a guide trusted where it should not be) cannot always be seen here -- detail finer than the LR grid is
    invisible after downscaling -- but errors of level and of coarse structure are."""
    scale = check_scale(scale)
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window must be an odd positive number of pixels, got {window}")
    want = (lr.shape[-2] * scale, lr.shape[-1] * scale)
    if lr.dim() != 4 or lr.shape[1] != 1 or estimate.dim() != 4 or tuple(estimate.shape[-2:]) != want:
        raise ValueError(f"expected lr (N, 1, h, w) and an estimate (N, 1, {want[0]}, {want[1]}) at x{scale}, got "
                         f"{tuple(lr.shape)} and {tuple(estimate.shape)}")
    d = imresize(estimate, 1 / scale) - lr
    return box_filter(d * d, window // 2).clamp_min(0).sqrt()


def trust_map(agreement: torch.Tensor, scale: int, power: float = 2.0, signed: bool = True) -> torch.Tensor:
    """The weight of the guided estimate on the HR grid, in [0, 1]: ``max(r, 0) ** power`` (``signed``: a guide
    whose structure has the opposite sign is not trusted) or ``|r| ** power``, upsampled bilinearly."""
    if not power > 0:
        raise ValueError(f"power must be positive, got {power}")
    w = (agreement.clamp_min(0) if signed else agreement.abs()) ** power
    return F.interpolate(w, scale_factor=check_scale(scale), mode="bilinear", align_corners=False).clamp(0, 1)


class GuideGatedSR(nn.Module):
    """``guided`` where the guide agrees with the LR target, ``single`` where it does not (module docstring).

    Both models take ``(lr, guide)``; ``single`` ignores the guide. The agreement uses the guide's luminance."""

    def __init__(self, guided: nn.Module, single: nn.Module, scale: int, window: int = 5, power: float = 2.0,
                 signed: bool = True):
        super().__init__()
        self.guided, self.single = guided, single
        self.scale = check_scale(scale)
        if window < 1 or window % 2 == 0:
            raise ValueError(f"window must be an odd positive number of pixels, got {window}")
        if not power > 0:
            raise ValueError(f"power must be positive, got {power}")
        self.window, self.power, self.signed = int(window), float(power), bool(signed)

    def extra_repr(self) -> str:
        return f"scale={self.scale}, window={self.window}, power={self.power}, signed={self.signed}"

    def trust(self, lr: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        """The HR weight of the guided estimate, ``(N, 1, H, W)`` in [0, 1]."""
        return trust_map(guide_agreement(lr, guide, self.scale, self.window), self.scale, self.power, self.signed)

    def forward(self, lr: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        w = self.trust(lr, guide)
        return w * self.guided(lr, guide) + (1 - w) * self.single(lr, guide)


class GateHead(nn.Module):
    """A learned version of the gate (our construction): a small CNN that predicts the weight of the guided
    estimate pixel by pixel from what is known at inference,

        features = [single, guided, guided - single, guide luminance, r_5, r_15]   (HR grid),
                   + [log10(e_guided + 1e-3), log10(e_single + 1e-3)]             (``consistency=True``)
        w = sigmoid(cnn(features)),   y = w * guided + (1 - w) * single,

    with ``r_k`` the LR correlation of target and guide in a ``k x k`` window (:func:`guide_agreement`) upsampled
    bilinearly, and ``e`` the :func:`back_projection_error` of each estimate in a 5 x 5 LR window (upsampled
    bilinearly; the logarithm brings errors of 0.001-0.1 to a range the other features have). Three 3x3
    convolutions with dilations 1, 2, 4 see 15 HR pixels either side; the rest of the context comes from ``r_15``.
    Only this head is trained (:mod:`mmsr.learned_gate`); the guided and the single model stay frozen, so the head
    can only choose between two estimates, never invent a third.
    """

    WINDOWS = (5, 15)

    def __init__(self, scale: int, width: int = 16, consistency: bool = False):
        super().__init__()
        self.scale = check_scale(scale)
        if width < 1:
            raise ValueError(f"width must be >= 1, got {width}")
        self.consistency = bool(consistency)
        c = 4 + len(self.WINDOWS) + (2 if self.consistency else 0)
        self.body = nn.Sequential(
            nn.Conv2d(c, width, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=2, dilation=2), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=4, dilation=4), nn.ReLU(inplace=True),
            nn.Conv2d(width, 1, 1))

    def features(self, lr, guide, guided, single) -> torch.Tensor:
        if guided.shape != single.shape or guided.shape[-2:] != guide.shape[-2:] or guided.shape[1] != 1:
            raise ValueError(f"guided and single estimates must both be (N, 1, H, W) of the guide's size "
                             f"{tuple(guide.shape[-2:])}, got {tuple(guided.shape)} and {tuple(single.shape)}")
        r = [guide_agreement(lr, guide, self.scale, k) for k in self.WINDOWS]
        if self.consistency:
            r += [torch.log10(back_projection_error(lr, e, self.scale) + 1e-3) for e in (guided, single)]
        r = [F.interpolate(v, scale_factor=self.scale, mode="bilinear", align_corners=False) for v in r]
        return torch.cat([single, guided, guided - single, luminance(guide), *r], 1)

    def weight(self, lr, guide, guided, single) -> torch.Tensor:
        """The weight of the guided estimate, ``(N, 1, H, W)`` in (0, 1)."""
        return torch.sigmoid(self.body(self.features(lr, guide, guided, single)))

    def forward(self, lr, guide, guided, single) -> torch.Tensor:
        w = self.weight(lr, guide, guided, single)
        return w * guided + (1 - w) * single


class LearnedGateSR(nn.Module):
    """``guided`` and ``single`` (frozen) blended by a trained :class:`GateHead`; takes ``(lr, guide)``."""

    def __init__(self, guided: nn.Module, single: nn.Module, head: GateHead):
        super().__init__()
        self.guided, self.single, self.head = guided, single, head
        self.scale = head.scale
        for p in list(guided.parameters()) + list(single.parameters()):
            p.requires_grad_(False)

    def trust(self, lr: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        return self.head.weight(lr, guide, self.guided(lr, guide), self.single(lr, guide))

    def forward(self, lr: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        return self.head(lr, guide, self.guided(lr, guide), self.single(lr, guide))
