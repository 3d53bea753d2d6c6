"""Modality-aligned training patches: (LR target, HR guide, HR target) crops from a list of pairs.

The papers train on 40,000 patches of 64x64 (000, Sec. 3). Each image's LR observation is computed once on
the whole (mod-cropped) image -- so patches see exactly the degradation of the test protocol, borders
included -- and a patch at HR position ``(y, x)`` (multiples of ``scale``) takes the LR crop at
``(y / scale, x / scale)``: the three crops cover the same scene area exactly.
Values are floats in ``[0, 1]`` (divided by each pair's peak). Sampling is a pure function of a seed.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional, Sequence

import numpy as np
import torch

from ..checks import check_scale
from ..degrade import degrade, imresize, modcrop
from .io import to_gray
from .pairs import GuidedPair


@dataclass
class PatchSet:
    """Tensors ``lr (N,1,p/s,p/s)``, ``guide (N,C,p,p)``, ``hr (N,1,p,p)`` and the source of each patch."""

    lr: torch.Tensor
    guide: torch.Tensor
    hr: torch.Tensor
    source: np.ndarray  # (N, 3) int: image index (the sampler's ``names``), y, x (HR pixels)

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


def disagreeing_guide(g: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A guide patch (``CxHxW`` in [0, 1]) made to disagree with its target the way real modalities do, so that a
    network trained on it learns when not to trust the guide. One of, chosen uniformly:

    * ``invert``: ``1 - g`` everywhere (contrast reversal: vegetation is bright in NIR and dark in RGB);
    * ``invert half``: ``1 - g`` on one side of a random line through the patch (reversal in one region only);
    * ``gamma``: ``g ** gamma``, ``gamma`` log-uniform in [1/3, 3] (a monotone but non-linear relation);
    * ``permute``: the channels in a random order (RGB guides; a grey guide gets ``invert`` instead).
    The target and the LR input are left alone."""
    kind = int(rng.integers(0, 4))
    if kind == 3 and g.shape[0] == 1:
        kind = 0
    if kind == 0:
        return 1.0 - g
    if kind == 1:
        h, w = g.shape[-2:]
        theta, offset = rng.uniform(0, 2 * np.pi), rng.uniform(-0.5, 0.5)
        yy, xx = np.mgrid[0:h, 0:w]
        side = (np.cos(theta) * (xx / w - 0.5) + np.sin(theta) * (yy / h - 0.5)) > offset * 0.5
        return np.where(side[None], 1.0 - g, g)
    if kind == 2:
        return np.clip(g, 0.0, 1.0) ** np.exp(rng.uniform(np.log(1 / 3), np.log(3)))
    return g[rng.permutation(g.shape[0])]


def check_rescale(factors) -> tuple:
    """``factors`` as a tuple of distinct floats in (0, 1), largest first; anything else is refused with one line."""
    try:
        out = tuple(sorted({float(f) for f in factors}, reverse=True))
    except (TypeError, ValueError):
        raise ValueError(f"rescale factors must be numbers in (0, 1), got {factors!r}") from None
    if any(not 0.0 < f < 1.0 for f in out):
        raise ValueError(f"rescale factors must lie in (0, 1) (shrinking only), got {factors!r}")
    return out


def shrunk_pair(pair: GuidedPair, factor: float) -> GuidedPair:
    """``pair`` with target and guide shrunk by ``factor`` (MATLAB-bicubic with antialiasing, to the same size;
    integer images stay integers), named ``name@factor``."""
    h, w = pair.target.shape[:2]
    size = (max(1, round(h * factor)), max(1, round(w * factor)))
    return replace(pair, target=imresize(pair.target, output_shape=size),
                   guide=imresize(pair.guide, output_shape=size), name=f"{pair.name}@{factor:g}")


class PatchSampler:
    """Draws aligned patches from pairs; ``scale`` must divide ``patch_size``. ``guide_augment``: the share of
    patches whose guide is made to disagree with the target (:func:`disagreeing_guide`; 0: none, the default).
    Images are drawn in proportion to their area; ``share=(prefix, q)`` instead gives the pairs whose name starts
    with ``prefix`` (e.g. ``"country_"``) together the probability ``q``, the others ``1 - q``.
    ``rescale``: factors in (0, 1) at which every pair is also shrunk (MATLAB-bicubic, antialiased, rounded to
    the pair's integers as a saved image would be) and kept as an extra training pair -- scale augmentation,
    more pairs from the same photos; the LR input of each is made from its own shrunk target, as for the
    originals. Every image, shrunk or not, is drawn in proportion to its area."""

    def __init__(self, pairs: Sequence[GuidedPair], scale: int, patch_size: int = 64, guide: str = "gray",
                 degradation: str = "bicubic", augment: bool = True, guide_augment: float = 0.0,
                 share: Optional[tuple] = None, rescale: Sequence[float] = ()):
        rescale = check_rescale(rescale)
        if not 0.0 <= float(guide_augment) <= 1.0:
            raise ValueError(f"guide_augment is a probability in [0, 1], got {guide_augment}")
        if share is not None:
            prefix, q = share
            inside = [p.name.startswith(prefix) for p in pairs]
            if not 0.0 < float(q) < 1.0 or not any(inside) or all(inside):
                raise ValueError(f"share {share!r}: needs 0 < q < 1 and pairs both with and without the prefix "
                                 f"{prefix!r} ({sum(inside)} of {len(pairs)} have it)")
        self.guide_augment = float(guide_augment)
        self.scale = check_scale(scale)
        if patch_size % self.scale:
            raise ValueError(f"patch size {patch_size} is not divisible by scale {self.scale}")
        if not pairs:
            raise ValueError("PatchSampler needs at least one pair")
        self.patch_size = int(patch_size)
        self.augment = augment
        self.images = []
        self.names = []
        if rescale:
            pairs = [q for p in pairs for q in (p, *(shrunk_pair(p, f) for f in rescale))]
        for p in pairs:
            self.names.append(p.name)
            hr = modcrop(p.target, self.scale)
            if min(hr.shape) < self.patch_size:
                raise ValueError(f"pair {p.name} ({hr.shape}) is smaller than the patch size {self.patch_size}")
            lr = degrade(hr, self.scale, kind=degradation).astype(np.float64) / p.peak
            g = guide_channels(modcrop(p.guide, self.scale), guide) / 255.0
            self.images.append((lr.astype(np.float32), g.astype(np.float32), hr.astype(np.float32) / p.peak))
        # sample images in proportion to the number of patch positions they hold
        areas = np.array([im[2].size for im in self.images], dtype=np.float64)
        self.weights = areas / areas.sum()
        if share is not None:
            mask = np.array([n.startswith(prefix) for n in self.names])   # shrunk copies keep their prefix
            self.weights = np.where(mask, float(q) * areas / areas[mask].sum(),
                                    (1.0 - float(q)) * areas / areas[~mask].sum())

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
            if self.guide_augment > 0 and rng.random() < self.guide_augment:   # no draw at 0: same patches
                b = disagreeing_guide(b, rng)
            lrs[k, 0], gs[k], hrs[k, 0] = a, b, c
            src[k] = (i, y, x)
        return PatchSet(torch.from_numpy(lrs), torch.from_numpy(gs), torch.from_numpy(hrs), src)
