"""How a super-resolution table is made: the choices that move its numbers, as named options, and a sweep that
measures how far each one moves each method.

    python -m mmsr.protocols --scale 4 --root ../shared/data [--out results/protocols]

Two kinds of choice:

* **degradations** (:data:`DEGRADATIONS_COMPARED`): how the LR input is made from the HR target -- MATLAB's
  antialiased bicubic (ours), the same kept in floating point (not rounded to 8 bits; the authors' earlier
  coupled-dictionary code does this), bicubic without antialiasing (what ``torch`` and many Python pipelines do),
  Gaussian blur and decimation. Learned models here were trained on the first; under the others they also meet
  inputs they were not trained for, which is part of what a different protocol does to a table.
* **measures** (:data:`MEASURES`): how a finished output is scored -- full image or a border crop, quantised
  or float output, PSNR on ``[0, 1]`` data with a peak of 255 (a slip that adds 48 dB), SSIM with Wang et al.'s
  Gaussian window (ours) or a uniform 7x7 window, and SSIM constants from a data range that does not match the
  data (``[0, 1]`` floats with a range of 2, scikit-image's old float default, or of 255).

Every method is run once per (degradation, image); all measures are computed from that one output. Each record
is one (method, degradation, image) with every measure, the weights' source, commit and device
(``results/protocols/protocols_x<S>.jsonl``, resumable).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from .degrade import degrade, modcrop
from .metrics import psnr, quantize, ssim

DEFAULT_OUT = Path("results") / "protocols"


@dataclass(frozen=True)
class Degradation:
    """How the LR input is made: ``kind`` of :func:`mmsr.degrade.degrade`, and whether it is rounded to the
    target's bit depth (as saving it as an image would)."""
    name: str
    kind: str
    round_lr: bool = True
    sigma: Optional[float] = None   # Gaussian only; default r / 2


DEGRADATIONS_COMPARED = (
    Degradation("MATLAB bicubic (ours)", "bicubic"),
    Degradation("MATLAB bicubic, LR kept in float", "bicubic", round_lr=False),
    Degradation("bicubic without antialiasing", "bicubic-noaa"),
    Degradation("Gaussian blur (sigma r/2) + decimation", "gaussian"),
)
OURS_DEGRADATION = DEGRADATIONS_COMPARED[0].name


@dataclass(frozen=True)
class Measure:
    """How an output is scored. ``crop``: 0, ``"scale"`` (r pixels) or a number of pixels; ``unit_data``: score
    ``[0, 1]`` floats instead of the 8-bit scale; ``peak`` / ``data_range``: ``None`` means the target's peak
    on the scale scored."""
    name: str
    metric: str                      # "psnr" | "ssim"
    crop: object = 0
    quantized: bool = True
    unit_data: bool = False
    peak: Optional[float] = None
    window: str = "gaussian"
    data_range: Optional[float] = None


MEASURES = (
    Measure("PSNR (ours)", "psnr"),
    Measure("PSNR, border crop r", "psnr", crop="scale"),
    Measure("PSNR, border crop 8 px", "psnr", crop=8),
    Measure("PSNR, float output", "psnr", quantized=False),
    Measure("PSNR, [0,1] data with peak 255", "psnr", unit_data=True, peak=255.0),
    Measure("SSIM (ours)", "ssim"),
    Measure("SSIM, uniform 7x7 window", "ssim", window="uniform"),
    Measure("SSIM, border crop r", "ssim", crop="scale"),
    Measure("SSIM, [0,1] data with range 2", "ssim", unit_data=True, data_range=2.0),
    Measure("SSIM, [0,1] data with range 255", "ssim", unit_data=True, data_range=255.0),
)
OURS_MEASURE = {"psnr": "PSNR (ours)", "ssim": "SSIM (ours)"}


def low_resolution(pair, scale: int, degradation: Degradation) -> np.ndarray:
    """The LR observation of ``pair``'s (cropped) target under ``degradation``, float64 on the target's scale."""
    hr = modcrop(pair.target, scale).astype(np.float64)
    if degradation.kind == "gaussian":
        lr = degrade(torch.from_numpy(hr)[None, None], scale, kind="gaussian",
                     sigma=degradation.sigma).numpy()[0, 0]
    else:
        lr = np.asarray(degrade(hr, scale, kind=degradation.kind), dtype=np.float64)
    return np.clip(np.round(lr), 0, pair.peak) if degradation.round_lr else lr


def measure(estimate: np.ndarray, reference: np.ndarray, scale: int, peak: float, m: Measure,
            bit_depth: int = 8) -> float:
    """Score ``estimate`` (float, target scale) against ``reference`` under measure ``m``."""
    est = quantize(estimate, bit_depth) if m.quantized else np.clip(np.asarray(estimate, np.float64), 0, peak)
    ref = np.asarray(reference, dtype=np.float64)
    crop = scale if m.crop == "scale" else int(m.crop)
    native = peak
    if m.unit_data:
        est, ref, native = est / peak, ref / peak, 1.0
    if m.metric == "psnr":
        return psnr(est, ref, peak=m.peak or native, crop_border=crop)
    if m.metric == "ssim":
        return ssim(est, ref, peak=native, crop_border=crop, window=m.window, data_range=m.data_range or native)
    raise ValueError(f"unknown metric {m.metric!r}")


@torch.no_grad()
def run_method(model, pair, scale: int, degradation: Degradation, guide_mode: str, device=None) -> np.ndarray:
    """The method's output for ``pair`` when its LR input is made by ``degradation`` (float64, target scale)."""
    from .data.patches import guide_channels

    device = device or torch.device("cpu")
    lr = torch.from_numpy(low_resolution(pair, scale, degradation) / pair.peak).float()[None, None]
    g = torch.from_numpy(guide_channels(modcrop(pair.guide, scale), guide_mode) / 255.0).float()[None]
    if isinstance(model, torch.nn.Module):
        model.eval()
    out = model(lr.to(device), g.to(device))
    return out.detach().double().cpu().numpy()[0, 0] * pair.peak


def sweep(methods: dict, pairs: Sequence, scale: int, out: Optional[Path] = None,
          degradations: Sequence[Degradation] = DEGRADATIONS_COMPARED, measures: Sequence[Measure] = MEASURES,
          device=None, progress: bool = False) -> list[dict]:
    """Every method x degradation x image, scored under every measure. ``methods``: ``name -> (model,
    guide_mode, source)`` as :func:`mmsr.guidance_check.committed_methods` returns. With ``out``, records are
    appended to ``out/protocols_x<S>.jsonl`` and finished ones are skipped (resumable)."""
    from .records import append_record, has_record, provenance, read_records

    path = Path(out) / f"protocols_x{scale}.jsonl" if out is not None else None
    records = read_records(path) if path is not None else []
    device = device or torch.device("cpu")
    new = []
    for name, (model, guide_mode, source) in methods.items():
        if isinstance(model, torch.nn.Module):
            model.to(device)
        for deg in degradations:
            for p in pairs:
                if has_record(records, method=name, degradation=deg.name, image=p.name, source=source, scale=scale):
                    continue
                est = run_method(model, p, scale, deg, guide_mode, device)
                ref = modcrop(p.target, scale)
                rec = {"experiment": "protocols", "method": name, "degradation": deg.name, "image": p.name,
                       "scale": scale, "source": source,
                       "values": {m.name: measure(est, ref, scale, p.peak, m, p.bit_depth) for m in measures},
                       **provenance(device, "n/a")}
                new.append(rec)
                records.append(rec)
                if path is not None:
                    append_record(path, rec)
            if progress:
                print(f"[protocols x{scale}] {name}, {deg.name}: done", file=sys.stderr)
    return records if path is not None else new


def shifts(records: Sequence[dict], scale: int, metric: str = "psnr") -> dict:
    """How far each choice moves each method's average: ``{method: {choice: (average, shift from ours)}}``.

    Degradation choices are scored with our measure; measure choices on our degradation. Only images present
    for every choice of a method are averaged, so a shift is never an artefact of a missing image."""
    latest = {}
    for r in records:
        if r.get("scale") == scale:
            latest[(r["method"], r["degradation"], r["image"])] = r   # newest record wins
    out: dict = {}
    methods = list(dict.fromkeys(k[0] for k in latest))
    ours_m = OURS_MEASURE[metric]
    for meth in methods:
        choices = {}
        for deg in DEGRADATIONS_COMPARED:
            choices[deg.name] = {i: r["values"][ours_m] for (m, d, i), r in latest.items()
                                 if m == meth and d == deg.name}
        for mea in MEASURES:
            if mea.metric == metric and mea.name != ours_m:
                choices[mea.name] = {i: r["values"][mea.name] for (m, d, i), r in latest.items()
                                     if m == meth and d == OURS_DEGRADATION}
        base = choices.get(OURS_DEGRADATION, {})
        res = {}
        for ch, vals in choices.items():
            common = sorted(set(vals) & set(base))
            if not common:
                continue
            avg = float(np.mean([vals[i] for i in common]))
            res[ch] = (avg, avg - float(np.mean([base[i] for i in common])))
        if res:
            out[meth] = res
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="How far each protocol choice moves each NIR method (test images).")
    ap.add_argument("--scale", type=int, required=True)
    ap.add_argument("--root", default=None, help="data root (default: $MMSR_DATA, else the embedded default)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--methods", default=None, help="comma-separated subset of the committed methods ('' for none)")
    ap.add_argument("--run", action="append", default=[], metavar="NAME=DIR",
                    help="also score a finished training run (e.g. a baseline trained under another degradation)")
    ap.add_argument("--degradations", default=None,
                    help="comma-separated subset of: " + ", ".join(d.kind + ("" if d.round_lr else "-float")
                                                                    for d in DEGRADATIONS_COMPARED))
    ap.add_argument("--device", default=None)
    a = ap.parse_args(argv)
    from .checks import check_scale
    from .data.datasets import nir_pairs
    from .guidance_check import committed_methods
    from .runtime import try_gpu
    from .storage import preflight

    check_scale(a.scale)
    degs = DEGRADATIONS_COMPARED
    if a.degradations is not None:
        by_key = {d.kind + ("" if d.round_lr else "-float"): d for d in DEGRADATIONS_COMPARED}
        keys = [k.strip() for k in a.degradations.split(",") if k.strip()]
        bad = sorted(set(keys) - set(by_key))
        if bad:
            ap.error(f"unknown degradations {bad}; known: {sorted(by_key)}")
        degs = tuple(by_key[k] for k in keys)
    runs = {}
    for spec in a.run:
        name, _, folder = spec.partition("=")
        if not name or not (Path(folder) / "record.json").is_file():
            ap.error(f"--run wants NAME=DIR with a finished run (record.json) in DIR, got {spec!r}")
        runs[name] = folder
    methods = committed_methods(a.scale)
    if a.methods is not None and not a.methods.strip():
        methods = {}
    elif a.methods:
        wanted = [m.strip() for m in a.methods.split(",") if m.strip()]
        unknown = sorted(set(wanted) - set(methods))
        if unknown:
            ap.error(f"unknown or uncommitted methods {unknown}; available: {sorted(methods)}")
        methods = {m: methods[m] for m in wanted}
    from .guidance_check import run_method as load_run

    for name, folder in runs.items():
        methods[name] = load_run(folder)
    preflight(a.out)
    pairs, source = nir_pairs("test", a.root)   # the embedded default without a data root
    print(f"[protocols x{a.scale}] {len(pairs)} test pairs from {source}", file=sys.stderr)
    recs = sweep(methods, pairs, a.scale, a.out, degradations=degs, device=try_gpu(a.device), progress=True)
    for meth, res in shifts(recs, a.scale).items():
        print(f"{meth}: " + "; ".join(f"{k} {v[0]:.2f} ({v[1]:+.2f})" for k, v in res.items()))
    return 0


def ranks(values: Sequence[float]) -> np.ndarray:
    """Ranks 0..n-1 of ``values`` (ties share their mean rank)."""
    from scipy.stats import rankdata

    return rankdata(np.asarray(values, dtype=np.float64), method="average") - 1.0


def rank_agreement(ours: Sequence[float], reported: Sequence[float], permutations: int = 20000,
                   seed: int = 0) -> tuple:
    """Do two lists of per-image scores rank the images alike? Returns Spearman's rank correlation and the share
    of random re-orderings of ``reported`` that agree at least as well (a one-sided permutation p-value).

    Used to check that our image ids are the paper's: the absolute values differ between protocols, but the easy
    and hard images stay easy and hard, so with the right ids the ranks agree; with shuffled ids they do not."""
    a, b = ranks(ours), ranks(reported)
    if len(a) != len(b) or len(a) < 3:
        raise ValueError(f"need two lists of the same length >= 3, got {len(a)} and {len(b)}")
    rho = float(np.corrcoef(a, b)[0, 1])
    rng = np.random.default_rng(seed)
    null = np.array([np.corrcoef(a, rng.permutation(b))[0, 1] for _ in range(permutations)])
    return rho, float(np.mean(null >= rho - 1e-12))


def depth_conventions(pairs: Sequence, scale: int = 4) -> dict:
    """Bicubic x``scale`` on depth pairs (Shuffled-Middlebury's targets) under the choices a depth table makes:
    ``{convention: [PSNR per pair]}``.

    * disparity as stored (8 bits), full image, peak 255 -- ours;
    * holes (disparity 0, no measurement) left out of the error;
    * peak = the pair's largest disparity instead of 255;
    * depth (proportional to 1 / disparity, holes filled with the largest depth) rescaled to 0..255 --
      what a table "on depth" computes; near objects, large disparities, become small depths.
    """
    from .evaluate import Bicubic

    up = Bicubic(scale)
    out = {"disparity, full image, peak 255 (ours)": [], "disparity, holes left out": [],
           "disparity, peak = largest disparity": [], "depth (1/disparity) scaled to 0..255": []}

    def sr(img):
        lr = np.clip(np.round(np.asarray(degrade(img.astype(np.float64), scale), dtype=np.float64)), 0, 255)
        return quantize(up(torch.from_numpy(lr / 255.0)[None, None]).numpy()[0, 0] * 255.0)

    for p in pairs:
        disp = modcrop(p.target, scale).astype(np.float64)
        est = sr(disp)
        out["disparity, full image, peak 255 (ours)"].append(psnr(est, disp, peak=255.0))
        valid = disp > 0
        out["disparity, holes left out"].append(
            float(10 * np.log10(255.0**2 / np.mean((est[valid] - disp[valid]) ** 2))))
        out["disparity, peak = largest disparity"].append(psnr(est, disp, peak=float(disp.max())))
        depth = np.where(valid, 1.0 / np.maximum(disp, 1.0), 1.0)
        depth = np.round(255.0 * (depth - depth.min()) / max(depth.max() - depth.min(), 1e-12))
        out["depth (1/disparity) scaled to 0..255"].append(psnr(sr(depth), depth, peak=255.0))
    return out


if __name__ == "__main__":
    raise SystemExit(main())
