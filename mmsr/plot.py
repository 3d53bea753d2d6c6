"""Figures every chapter needs: images side by side with zoomed insets, error maps, filter grids."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch


def _np(img):
    if isinstance(img, torch.Tensor):
        img = img.detach().cpu().double().numpy()
        img = np.squeeze(img)
        if img.ndim == 3 and img.shape[0] in (1, 3):
            img = np.moveaxis(img, 0, -1)
    return np.asarray(img)


def _display(img, peak: Optional[float]):
    a = _np(img).astype(np.float64)
    if peak is None:
        peak = 255.0 if a.max() > 1.5 else 1.0
    return np.clip(a / peak, 0, 1)


def show_images(images: Sequence, titles: Optional[Sequence[str]] = None, *, zoom: Optional[tuple] = None,
                peak: Optional[float] = None, ncols: Optional[int] = None, size: float = 3.2, cmap: str = "gray"):
    """Show images in a row (or grid); ``zoom=(y, x, h, w)`` draws that box on each image and an enlarged inset.

    Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    n = len(images)
    ncols = ncols or n
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        a = _display(images[k], peak)
        ax.imshow(a, cmap=cmap if a.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
        if titles is not None:
            ax.set_title(titles[k], fontsize=9)
        if zoom is not None:
            y, x, h, w = zoom
            ax.add_patch(Rectangle((x, y), w, h, fill=False, edgecolor="red", linewidth=1.2))
            inset = ax.inset_axes([0.58, 0.02, 0.4, 0.4])
            inset.imshow(a[y:y + h, x:x + w], cmap=cmap if a.ndim == 2 else None, vmin=0, vmax=1,
                         interpolation="nearest")
            inset.set_xticks([])
            inset.set_yticks([])
            for spine in inset.spines.values():
                spine.set_edgecolor("red")
    fig.tight_layout()
    return fig


def error_maps(estimates: Sequence, reference, titles: Optional[Sequence[str]] = None, *, vmax: float = 20.0,
               size: float = 3.2):
    """Absolute error ``|estimate - reference|`` of each estimate, on a shared colour scale (0..vmax)."""
    import matplotlib.pyplot as plt

    ref = _np(reference).astype(np.float64)
    n = len(estimates)
    fig, axes = plt.subplots(1, n, figsize=(size * n, size), squeeze=False)
    im = None
    for k, ax in enumerate(axes.flat):
        err = np.abs(_np(estimates[k]).astype(np.float64) - ref)
        im = ax.imshow(err, cmap="inferno", vmin=0, vmax=vmax)
        ax.axis("off")
        if titles is not None:
            ax.set_title(titles[k], fontsize=9)
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, label="absolute error")
    return fig


def filter_grid(weights, ncols: int = 8, size: float = 0.8, title: Optional[str] = None):
    """Show convolution filters ``(out, in, k, k)`` (first input channel) as a grid, each scaled to its range."""
    import matplotlib.pyplot as plt

    w = _np(weights) if not isinstance(weights, torch.Tensor) else weights.detach().cpu().numpy()
    w = np.asarray(w)
    if w.ndim == 4:
        w = w[:, 0]
    if w.ndim != 3:
        raise ValueError(f"filter_grid expects (out, in, k, k) or (out, k, k), got shape {w.shape}")
    n = w.shape[0]
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            f = w[k]
            lim = np.abs(f).max() or 1.0
            ax.imshow(f, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    if title:
        fig.suptitle(title)
    return fig
