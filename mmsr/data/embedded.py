"""The embedded default: guided-SR pairs built only from images that ship inside scikit-image.

No download and no data root are needed, so every chapter runs anywhere. Two kinds of pair:

* ``motorcycle``: scikit-image's ``stereo_motorcycle`` (a real Middlebury-2014 scene): the left RGB view is
  the guide and its disparity map is the target (a real RGB-D pair). 7 % of the disparities are not finite
  (occlusions); we fill each with its nearest finite neighbour and scale to 8 bits (``d / max * 255``).
* ``synthetic_*``: a documented synthetic cross-modal pair made from a bundled RGB photo. The target is a
  "pseudo-NIR" image ``n = 0.35 R + 0.25 G + 0.05 B + 0.9 max(G - R, 0) + 0.4 max(G - B, 0)`` followed by the
  tone curve ``n**0.8`` and a smooth multiplicative shading ``1 + 0.15 sin(2 pi x / W) cos(pi y / H)``: like a
  real NIR image it shares most edges with the RGB guide, brightens vegetation-like (green) regions, loses
  some colour edges (the R/B trade-offs cancel) and has intensity the guide does not explain. It is a
  teaching stand-in, not a model of any camera.

Split: ``train`` = astronaut, rocket, immunohistochemistry, hubble_deep_field; ``test`` = chelsea, coffee and
the motorcycle RGB-D pair. Every pair is 8-bit.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .pairs import GuidedPair

TRAIN_PHOTOS = ("astronaut", "rocket", "immunohistochemistry", "hubble_deep_field")
TEST_PHOTOS = ("chelsea", "coffee")


def pseudo_nir(rgb: np.ndarray) -> np.ndarray:
    """The synthetic target of a bundled photo (formula in the module docstring), as ``uint8``."""
    a = np.asarray(rgb, dtype=np.float64) / 255.0
    r, g, b = a[..., 0], a[..., 1], a[..., 2]
    n = 0.35 * r + 0.25 * g + 0.05 * b + 0.9 * np.maximum(g - r, 0) + 0.4 * np.maximum(g - b, 0)
    n = np.clip(n, 0, 1) ** 0.8
    h, w = n.shape
    yy, xx = np.mgrid[0:h, 0:w]
    n = n * (1 + 0.15 * np.sin(2 * np.pi * xx / w) * np.cos(np.pi * yy / h))
    return np.clip(np.round(n * 255), 0, 255).astype(np.uint8)


@lru_cache(maxsize=16)
def synthetic_pair(photo: str, split: str = "") -> GuidedPair:
    """A synthetic pseudo-NIR / RGB pair from one of scikit-image's bundled RGB photos."""
    from skimage import data

    if not hasattr(data, photo):
        raise ValueError(f"scikit-image has no bundled image {photo!r}")
    rgb = np.asarray(getattr(data, photo)())
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise ValueError(f"bundled image {photo!r} is not RGB (shape {rgb.shape})")
    return GuidedPair(f"synthetic_{photo}", pseudo_nir(rgb), rgb, 8, "embedded", split)


@lru_cache(maxsize=2)
def motorcycle_pair(split: str = "test") -> GuidedPair:
    """The real RGB + disparity pair of ``skimage.data.stereo_motorcycle`` (holes filled, 8-bit)."""
    from scipy.ndimage import distance_transform_edt
    from skimage import data

    left, _right, disp = data.stereo_motorcycle()
    disp = np.asarray(disp, dtype=np.float64)
    bad = ~np.isfinite(disp)
    if bad.any():
        _, (iy, ix) = distance_transform_edt(bad, return_indices=True)
        disp = disp[iy, ix]
    depth = np.clip(np.round(disp / disp.max() * 255), 0, 255).astype(np.uint8)
    return GuidedPair("motorcycle", depth, np.asarray(left), 8, "embedded", split, {"filled": int(bad.sum())})


def embedded_pairs(split: str) -> list[GuidedPair]:
    """The embedded default pairs of a split (``train`` or ``test``); built once per process and cached."""
    if split == "train":
        return [synthetic_pair(p, "train") for p in TRAIN_PHOTOS]
    if split == "test":
        return [synthetic_pair(p, "test") for p in TEST_PHOTOS] + [motorcycle_pair("test")]
    raise ValueError(f"unknown split {split!r} for the embedded default; expected 'train' or 'test'")
