"""Super-resolve your own pair: a low-resolution target image guided by a high-resolution image of another modality.

Library call::

    from mmsr.super_resolve import super_resolve_files
    run = super_resolve_files("thermal_lr.png", "visible.png", scale=4, out="thermal_x4.png")

Command line::

    python -m mmsr.super_resolve thermal_lr.png visible.png --scale 4 -o thermal_x4.png [--method cmsr]

The method is trained on the pair itself (zero-shot CMSR with global registration and learned deformation,
or ZSSR with ``--method zssr``), so nothing is downloaded. Inputs: the target is one channel (an RGB file
whose three channels are equal is accepted) of 8 or 16 bits; the guide is grey or RGB, 8-bit, and must be
``scale`` times the target's size (``--fit-guide`` resizes a guide of the same aspect ratio to that size).
The output has the target's bit depth and ``scale`` times its size.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from .checks import check_scale
from .data.io import read_image
from .data.patches import guide_channels
from .degrade import imresize
from .recipes import zeroshot_config
from .runtime import get_mode, try_gpu
from .storage import StorageError, preflight
from .zeroshot import ZeroShotRun, zero_shot_sr


class UnusableInputError(ValueError):
    """The images cannot be used as a (target, guide) pair; the message says why and what to do."""


def _as_target(img: np.ndarray, path) -> tuple[np.ndarray, float]:
    if img.ndim == 3:
        if img.shape[2] >= 3 and np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 0], img[..., 2]):
            img = img[..., 0]
        else:
            raise UnusableInputError(f"{path}: the target must be a single-channel image (NIR, depth, thermal); got "
                                     f"{img.shape[2]} different channels. Convert it to one channel first.")
    if img.dtype == np.uint8:
        peak = 255.0
    elif img.dtype == np.uint16:
        peak = 65535.0
    elif img.dtype.kind == "f":
        if img.min() < 0 or img.max() > 1:
            raise UnusableInputError(f"{path}: floating-point targets must lie in [0, 1]")
        peak = 1.0
    else:
        raise UnusableInputError(f"{path}: unsupported pixel type {img.dtype}; expected uint8, uint16 or float")
    return img, peak


def prepare_pair(target: np.ndarray, guide: np.ndarray, scale: int, fit_guide: bool = False, target_name="target",
                 guide_name="guide"):
    """Check and convert a user pair to tensors ``(lr (1,1,h,w), guide (1,C,H,W), peak)`` in [0, 1]."""
    scale = check_scale(scale)
    target, peak = _as_target(np.asarray(target), target_name)
    guide = np.asarray(guide)
    if guide.ndim not in (2, 3) or (guide.ndim == 3 and guide.shape[2] not in (1, 3, 4)):
        raise UnusableInputError(f"{guide_name}: expected a grey or RGB image, got shape {guide.shape}")
    if guide.ndim == 3:
        guide = guide[..., :3] if guide.shape[2] != 1 else guide[..., 0]
    h, w = target.shape
    if min(h, w) < 16:
        raise UnusableInputError(f"{target_name}: {h}x{w} is too small to learn from (at least 16x16 pixels)")
    want = (h * scale, w * scale)
    if guide.shape[:2] != want:
        ratio = (guide.shape[0] / h, guide.shape[1] / w)
        if fit_guide and abs(ratio[0] - ratio[1]) / max(ratio) < 0.02:
            guide = np.clip(imresize(guide.astype(np.float64), output_shape=want), 0, 255)
        else:
            raise UnusableInputError(
                f"{guide_name} is {guide.shape[0]}x{guide.shape[1]} but must be {scale} x the target "
                f"({h}x{w}) = {want[0]}x{want[1]} (it is {ratio[0]:.2f} x {ratio[1]:.2f} the target). Pass "
                f"fit_guide=True / --fit-guide to resize a guide of the same aspect ratio, or crop it.")
    g = guide_channels(guide, "rgb").astype(np.float32) / (255.0 if guide.dtype == np.uint8 or guide.max() > 1 else 1.0)
    lr = torch.from_numpy(target.astype(np.float32) / peak)[None, None]
    return lr, torch.from_numpy(np.ascontiguousarray(g))[None], peak, target.dtype


def super_resolve_files(target_path, guide_path, scale: int, out=None, *, method: str = "cmsr",
                        mode: Optional[str] = None, seed: int = 0, fit_guide: bool = False, device=None,
                        progress: bool = True, **overrides) -> ZeroShotRun:
    """Read a pair, super-resolve the target by ``scale`` (zero-shot) and write it to ``out`` (if given).

    An output that cannot be written (read-only folder, full disk) is refused before the images are read.
    """
    if out is not None:
        preflight(Path(out).parent, 1 << 20, "output folder")
    target = read_image(target_path)
    guide = read_image(guide_path)
    lr, g, peak, dtype = prepare_pair(target, guide, scale, fit_guide, str(target_path), str(guide_path))
    dev = device or try_gpu()
    cfg = zeroshot_config(method, get_mode(mode), seed=seed, **overrides)
    run = zero_shot_sr(lr.to(dev), g.to(dev) if method == "cmsr" else None, scale, cfg, progress=progress)
    if out is not None:
        est = run.output.detach().double().cpu().numpy()[0, 0] * peak
        if dtype.kind in "iu":
            est = np.clip(np.round(est), 0, np.iinfo(dtype).max).astype(dtype)
        else:
            est = np.clip(est, 0, 1).astype(np.float32)
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            tifffile.imwrite(out, est)
        else:
            from skimage.io import imsave

            imsave(out, est, check_contrast=False)
    return run


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mmsr.super_resolve", description=__doc__.split("\n\n")[0])
    ap.add_argument("target", help="low-resolution single-channel image (NIR, depth, thermal, ...)")
    ap.add_argument("guide", help="high-resolution guide (RGB or grey), scale x the target's size")
    ap.add_argument("--scale", type=int, required=True)
    ap.add_argument("-o", "--out", required=True, help="output file (.png, .tif, ...)")
    ap.add_argument("--method", choices=("cmsr", "zssr"), default="cmsr")
    ap.add_argument("--mode", default=None, help="smoke | default | full (network size and steps)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--fit-guide", action="store_true", help="resize a guide of the right aspect ratio")
    ap.add_argument("--device", default=None)
    a = ap.parse_args(argv)
    extra = {} if a.steps is None else {"steps": a.steps}
    try:
        run = super_resolve_files(a.target, a.guide, a.scale, a.out, method=a.method, mode=a.mode, seed=a.seed,
                                  fit_guide=a.fit_guide, device=try_gpu(a.device), **extra)
    except (UnusableInputError, FileNotFoundError, ValueError, StorageError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {a.out} ({run.output.shape[-2]}x{run.output.shape[-1]}) in {run.seconds['total']:.1f} s",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
