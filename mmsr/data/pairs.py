"""A guided super-resolution pair: a high-resolution target of one modality and its guide of another."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

import numpy as np

from ..checks import check_image, check_pair, check_scale
from ..degrade import degrade, modcrop


@dataclass(frozen=True)
class GuidedPair:
    """One aligned pair.

    ``target``: the HR image to super-resolve (``HxW``; NIR, depth, a spectral band) in its native dtype;
    ``guide``: the HR guide on the same grid (``HxWx3`` RGB or ``HxW`` grey); ``bit_depth``: of the target
    (sets the metric peak); ``dataset``/``split``/``name`` say where it came from.
    """

    name: str
    target: np.ndarray
    guide: np.ndarray
    bit_depth: int = 8
    dataset: str = ""
    split: str = ""
    meta: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        check_image(self.target, f"target of {self.name}", channels=1)
        check_image(self.guide, f"guide of {self.name}", channels=(1, 3))
        check_pair(self.target, self.guide)

    @property
    def peak(self) -> float:
        return float(2**self.bit_depth - 1)

    @property
    def shape(self):
        return self.target.shape[:2]

    def cropped(self, scale: int) -> "GuidedPair":
        """Both images cropped (bottom/right) to a multiple of ``scale``."""
        return replace(self, target=modcrop(self.target, scale), guide=modcrop(self.guide, scale))

    def low_resolution(self, scale: int, kind: str = "bicubic") -> np.ndarray:
        """The LR observation of the (cropped) target, in the target's dtype (MATLAB rounds integers)."""
        scale = check_scale(scale)
        return degrade(modcrop(self.target, scale), scale, kind=kind)

    def fingerprint(self) -> str:
        """A content hash of the target pixels: two pairs with the same fingerprint are the same image."""
        return content_hash(self.target)


def content_hash(arr: np.ndarray) -> str:
    a = np.ascontiguousarray(arr)
    h = hashlib.sha1()
    h.update(str((a.shape, a.dtype.str)).encode())
    h.update(a.tobytes())
    return h.hexdigest()
