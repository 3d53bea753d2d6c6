"""Reading images from disk: TIFF through tifffile, everything else through scikit-image (imageio)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..checks import DataNotFoundError, UnreadableImageError


def read_image(path, *, hint: str = "") -> np.ndarray:
    """Read an image as a NumPy array in its native dtype (``HxW`` or ``HxWxC``; alpha dropped).

    A missing file raises :class:`~mmsr.checks.DataNotFoundError` naming the file (and ``hint``: how to get it).
    """
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError(f"missing file {p}" + (f"; {hint}" if hint else ""))
    if p.stat().st_size == 0:
        raise UnreadableImageError(f"{p} is empty (0 bytes)")
    try:
        if p.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            arr = tifffile.imread(str(p))
        else:
            from skimage import io as skio

            arr = skio.imread(str(p))
    except Exception as e:  # noqa: BLE001 -- decoders raise many types; the user needs one line, not a traceback
        why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UnreadableImageError(f"{p} is not a readable image (corrupt, truncated or not an image: "
                                   f"{why[:120]})") from None
    arr = np.asarray(arr)
    if arr.dtype.kind not in "uif" or arr.ndim not in (2, 3) or 0 in arr.shape:
        raise UnreadableImageError(f"{p} decoded to an array of shape {arr.shape} and dtype {arr.dtype}, "
                                   f"not an image")
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
