"""Evaluation protocol: degrade, super-resolve, score -- the same steps for every method and every table.

For a pair and a scale ``s``: (1) crop the HR target and guide to multiples of ``s`` (:func:`~mmsr.degrade.modcrop`);
(2) make the LR target by MATLAB antialiased bicubic downscaling, rounded to the target's integer type as
MATLAB does; (3) run the method on ``lr / peak`` and ``guide / 255``; (4) bring the output back to the
target scale, quantize it (clip, round) and score full-image PSNR/SSIM with the peak from the bit depth
(conventions in :mod:`mmsr.metrics`).
"""
from __future__ import annotations

import time
from typing import Callable, Sequence

import numpy as np
import torch

from .checks import check_scale
from .data.pairs import GuidedPair
from .data.patches import guide_channels
from .degrade import modcrop, upsample_bicubic
from .metrics import psnr, quantize, ssim


def prepare_inputs(pair: GuidedPair, scale: int, guide_mode: str = "gray", degradation: str = "bicubic"):
    """``(lr, guide, hr)``: tensors ``(1,1,h,w)`` and ``(1,C,H,W)`` in [0,1], and the cropped HR target (native)."""
    scale = check_scale(scale)
    hr = modcrop(pair.target, scale)
    lr = pair.low_resolution(scale, kind=degradation)
    g = guide_channels(modcrop(pair.guide, scale), guide_mode) / 255.0
    lr_t = torch.from_numpy(np.asarray(lr, dtype=np.float32) / pair.peak)[None, None]
    g_t = torch.from_numpy(g.astype(np.float32))[None]
    return lr_t, g_t, hr


@torch.no_grad()
def super_resolve(model: Callable, pair: GuidedPair, scale: int, *, guide_mode: str = "gray",
                  device=None, degradation: str = "bicubic") -> np.ndarray:
    """The method's HR estimate of ``pair``'s target on the target's intensity scale (float64, not quantized);
    ``degradation``: how the LR input is made (:data:`mmsr.degrade.DEGRADATIONS`; ours: ``"bicubic"``)."""
    lr, g, _ = prepare_inputs(pair, scale, guide_mode, degradation)
    if device is None and isinstance(model, torch.nn.Module):
        params = list(model.parameters())
        device = params[0].device if params else torch.device("cpu")
    device = device or torch.device("cpu")
    was_training = getattr(model, "training", False)
    if isinstance(model, torch.nn.Module):
        model.eval()
    out = model(lr.to(device), g.to(device))
    if isinstance(model, torch.nn.Module) and was_training:
        model.train()
    return out.detach().double().cpu().numpy()[0, 0] * pair.peak


def evaluate(model: Callable, pairs: Sequence[GuidedPair], scale: int, *, guide_mode: str = "gray",
             device=None, with_ssim: bool = True, degradation: str = "bicubic") -> list[dict]:
    """Score a method on pairs: one row per image, ``{"image", "psnr", "ssim", "seconds"}``."""
    rows = []
    for p in pairs:
        t0 = time.perf_counter()
        est = super_resolve(model, p, scale, guide_mode=guide_mode, device=device, degradation=degradation)
        dt = time.perf_counter() - t0
        ref = modcrop(p.target, scale)
        q = quantize(est, p.bit_depth)
        row = {"image": p.name, "psnr": psnr(q, ref, peak=p.peak), "seconds": dt}
        if with_ssim:
            row["ssim"] = ssim(q, ref, peak=p.peak)
        rows.append(row)
    return rows


def mean_row(rows: Sequence[dict]) -> dict:
    """The average of the numeric columns of ``rows`` (the "Average" line of a table)."""
    keys = [k for k in rows[0] if isinstance(rows[0][k], (int, float))]
    return {"image": "average", **{k: float(np.mean([r[k] for r in rows])) for k in keys}}


class Bicubic(torch.nn.Module):
    """Bicubic upsampling as a "model" with the common ``(lr, guide)`` signature."""

    def __init__(self, scale: int):
        super().__init__()
        self.scale = check_scale(scale)

    def forward(self, lr, guide=None):
        return upsample_bicubic(lr, self.scale)
