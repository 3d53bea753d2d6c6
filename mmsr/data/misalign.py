"""Weakly aligned and cross-modally inconsistent pairs, made reproducibly from aligned ones (CMSR, ``../shared/papers/003_*``).

Real two-camera rigs see the scene from slightly different places: the guide is shifted by tens of pixels,
rotated by a few degrees and scaled by a few percent relative to the target. :func:`misalign` applies such a
similarity transform (about the image centre, bilinear, borders replicated) to the guide of an aligned pair,
so the ground truth of the target is kept and the misalignment is known exactly.

**Shuffled-Middlebury** (:func:`shuffled_middlebury`). 003 builds weakly aligned depth/RGB pairs from
Middlebury by "shuffling" views, but does not publish how. Ours is explicit: every Middlebury 2005 pair loaded
by :func:`mmsr.data.datasets.load_middlebury2005` gets a guide misaligned by a transform drawn from a
seeded generator (seed 2005 by default): shift uniform in ``[-max_shift, max_shift]`` pixels per axis,
rotation uniform in ``[-max_rotation, max_rotation]`` degrees, scale uniform in ``[1 - max_zoom, 1 + max_zoom]``.
The transform of every pair is stored in ``pair.meta["misalignment"]``.

**Non-rigid residue** (:func:`distort`). A similarity is all a global registration can undo; what remains on a
real rig is non-rigid: the two lenses distort differently (radial distortion) and near objects shift more than
far ones (parallax). :func:`distort` adds a smooth, known displacement field to a guide -- radial distortion
``k1`` plus a seeded random field on a coarse grid, interpolated smoothly -- so that the affine layer alone
cannot align the pair and the CPAB/TPS layers have something to learn (003, Fig. 11).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from ..ops.warps import identity_grid, warp_image
from ..registration import registration_error_px, similarity_theta
from .pairs import GuidedPair


def _resample(guide: np.ndarray, points: torch.Tensor) -> np.ndarray:
    """``guide`` (``HxW`` or ``HxWx3``) sampled bilinearly at ``points`` (``(H, W, 2)``, normalised), in its dtype."""
    g = torch.from_numpy(guide.astype(np.float32))
    g = g[None, None] if g.ndim == 2 else g.permute(2, 0, 1)[None]
    out = warp_image(g, points[None])[0]
    out = out[0] if guide.ndim == 2 else out.permute(1, 2, 0)
    return np.clip(np.round(out.numpy()), 0, 255).astype(guide.dtype) if guide.dtype.kind in "iu" else out.numpy()


def misalign(pair: GuidedPair, shift=(0.0, 0.0), rotation: float = 0.0, zoom: float = 1.0) -> GuidedPair:
    """``pair`` with its guide moved: the guide content at ``p`` is what was at ``T^-1 p`` before.

    ``T`` is the similarity ``p -> zoom R(rotation) (p - c) + c + shift`` (pixels, degrees); a registration
    method that finds the guide position of each target pixel should recover ``T``.
    """
    guide = np.asarray(pair.guide)
    h, w = guide.shape[:2]
    theta = similarity_theta(rotation, zoom, shift, (h, w))
    A = torch.cat((theta.double(), torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64)))
    inv = torch.linalg.inv(A)[:2].float()
    out = _resample(guide, identity_grid(h, w) @ inv[:, :2].T + inv[:, 2])
    meta = {**pair.meta, "misalignment": {"shift_px": [float(shift[0]), float(shift[1])],
                                          "rotation_deg": float(rotation), "zoom": float(zoom)}}
    return replace(pair, guide=out, meta=meta)


def random_misalignment(rng: np.random.Generator, max_shift: float, max_rotation: float, max_zoom: float) -> dict:
    return {"shift": (float(rng.uniform(-max_shift, max_shift)), float(rng.uniform(-max_shift, max_shift))),
            "rotation": float(rng.uniform(-max_rotation, max_rotation)),
            "zoom": float(rng.uniform(1 - max_zoom, 1 + max_zoom))}


def shuffled_middlebury(root=None, seed: int = 2005, max_shift: float = 24.0, max_rotation: float = 3.0,
                        max_zoom: float = 0.03) -> list[GuidedPair]:
    """Middlebury 2005 pairs with seeded, documented misalignments (see the module text)."""
    from .datasets import load_middlebury2005

    rng = np.random.default_rng(seed)
    out = []
    for p in load_middlebury2005("test", root=root):
        m = random_misalignment(rng, max_shift, max_rotation, max_zoom)
        q = misalign(p, **m)
        out.append(replace(q, dataset="shuffled_middlebury", meta={**q.meta, "seed": seed}))
    return out


def distortion_field(size, k1: float = 0.0, amplitude_px: float = 0.0, cells: int = 3, seed: int = 0) -> np.ndarray:
    """A smooth displacement field ``u`` (``H x W x 2``, ``(dx, dy)`` in pixels) for :func:`distort`.

    Radial part: ``u(p) = k1 * r^2 * (p - c)`` with ``r = |p - c| / R`` and ``R`` the half-diagonal, so the
    corners move by ``k1 * R`` pixels. Random part: displacements drawn uniformly in ``[-amplitude_px,
    amplitude_px]`` at the ``(cells + 1)^2`` nodes of a coarse grid, interpolated bicubically.
    """
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    cy, cx = (h - 1) / 2, (w - 1) / 2
    R = np.hypot(cy, cx)
    r2 = ((yy - cy) ** 2 + (xx - cx) ** 2) / R**2
    u = np.stack((k1 * r2 * (xx - cx), k1 * r2 * (yy - cy)), -1)
    if amplitude_px > 0:
        rng = np.random.default_rng(seed)
        nodes = torch.from_numpy(rng.uniform(-amplitude_px, amplitude_px, (1, 2, cells + 1, cells + 1)))
        smooth = torch.nn.functional.interpolate(nodes, size=(h, w), mode="bicubic", align_corners=True)
        u = u + smooth[0].permute(1, 2, 0).numpy()
    return u


def distort(pair: GuidedPair, k1: float = 0.0, amplitude_px: float = 0.0, cells: int = 3, seed: int = 0) -> GuidedPair:
    """``pair`` with its guide resampled at ``p + u(p)`` (``u`` from :func:`distortion_field`): a smooth,
    non-rigid misalignment on top of whatever the guide had. ``pair.meta["distortion"]`` records it, with the
    field's mean and largest displacement in pixels."""
    guide = np.asarray(pair.guide)
    h, w = guide.shape[:2]
    u = distortion_field((h, w), k1, amplitude_px, cells, seed)
    pts = identity_grid(h, w, dtype=torch.float64) + torch.from_numpy(u) * torch.tensor([2.0 / w, 2.0 / h],
                                                                                       dtype=torch.float64)
    out = _resample(guide, pts.float())
    mag = np.hypot(u[..., 0], u[..., 1])
    meta = {**pair.meta, "distortion": {"k1": float(k1), "amplitude_px": float(amplitude_px), "cells": int(cells),
                                        "seed": int(seed), "mean_px": float(mag.mean()), "max_px": float(mag.max())}}
    return replace(pair, guide=out, meta=meta)


def misalignment_magnitude(shift, rotation: float, zoom: float, size) -> float:
    """Mean displacement in pixels that a misalignment causes over an image of ``size`` (a scale for plots)."""
    return registration_error_px(similarity_theta(rotation, zoom, shift, size), torch.eye(2, 3), size)


def with_guide_only_object(pair: GuidedPair, centre=None, radius: int = 40, period: int = 8) -> GuidedPair:
    """``pair`` with a textured disc (a checkerboard) pasted into the guide only (003, Fig. 5).

    The disc exists in the guide's modality but not in the target's: a method that copies guide structure
    regardless of the target will paint it into its output. ``pair.meta["guide_only_box"]`` holds
    ``(y0, x0, y1, x1)`` of the disc's bounding box, for measuring the damage there.
    """
    guide = np.array(pair.guide, copy=True)
    h, w = guide.shape[:2]
    cy, cx = centre if centre is not None else (h // 2, w // 2)
    if not (radius <= cy < h - radius and radius <= cx < w - radius):
        raise ValueError(f"a disc of radius {radius} at {(cy, cx)} does not fit in a {h}x{w} guide")
    yy, xx = np.mgrid[0:h, 0:w]
    disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
    checker = (((yy // period) + (xx // period)) % 2).astype(np.float64)
    value = np.where(checker > 0, 230.0, 25.0)
    if guide.ndim == 3:
        guide[disc] = np.clip(value[disc], 0, 255).astype(guide.dtype)[:, None]
    else:
        guide[disc] = np.clip(value[disc], 0, 255).astype(guide.dtype)
    box = (cy - radius, cx - radius, cy + radius + 1, cx + radius + 1)
    return replace(pair, guide=guide, meta={**pair.meta, "guide_only_box": box})
