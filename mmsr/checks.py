"""Input checks shared by the library: one place for the error messages a user sees on bad input."""
from __future__ import annotations

import numpy as np
import torch


class DataNotFoundError(FileNotFoundError):
    """A data root lacks a file that a loader needs (the message says which and how to get it)."""


class ChecksumError(OSError):
    """A downloaded or cached file does not match its recorded checksum (corrupt or partial)."""


class UnreadableImageError(ValueError):
    """A file exists but is not an image that can be decoded (empty, truncated, another format)."""


class CheckpointMismatchError(ValueError):
    """A checkpoint was written for a different model (architecture or configuration)."""


def check_image(x, name: str = "image", *, channels=None, allow_int: bool = True):
    """Check an image (NumPy ``HxW``/``HxWxC`` or torch ``...xHxW``): finite, numeric, right channels.

    ``channels`` is an int or a tuple of allowed channel counts (for NumPy: last axis or 1 for 2-D;
    for torch: the channel axis ``-3`` or 1 for 2-D). Returns ``x`` unchanged.
    """
    if isinstance(x, torch.Tensor):
        if x.dtype == torch.bool or x.is_complex():
            raise TypeError(f"{name} has dtype {x.dtype}; expected a real floating-point or integer tensor")
        if not x.dtype.is_floating_point and not allow_int:
            raise TypeError(f"{name} has dtype {x.dtype}; expected a floating-point tensor")
        if x.ndim < 2:
            raise ValueError(f"{name} must have at least 2 dimensions (H, W), got shape {tuple(x.shape)}")
        c = 1 if x.ndim == 2 else x.shape[-3]
        if x.dtype.is_floating_point and not torch.isfinite(x).all():
            raise ValueError(f"{name} contains NaN or infinite values")
    else:
        x_arr = np.asarray(x)
        if x_arr.dtype.kind not in "fiu":
            raise TypeError(f"{name} has dtype {x_arr.dtype}; expected a real floating-point or integer array")
        if x_arr.dtype.kind != "f" and not allow_int:
            raise TypeError(f"{name} has dtype {x_arr.dtype}; expected a floating-point array")
        if x_arr.ndim not in (2, 3):
            raise ValueError(f"{name} must be HxW or HxWxC, got shape {x_arr.shape}")
        c = 1 if x_arr.ndim == 2 else x_arr.shape[-1]
        if x_arr.dtype.kind == "f" and not np.isfinite(x_arr).all():
            raise ValueError(f"{name} contains NaN or infinite values")
    if channels is not None:
        allowed = (channels,) if isinstance(channels, int) else tuple(channels)
        if c not in allowed:
            raise ValueError(f"{name} has {c} channel(s); expected {' or '.join(map(str, allowed))}")
    return x


def spatial_size(x):
    """(H, W) of a NumPy ``HxW[xC]`` array or a torch ``...xHxW`` tensor."""
    if isinstance(x, torch.Tensor):
        return tuple(x.shape[-2:])
    return tuple(np.asarray(x).shape[:2])


def check_scale(scale) -> int:
    """An integer super-resolution factor >= 1."""
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale!r}")
    return int(scale)


def check_divisible(size, scale: int, name: str = "image") -> None:
    """Raise if the spatial size is not a multiple of ``scale`` (use :func:`mmsr.degrade.modcrop`)."""
    h, w = size
    if h % scale or w % scale:
        raise ValueError(
            f"{name} size {h}x{w} is not divisible by scale {scale}; crop it first with mmsr.degrade.modcrop"
        )


def check_pair(target, guide, scale: int | None = None, *, target_is_lr: bool = False) -> None:
    """Check a guided-SR pair: both finite images; the guide on the HR grid of the target.

    With ``target_is_lr`` the target is the low-resolution observation and must be ``guide_size / scale``.
    """
    check_image(target, "target")
    check_image(guide, "guide")
    th, tw = spatial_size(target)
    gh, gw = spatial_size(guide)
    if scale is not None:
        scale = check_scale(scale)
    if target_is_lr:
        if scale is None:
            raise ValueError("scale is required when the target is low-resolution")
        if (th * scale, tw * scale) != (gh, gw):
            raise ValueError(
                f"guide size {gh}x{gw} does not match the low-resolution target {th}x{tw} times scale {scale} "
                f"(expected {th * scale}x{tw * scale})"
            )
    else:
        if (th, tw) != (gh, gw):
            raise ValueError(f"guide size {gh}x{gw} does not match target size {th}x{tw}")
        if scale is not None:
            check_divisible((th, tw), scale, "target")
