"""The degradation model y = D(B x): MATLAB-compatible bicubic resizing, Gaussian blur, decimation, modcrop.

The super-resolution literature (SRCNN, the LMCSC papers, BasicSR) makes low-resolution images with
MATLAB's ``imresize(x, 1/s, 'bicubic')``, which *antialiases* when it shrinks: the cubic kernel is stretched
by ``1/scale`` (kernel width ``4/scale``) and renormalised, and borders are mirrored ('symmetric').
PIL, OpenCV and ``torch.nn.functional.interpolate`` differ from it (no antialiasing or other borders), and
PSNR differs by tenths of a dB, so we implement MATLAB's rule here from its definition:

* cubic kernel (Keys, a = -0.5): ``k(t) = 1.5|t|^3 - 2.5|t|^2 + 1`` for ``|t| <= 1``,
  ``-0.5|t|^3 + 2.5|t|^2 - 4|t| + 2`` for ``1 < |t| <= 2``, 0 otherwise;
* output sample ``x`` (1-based) maps to input coordinate ``u = x / scale + (1 - 1/scale) / 2``;
* when shrinking (``scale < 1``) the kernel is ``scale * k(scale * t)`` with width ``4 / scale``;
* weights are normalised to sum to one; out-of-range taps are mirrored (``... 2 1 1 2 ... n n n-1 ...``).

Each axis is a linear map, so resizing is two matrix products ``W_h X W_w^T`` (exact, differentiable,
and equally fast on CPU and GPU for book-sized images).
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from .checks import check_divisible, check_image, check_scale, spatial_size


def cubic(t: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (the kernel of MATLAB's ``imresize``)."""
    a = np.abs(np.asarray(t, dtype=np.float64))
    a2, a3 = a * a, a * a * a
    return (1.5 * a3 - 2.5 * a2 + 1.0) * (a <= 1) + (-0.5 * a3 + 2.5 * a2 - 4.0 * a + 2.0) * ((a > 1) & (a <= 2))


@lru_cache(maxsize=128)
def _resize_matrix_cached(in_len: int, out_len: int, scale: float, antialias: bool) -> np.ndarray:
    kernel_width = 4.0
    if scale < 1 and antialias:
        kernel_width = 4.0 / scale

        def kernel(t):
            return scale * cubic(scale * t)

    else:
        kernel = cubic
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - kernel_width / 2.0)
    taps = int(math.ceil(kernel_width)) + 2
    idx = left[:, None] + np.arange(taps)[None, :]  # 1-based input indices
    weights = kernel(u[:, None] - idx)
    weights = weights / weights.sum(axis=1, keepdims=True)
    # mirror out-of-range indices exactly as MATLAB: aux = [1:n, n:-1:1]
    aux = np.concatenate([np.arange(1, in_len + 1), np.arange(in_len, 0, -1)])
    mirrored = aux[np.mod(idx.astype(np.int64) - 1, aux.size)] - 1
    mat = np.zeros((out_len, in_len), dtype=np.float64)
    rows = np.repeat(np.arange(out_len), taps)
    np.add.at(mat, (rows, mirrored.ravel()), weights.ravel())
    mat.setflags(write=False)
    return mat


def resize_matrix(in_len: int, out_len: int, scale: Optional[float] = None, antialias: bool = True) -> np.ndarray:
    """The ``out_len x in_len`` matrix of MATLAB bicubic resizing along one axis (float64, rows sum to 1)."""
    if in_len < 1 or out_len < 1:
        raise ValueError(f"lengths must be positive, got in_len={in_len}, out_len={out_len}")
    if scale is None:
        scale = out_len / in_len
    return _resize_matrix_cached(int(in_len), int(out_len), float(scale), bool(antialias))


def _output_shape(size: Tuple[int, int], scale, output_shape) -> Tuple[Tuple[int, int], Tuple[float, float]]:
    if (scale is None) == (output_shape is None):
        raise ValueError("give exactly one of scale and output_shape")
    if output_shape is not None:
        oh, ow = (int(v) for v in output_shape)
        if oh < 1 or ow < 1:
            raise ValueError(f"output_shape must be positive, got {output_shape}")
        return (oh, ow), (oh / size[0], ow / size[1])
    sh, sw = (scale, scale) if np.isscalar(scale) else tuple(scale)
    if sh <= 0 or sw <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    # MATLAB: ceil(in * scale); guard against 0.1 + 0.2 style float noise
    out = (int(math.ceil(size[0] * sh - 1e-9)), int(math.ceil(size[1] * sw - 1e-9)))
    return out, (float(sh), float(sw))


@lru_cache(maxsize=256)
def _torch_matrix(in_len: int, out_len: int, scale: float, antialias: bool, dtype, device) -> torch.Tensor:
    """The resize matrix as a tensor on ``device``, built once per size (no host copy per call in a loop)."""
    return torch.tensor(resize_matrix(in_len, out_len, scale, antialias), dtype=dtype, device=device)


def imresize(x, scale=None, output_shape: Optional[Sequence[int]] = None, antialias: bool = True):
    """MATLAB-compatible bicubic ``imresize``.

    ``x`` is a NumPy array ``HxW`` / ``HxWxC`` or a torch tensor ``...xHxW``. NumPy integer inputs come back
    rounded and clipped to their dtype (as MATLAB does for ``uint8``); floats are not clipped.
    Torch tensors stay on their device and keep their gradient.
    """
    check_image(x, "image")
    size = spatial_size(x)
    (oh, ow), (sh, sw) = _output_shape(size, scale, output_shape)
    mh = resize_matrix(size[0], oh, sh, antialias)
    mw = resize_matrix(size[1], ow, sw, antialias)
    if isinstance(x, torch.Tensor):
        dtype = x.dtype if x.dtype.is_floating_point else torch.float32
        th = _torch_matrix(size[0], oh, sh, antialias, dtype, x.device)
        tw = _torch_matrix(size[1], ow, sw, antialias, dtype, x.device)
        out = th @ x.to(dtype) @ tw.T
        if not x.dtype.is_floating_point:
            info = torch.iinfo(x.dtype)
            out = out.round().clamp(info.min, info.max).to(x.dtype)
        return out
    arr = np.asarray(x)
    work = arr.astype(np.float64)
    if work.ndim == 2:
        out = mh @ work @ mw.T
    else:
        out = np.einsum("ih,hwc,jw->ijc", mh, work, mw, optimize=True)
    if arr.dtype.kind in "iu":
        info = np.iinfo(arr.dtype)
        return np.clip(np.round(out), info.min, info.max).astype(arr.dtype)
    return out.astype(arr.dtype, copy=False)


def modcrop(x, scale: int):
    """Crop the bottom/right so that height and width are multiples of ``scale`` (the usual SR convention)."""
    scale = check_scale(scale)
    h, w = spatial_size(x)
    h2, w2 = h - h % scale, w - w % scale
    if h2 == 0 or w2 == 0:
        raise ValueError(f"image of size {h}x{w} is smaller than scale {scale}")
    if isinstance(x, torch.Tensor):
        return x[..., :h2, :w2]
    return np.asarray(x)[:h2, :w2]


def gaussian_kernel(sigma: float, size: Optional[int] = None) -> torch.Tensor:
    """A normalised 2-D Gaussian kernel; default size ``2 * ceil(3 sigma) + 1``."""
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    if size is None:
        size = 2 * int(math.ceil(3 * sigma)) + 1
    if size < 1 or size % 2 == 0:
        raise ValueError(f"kernel size must be a positive odd integer, got {size}")
    t = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(t**2) / (2 * sigma**2))
    k = torch.outer(g, g)
    return k / k.sum()


def gaussian_blur(x: torch.Tensor, sigma: float, size: Optional[int] = None) -> torch.Tensor:
    """Blur a ``...xHxW`` float tensor with a Gaussian (reflect padding keeps the size)."""
    check_image(x, "image", allow_int=False)
    k = gaussian_kernel(sigma, size).to(dtype=x.dtype, device=x.device)
    lead = x.shape[:-2]
    flat = x.reshape(-1, 1, *x.shape[-2:])
    pad = k.shape[-1] // 2
    flat = F.pad(flat, (pad, pad, pad, pad), mode="reflect" if min(x.shape[-2:]) > pad else "replicate")
    return F.conv2d(flat, k[None, None]).reshape(*lead, *x.shape[-2:])


def decimate(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Keep every ``scale``-th pixel, starting at the first (size must be divisible by ``scale``)."""
    scale = check_scale(scale)
    check_divisible(spatial_size(x), scale)
    return x[..., ::scale, ::scale]


DEGRADATIONS = ("bicubic", "bicubic-noaa", "gaussian")


def degrade(x, scale: int, kind: str = "bicubic", sigma: Optional[float] = None):
    """Make the low-resolution observation ``y = D(B x)`` of a high-resolution image.

    ``kind="bicubic"``: MATLAB antialiased bicubic downscaling by ``1/scale`` (the protocol of this book).
    ``kind="bicubic-noaa"``: MATLAB bicubic without antialiasing (``imresize(..., 'Antialiasing', false)``):
    the bicubic interpolant sampled at the LR pixel centres, aliasing left in -- what some papers' code does.
    ``kind="gaussian"``: Gaussian blur (``sigma``, default ``scale / 2``, reflected borders) then decimation.
    The size of ``x`` must be divisible by ``scale``. Like :func:`imresize`, NumPy integer images come back
    rounded and clipped to their dtype, and ``HxWxC`` arrays are blurred per channel.
    """
    scale = check_scale(scale)
    check_image(x, "image")
    check_divisible(spatial_size(x), scale)
    if kind == "bicubic":
        return imresize(x, 1.0 / scale)
    if kind == "bicubic-noaa":
        return imresize(x, 1.0 / scale, antialias=False)
    if kind == "gaussian":
        if not isinstance(x, torch.Tensor):
            arr = np.asarray(x)
            t = torch.from_numpy(arr.astype(np.float64))
            t = t if arr.ndim == 2 else t.permute(2, 0, 1)
            out = decimate(gaussian_blur(t, sigma if sigma is not None else 0.5 * scale), scale).numpy()
            out = out if arr.ndim == 2 else np.moveaxis(out, 0, -1)
            if arr.dtype.kind in "iu":
                info = np.iinfo(arr.dtype)
                return np.clip(np.round(out), info.min, info.max).astype(arr.dtype)
            return out.astype(arr.dtype, copy=False)
        if not x.dtype.is_floating_point:
            x = x.to(torch.get_default_dtype())
        return decimate(gaussian_blur(x, sigma if sigma is not None else 0.5 * scale), scale)
    raise ValueError(f"unknown degradation kind {kind!r}; expected one of {DEGRADATIONS}")


def upsample_bicubic(y, scale: int):
    """Bicubic upsampling by an integer ``scale`` (MATLAB rule): the baseline every SR table starts from."""
    scale = check_scale(scale)
    h, w = spatial_size(y)
    return imresize(y, output_shape=(h * scale, w * scale))
