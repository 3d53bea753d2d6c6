"""Modality-aligned training patches: (LR target, HR guide, HR target) crops from a list of pairs.

The papers train on 40,000 patches of 64x64 (000, Sec. 3). Each image's LR observation is computed once on
the whole (mod-cropped) image -- so patches see exactly the degradation of the test protocol, borders
included -- and a patch at HR position ``(y, x)`` (multiples of ``scale``) takes the LR crop at
``(y / scale, x / scale)``: the three crops cover the same scene area exactly.
Values are floats in ``[0, 1]`` (divided by each pair's peak). Sampling is a pure function of a seed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ..checks import check_scale
from ..degrade import degrade, modcrop
from .io import to_gray
from .pairs import GuidedPair


@dataclass
class PatchSet:
    """Tensors ``lr (N,1,p/s,p/s)``, ``guide (N,C,p,p)``, ``hr (N,1,p,p)`` and the source of each patch."""

    lr: torch.Tensor
    guide: torch.Tensor
    hr: torch.Tensor
    source: np.ndarray  # (N, 3) int: pair index, y, x (HR pixels)

    def __len__(self):
        return self.hr.shape[0]

    def batch(self, idx) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.lr[idx], self.guide[idx], self.hr[idx]


def guide_channels(guide: np.ndarray, mode: str) -> np.ndarray:
    """The guide as ``CxHxW`` float64 on its own scale: ``mode='gray'`` (luminance, 1 channel) or ``'rgb'``."""
    if mode == "gray":
        return to_gray(guide)[None]
    if mode == "rgb":
        g = np.asarray(guide, dtype=np.float64)
        return np.repeat(g[None], 3, 0) if g.ndim == 2 else np.moveaxis(g, -1, 0)
    raise ValueError(f"unknown guide mode {mode!r}; expected 'gray' or 'rgb'")


class PatchSampler:
    """Draws aligned patches from pairs; ``scale`` must divide ``patch_size``."""

    def __init__(self, pairs: Sequence[GuidedPair], scale: int, patch_size: int = 64, guide: str = "gray",
                 degradation: str = "bicubic", augment: bool = True):
        self.scale = check_scale(scale)
        if patch_size % self.scale:
            raise ValueError(f"patch size {patch_size} is not divisible by scale {self.scale}")
        if not pairs:
            raise ValueError("PatchSampler needs at least one pair")
        self.patch_size = int(patch_size)
        self.augment = augment
        self.images = []
        for p in pairs:
            hr = modcrop(p.target, self.scale)
            if min(hr.shape) < self.patch_size:
                raise ValueError(f"pair {p.name} ({hr.shape}) is smaller than the patch size {self.patch_size}")
            lr = degrade(hr, self.scale, kind=degradation).astype(np.float64) / p.peak
            g = guide_channels(modcrop(p.guide, self.scale), guide) / 255.0
            self.images.append((lr.astype(np.float32), g.astype(np.float32), hr.astype(np.float32) / p.peak))
        # sample images in proportion to the number of patch positions they hold
        areas = np.array([im[2].size for im in self.images], dtype=np.float64)
        self.weights = areas / areas.sum()

    def sample(self, n: int, seed: int) -> PatchSet:
        """``n`` patches drawn with NumPy's generator seeded by ``seed`` (same seed, same patches)."""
        rng = np.random.default_rng(seed)
        p, s = self.patch_size, self.scale
        which = rng.choice(len(self.images), size=n, p=self.weights)
        lrs = np.empty((n, 1, p // s, p // s), np.float32)
        gch = self.images[0][1].shape[0]
        gs = np.empty((n, gch, p, p), np.float32)
        hrs = np.empty((n, 1, p, p), np.float32)
        src = np.empty((n, 3), np.int64)
        for k, i in enumerate(which):
            lr, g, hr = self.images[i]
            y = rng.integers(0, (hr.shape[0] - p) // s + 1) * s
            x = rng.integers(0, (hr.shape[1] - p) // s + 1) * s
            a, b, c = lr[y // s:(y + p) // s, x // s:(x + p) // s], g[:, y:y + p, x:x + p], hr[y:y + p, x:x + p]
            if self.augment:
                rot, flip = rng.integers(0, 4), rng.integers(0, 2)
                a, b, c = (np.rot90(t, rot, axes=(-2, -1)) for t in (a, b, c))
                if flip:
                    a, b, c = (t[..., ::-1] for t in (a, b, c))
            lrs[k, 0], gs[k], hrs[k, 0] = a, b, c
            src[k] = (i, y, x)
        return PatchSet(torch.from_numpy(lrs), torch.from_numpy(gs), torch.from_numpy(hrs), src)
