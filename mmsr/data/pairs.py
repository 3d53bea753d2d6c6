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


def thumbnail(arr: np.ndarray, size: int = 24) -> np.ndarray:
    """A ``size x size`` zero-mean, unit-norm thumbnail of an image (grey, antialiased resize of the whole frame):
    close thumbnails mean the same scene even after resizing, JPEG or a change of bit depth, where
    :func:`content_hash` sees only byte-identical copies."""
    from skimage.transform import resize

    a = np.asarray(arr, dtype=np.float64)
    if a.ndim == 3:
        a = a.mean(axis=2)
    t = resize(a, (size, size), anti_aliasing=True, mode="reflect")
    t = t - t.mean()
    n = np.linalg.norm(t)
    return t / n if n > 0 else t


def overlapping_pairs(first, second, threshold: float = 0.97) -> list[tuple[str, str, str]]:
    """Pairs of ``first`` x ``second`` that are the same image: ``(name1, name2, "identical" | "near r=...")``.

    Identical: equal :meth:`GuidedPair.fingerprint`. Near: thumbnails of the targets correlate above
    ``threshold`` (the same scene resized, re-encoded or re-quantised). Used to prove that no training or
    validation image is a test image under another name.
    """
    found = []
    prints = {p.fingerprint(): p.name for p in second}
    thumbs = [(p.name, thumbnail(p.target)) for p in second]
    for p in first:
        if p.fingerprint() in prints:
            found.append((p.name, prints[p.fingerprint()], "identical"))
            continue
        t = thumbnail(p.target)
        for name, u in thumbs:
            r = float((t * u).sum())
            if r > threshold:
                found.append((p.name, name, f"near r={r:.3f}"))
    return found
