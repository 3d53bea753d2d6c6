"""PSNR and SSIM with the convention written down (after BasicSR's habit of stating it).

Convention used for every number in this book unless a table says otherwise:

* images are compared in **float64** on their original intensity scale;
* the **peak** is ``2**bit_depth - 1`` (255 for 8-bit images, 65535 for CAVE's 16-bit bands);
* predictions are **clipped to [0, peak] and rounded** to integers before scoring, exactly as if they had
  been saved as an image of that bit depth (:func:`quantize`); the reference is used as loaded;
* the **full image** is scored (``crop_border=0``); a border crop is optional and stated where used;
* single-channel images (NIR, depth, a spectral band) are scored as they are; for RGB the optional
  ``y_channel=True`` scores ITU-R BT.601 luma (the 16-235 "Y" of MATLAB's ``rgb2ycbcr``);
* SSIM follows Wang et al. (2004): Gaussian window sigma 1.5 (truncated at 3.5 sigma, 11x11), K1 = 0.01,
  K2 = 0.03, population covariances, mean over the valid area -- identical to
  ``skimage.metrics.structural_similarity(..., gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=peak)``, which the tests check;
* identical images have PSNR ``inf``; shapes must match.

Other conventions in use in the literature are options, named so that a record can say which it used:
``ssim(window="uniform")`` is the 7x7 box window with sample covariances (scikit-image's default);
``ssim(data_range=...)`` decouples SSIM's constants from the PSNR peak (a data range of 255 on images scaled
to [0, 1] -- a common slip -- pushes every SSIM towards 1); ``crop_border`` crops before scoring.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from .checks import check_image


def _to_numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
        # torch images are CxHxW (or 1xCxHxW); metrics work on HxW / HxWxC
        x = np.squeeze(x)
        if x.ndim == 3:
            x = np.moveaxis(x, 0, -1)
    return np.asarray(x)


def peak_for(bit_depth: int = 8) -> float:
    """The peak value of an unsigned image of the given bit depth."""
    if bit_depth < 1:
        raise ValueError(f"bit depth must be positive, got {bit_depth}")
    return float(2**bit_depth - 1)


def quantize(x, bit_depth: int = 8) -> np.ndarray:
    """Clip to ``[0, 2**bit_depth - 1]`` and round: what saving the prediction as an image would do."""
    arr = _to_numpy(x).astype(np.float64)
    return np.clip(np.round(arr), 0.0, peak_for(bit_depth))


def rgb_to_y(img) -> np.ndarray:
    """BT.601 luma on the 8-bit scale, as MATLAB's ``rgb2ycbcr`` (range 16-235) for an ``HxWx3`` array."""
    arr = _to_numpy(img).astype(np.float64)
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise ValueError(f"rgb_to_y expects an HxWx3 image, got shape {arr.shape}")
    return 16.0 + (65.481 * arr[..., 0] + 128.553 * arr[..., 1] + 24.966 * arr[..., 2]) / 255.0


def _prepare(pred, ref, crop_border: int, y_channel: bool):
    p = _to_numpy(pred)
    r = _to_numpy(ref)
    check_image(p, "prediction")
    check_image(r, "reference")
    if p.shape != r.shape:
        raise ValueError(f"prediction shape {p.shape} does not match reference shape {r.shape}")
    p = p.astype(np.float64)
    r = r.astype(np.float64)
    if y_channel:
        p, r = rgb_to_y(p), rgb_to_y(r)
    if crop_border < 0:
        raise ValueError(f"crop_border must be >= 0, got {crop_border}")
    if crop_border:
        if min(p.shape[:2]) <= 2 * crop_border:
            raise ValueError(f"crop_border {crop_border} leaves nothing of an image of size {p.shape[:2]}")
        p = p[crop_border:-crop_border, crop_border:-crop_border]
        r = r[crop_border:-crop_border, crop_border:-crop_border]
    return p, r


def psnr(pred, ref, *, peak: float = 255.0, crop_border: int = 0, y_channel: bool = False) -> float:
    """Peak signal-to-noise ratio in dB, ``10 log10(peak^2 / MSE)`` in float64 (``inf`` if identical)."""
    p, r = _prepare(pred, ref, crop_border, y_channel)
    mse = np.mean((p - r) ** 2)
    if mse == 0:
        return float("inf")
    return float(10.0 * np.log10(peak**2 / mse))


SSIM_WINDOWS = ("gaussian", "uniform")


def ssim(pred, ref, *, peak: float = 255.0, crop_border: int = 0, y_channel: bool = False,
         window: str = "gaussian", data_range: float | None = None) -> float:
    """Structural similarity (Wang et al. 2004), float64; channels are averaged.

    ``window="gaussian"`` (ours): sigma 1.5, 11x11, population covariances; ``"uniform"``: 7x7 box, sample
    covariances. ``data_range`` sets the constants ``C1 = (0.01 L)^2``, ``C2 = (0.03 L)^2`` (default: ``peak``).
    """
    if window not in SSIM_WINDOWS:
        raise ValueError(f"unknown SSIM window {window!r}; expected one of {SSIM_WINDOWS}")
    L = peak if data_range is None else float(data_range)
    if L <= 0:
        raise ValueError(f"data_range must be positive, got {L}")
    p, r = _prepare(pred, ref, crop_border, y_channel)
    if p.ndim == 3:
        return float(np.mean([_ssim_2d(p[..., c], r[..., c], L, window) for c in range(p.shape[-1])]))
    return _ssim_2d(p, r, L, window)


def _ssim_2d(x: np.ndarray, y: np.ndarray, peak: float, window: str = "gaussian") -> float:
    if window == "gaussian":
        sigma, truncate = 1.5, 3.5
        pad = int(truncate * sigma + 0.5)  # 5 -> an 11x11 window

        def filt(a):
            return gaussian_filter(a, sigma=sigma, truncate=truncate, mode="reflect")
        cov_norm = 1.0
    else:
        from scipy.ndimage import uniform_filter

        pad, n = 3, 49  # 7x7

        def filt(a):
            return uniform_filter(a, size=7, mode="reflect")
        cov_norm = n / (n - 1)  # sample covariances
    if min(x.shape) < 2 * pad + 1:
        raise ValueError(f"SSIM needs images of at least {2 * pad + 1}x{2 * pad + 1}, got {x.shape}")
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    mx, my = filt(x), filt(y)
    vx = cov_norm * (filt(x * x) - mx * mx)
    vy = cov_norm * (filt(y * y) - my * my)
    cxy = cov_norm * (filt(x * y) - mx * my)
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(s[pad:-pad, pad:-pad].mean())
