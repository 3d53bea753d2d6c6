"""Reading images from disk: TIFF through tifffile, everything else through scikit-image (imageio)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..checks import DataNotFoundError


def read_image(path, *, hint: str = "") -> np.ndarray:
    """Read an image as a NumPy array in its native dtype (``HxW`` or ``HxWxC``; alpha dropped).

    A missing file raises :class:`~mmsr.checks.DataNotFoundError` naming the file (and ``hint``: how to get it).
    """
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError(f"missing file {p}" + (f"; {hint}" if hint else ""))
    if p.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        arr = tifffile.imread(str(p))
    else:
        from skimage import io as skio

        arr = skio.imread(str(p))
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[-1] == 4:
        arr = arr[..., :3]
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    return arr


def to_gray(img: np.ndarray) -> np.ndarray:
    """Grey level of an RGB image (``HxWx3``) as float64 on its own scale; a grey image is returned as float64.

    Uses ITU-R BT.601 weights ``0.299 R + 0.587 G + 0.114 B`` (the luminance the LMCSC papers feed as guide).
    """
    a = np.asarray(img, dtype=np.float64)
    if a.ndim == 2:
        return a
    if a.ndim == 3 and a.shape[-1] == 3:
        return a @ np.array([0.299, 0.587, 0.114])
    raise ValueError(f"to_gray expects HxW or HxWx3, got shape {a.shape}")
