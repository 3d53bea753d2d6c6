"""The CMSR paper's experiments (``../shared/papers/003_*``) as resumable scripts that write result records.

``python -m mmsr.zeroshot_experiments EXPERIMENT [--mode M] [--seeds ...] [--out DIR] [--root DATA]``

* ``table1``: Table 1 of 003 at x4 -- ZSSR and CMSR (zero-shot, per seed), our guided filter and bicubic on
  the 8 EPFL NIR test images and on Shuffled-Middlebury (:func:`mmsr.data.misalign.shuffled_middlebury`);
  ULB17-VT when the user has it (:func:`mmsr.data.datasets.load_ulb17vt`); "VT": our visible-thermal
  substitute (:mod:`mmsr.data.thermal`: 8 test pairs of three cameras, HR thermal ground truth). The learned
  guided columns (DeepJF, VTSRCNN, VTSRGAN) use committed weights trained on each row's own training data and,
  on VT, the registered guide; the zero-shot methods get the raw, misaligned guide, as in the paper.
* ``deformation``: the Fig. 11 ablation -- no alignment / global registration / + affine / + CPAB / + TPS on
  weakly aligned pairs made from the EPFL *validation* images (never the test images), several runs each.
* ``alternating``: the Fig. 14 ablation -- PSNR against the alternating-scales probability ``p`` (validation).
* ``tolerance``: how far the global registration reaches -- registration error over a grid of shifts,
  rotations and zooms applied to the validation pairs (no training; seconds).
* ``speed``: wall time of a x4 CMSR on a 60x80 input and on a full NIR test image, with the PSNR reached.

Every result is one JSON line in ``DIR/<experiment>.jsonl`` with its provenance (git commit, device, time,
config, data split); a rerun skips the lines already there, so an interrupted run continues where it stopped.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np
import torch

from .checks import DataNotFoundError
from .data.datasets import load_epfl_nir, load_ulb17vt
from .data.thermal import load_visible_thermal
from .data.misalign import distort, misalign, misalignment_magnitude, random_misalignment, shuffled_middlebury
from .evaluate import Bicubic, evaluate
from .recipes import (guided_filter_model, load_pretrained, pretrained_guide_mode, pretrained_path,
                      zeroshot_config)
from .registration import register_global, registration_error_px, similarity_theta
from .runtime import Deadline, get_mode, try_gpu
from .records import append_record, has_record, provenance, read_records
from .storage import RunLock, preflight
from .zeroshot import ZeroShotMethod

DEFAULT_OUT = Path("results") / "cmsr"
SCALE = 4


def summarise(records: Sequence[dict], metric: str = "psnr") -> dict:
    """Per (method, dataset): mean over images of each seed, then mean and std over seeds."""
    out: dict = {}
    groups: dict = {}
    for r in records:
        groups.setdefault((r["method"], r["dataset"]), {}).setdefault(r.get("seed", 0), []).append(r[metric])
    for (m, d), by_seed in groups.items():
        means = [float(np.mean(v)) for v in by_seed.values()]
        out.setdefault(m, {})[d] = {"mean": float(np.mean(means)), "std": float(np.std(means, ddof=1)) if len(means) > 1 else 0.0,
                                    "n_seeds": len(means), "n_images": max(len(v) for v in by_seed.values())}
    return out



def ablation_summary(records: Sequence[dict], order: Optional[Sequence[str]] = None) -> dict:
    """Per variant of an ablation (Fig. 11, Fig. 14): mean over images within each run, then mean and spread
    (population std) over runs. ``order``: the variants to keep, in this order; default: every variant in the
    records, sorted by the number after ``=`` when they are ``p=...`` settings, else by name.

    Returns ``{variant: {"mean", "spread", "runs", "images"}}`` in display order.
    """
    per_run: dict = {}
    for r in records:
        per_run.setdefault(r["variant"], {}).setdefault(r.get("seed", 0), []).append(r["psnr"])
    if order is None:
        def key(v):
            try:
                return (0, float(v.split("=", 1)[1]), v)
            except (IndexError, ValueError):
                return (1, 0.0, v)
        order = sorted(per_run, key=key)
    out = {}
    for v in order:
        if v not in per_run:
            continue
        run_means = [float(np.mean(x)) for x in per_run[v].values()]
        out[v] = {"mean": float(np.mean(run_means)), "spread": float(np.std(run_means)), "runs": len(run_means),
                  "images": len({r["image"] for r in records if r["variant"] == v})}
    return out


# ------------------------------------------------------------------------------------------------ datasets
def table1_datasets(root=None) -> dict:
    """``{"NIR": pairs, "SMB": pairs, "U-VT": pairs, "VT": pairs}`` for what is available under the data root
    (VT: with the registered guide; :func:`zeroshot_pairs` gives the zero-shot methods their input)."""
    sets = {"NIR": load_epfl_nir("test", root=root)}
    try:
        sets["SMB"] = shuffled_middlebury(root=root)
    except DataNotFoundError:
        pass
    try:
        sets["U-VT"] = load_ulb17vt("test", root=root)
    except DataNotFoundError:
        pass
    try:
        sets["VT"] = load_visible_thermal("test", root=root)
    except DataNotFoundError:
        pass
    return sets


def zeroshot_pairs(dataset: str, pairs, root=None) -> list:
    """The zero-shot methods' input for a Table-1 row: the raw (unregistered) guide on VT, else ``pairs``."""
    return load_visible_thermal("test", root=root, registered=False) if dataset == "VT" else pairs


#: The non-rigid residue of the second Fig. 11 experiment (see :func:`mmsr.data.misalign.distort`): radial
#: distortion moving the corners by about 8 px plus a smooth random field of up to 6 px on a 3x3 grid; on the
#: validation images the best affine fit leaves a mean of about 3 px (HR) unexplained.
NONRIGID = {"k1": 0.02, "amplitude_px": 6.0, "cells": 3}


def validation_pairs(root=None, misaligned: bool = False, seed: int = 11, nonrigid: bool = False) -> list:
    """The EPFL validation images (from the training set), optionally with seeded rig-like misalignments
    (a similarity: shift up to 24 px, rotation up to 3 degrees, zoom within 3 %) and a non-rigid residue."""
    pairs = load_epfl_nir("val", root=root)
    if misaligned:
        rng = np.random.default_rng(seed)
        pairs = [misalign(p, **random_misalignment(rng, 24.0, 3.0, 0.03)) for p in pairs]
    if nonrigid:
        pairs = [distort(p, **NONRIGID, seed=seed + i) for i, p in enumerate(pairs)]
    return pairs


def _score(method, pairs, guide_mode: str) -> list[dict]:
    return evaluate(method, pairs, SCALE, guide_mode=guide_mode)


#: The learned guided columns' committed weights per Table-1 dataset (trained on aligned pairs, as these methods
#: require): DeepJF on NIR training images for NIR, on RGB-D pairs disjoint from the Middlebury 2005 scenes for
#: Shuffled-Middlebury, on the registered visible-thermal training pairs for VT; VTSRCNN / VTSRGAN likewise.
LEARNED_WEIGHTS = {"djf": {"NIR": "djf", "SMB": "djf_depth", "VT": "djf_vt"},
                   "vtsrcnn": {"NIR": "vtsrcnn", "VT": "vtsrcnn_vt", "SMB": "vtsrcnn_depth"},
                   "vtsrgan": {"NIR": "vtsrgan", "VT": "vtsrgan_vt", "SMB": "vtsrgan_depth"}}
DEEPJF_WEIGHTS = LEARNED_WEIGHTS["djf"]


def deepjf_for(dataset: str):
    """``(model, guide_mode, provenance)`` of the committed DeepJF for a Table-1 dataset, or ``None``."""
    return learned_for("djf", dataset)


def learned_for(method: str, dataset: str):
    """``(model, guide_mode, provenance)`` of a learned column (:data:`LEARNED_WEIGHTS`) for a Table-1 dataset,
    or ``None`` without committed weights."""
    name = LEARNED_WEIGHTS[method].get(dataset)
    path = pretrained_path(name, SCALE) if name else None
    if path is None or not path.is_file():
        return None
    rec = json.loads(path.with_suffix(".json").read_text())
    weights = {"file": f"mmsr/weights/{path.name}", "trained_at_commit": rec["git_commit"], "steps": rec["steps"],
               "train_split": rec["meta"]["train_split"], "train_data": rec["meta"]["data"]}
    return load_pretrained(name, SCALE), pretrained_guide_mode(name, SCALE), {"weights": weights}


#: Zero-shot methods of Table 1: record name -> (method, overrides of the run mode's configuration).
#: "zssr-8x64" is ZSSR with its authors' network (8 layers of 64 channels) at the run mode's step budget.
TABLE1_METHODS = {"zssr": ("zssr", {}), "cmsr": ("cmsr", {}), "zssr-8x64": ("zssr", {"width": 64, "depth": 8})}


# --------------------------------------------------------------------------------------------- experiments
def _out_of_time(deadline: Optional[Deadline], what: str, tag: str) -> bool:
    if deadline is None or deadline.allows():
        return False
    print(f"[{tag}] time budget: stopping before {what} ({deadline.remaining():.0f} s left, the longest run took "
          f"{deadline.longest:.0f} s); run the same command again to continue", file=sys.stderr)
    return True


def run_table1(out: Path, mode: str, seeds: Sequence[int], root=None, device=None, methods=("zssr", "cmsr"),
               datasets: Optional[Iterable[str]] = None, progress: bool = False,
               deadline: Optional[Deadline] = None) -> list[dict]:
    unknown = [m for m in methods if m not in TABLE1_METHODS]
    if unknown:
        raise ValueError(f"unknown Table-1 method(s) {unknown}; expected some of {sorted(TABLE1_METHODS)}")
    path = out / "table1.jsonl"
    records = read_records(path)
    device = device or try_gpu()
    sets = table1_datasets(root)
    for d in (datasets or sets):
        if d not in sets:
            print(f"[table1] {d}: not available under the data root, skipped", file=sys.stderr)
            continue
        pairs = sets[d]
        fixed = [("bicubic", Bicubic(SCALE), "gray", {}), ("guided_filter", guided_filter_model(SCALE), "gray", {})]
        for learned in LEARNED_WEIGHTS:
            got = learned_for(learned, d)
            if got is not None:
                fixed.append((learned, *got))
        for name, model, gm, extra in fixed:
            if not has_record(records, method=name, dataset=d):
                for row in _score(model, pairs, gm):
                    rec = {"experiment": "table1", "method": name, "dataset": d, "seed": 0, **row, **extra,
                           **provenance(torch.device("cpu"), mode)}
                    append_record(path, rec)
                    records.append(rec)
        zs_pairs = zeroshot_pairs(d, pairs, root) if methods else pairs
        for m in methods:
            base, overrides = TABLE1_METHODS[m]
            for seed in seeds:
                for p in zs_pairs:
                    if has_record(records, method=m, dataset=d, seed=seed, image=p.name):
                        continue
                    if _out_of_time(deadline, f"{m} {d} {p.name} seed {seed}", "table1"):
                        return records
                    if deadline is not None:
                        deadline.start()
                    cfg = zeroshot_config(base, mode, seed=seed, **overrides)
                    zs = ZeroShotMethod(cfg, SCALE, device=device, progress=progress)
                    row = _score(zs, [p], "rgb" if base == "cmsr" else "gray")[0]
                    rec = {"experiment": "table1", "method": m, "dataset": d, "seed": seed, **row,
                           "train_seconds": zs.last_run.seconds["total"], "config": cfg.to_dict(),
                           "split": f"{d} test images", **provenance(device, mode)}
                    append_record(path, rec)
                    records.append(rec)
                    if deadline is not None:
                        deadline.done()
                    print(f"[table1] {m} {d} {p.name} seed {seed}: {row['psnr']:.2f} dB, {row['seconds']:.0f} s",
                          file=sys.stderr)
    return records


DEFORMATION_VARIANTS = {
    "none": {"register": False, "deformation": ()},
    "registration": {"register": True, "deformation": ()},
    "+affine": {"register": True, "deformation": ("affine",)},
    "+cpab": {"register": True, "deformation": ("affine", "cpab")},
    "+tps": {"register": True, "deformation": ("affine", "cpab", "tps")},
}


def run_variants(name: str, variants: dict, pairs, out: Path, mode: str, runs: int, device=None,
                 progress: bool = False, deadline: Optional[Deadline] = None) -> list[dict]:
    path = out / f"{name}.jsonl"
    records = read_records(path)
    device = device or try_gpu()
    for run in range(runs):
        for label, overrides in variants.items():
            for p in pairs:
                if has_record(records, variant=label, seed=run, image=p.name):
                    continue
                if _out_of_time(deadline, f"{label} {p.name} run {run}", name):
                    return records
                if deadline is not None:
                    deadline.start()
                cfg = zeroshot_config("cmsr", mode, seed=run, **overrides)
                zs = ZeroShotMethod(cfg, SCALE, device=device, progress=progress)
                row = _score(zs, [p], "rgb")[0]
                rec = {"experiment": name, "method": "cmsr", "dataset": "epfl val" + (" misaligned" if "misalignment" in p.meta else "")
                       + (" non-rigid" if "distortion" in p.meta else ""),
                       "variant": label, "seed": run, **row, "misalignment": p.meta.get("misalignment"),
                       "distortion": p.meta.get("distortion"),
                       "config": cfg.to_dict(), **provenance(device, mode)}
                append_record(path, rec)
                records.append(rec)
                if deadline is not None:
                    deadline.done()
                print(f"[{name}] {label} {p.name} run {run}: {row['psnr']:.2f} dB", file=sys.stderr)
    return records


def run_tolerance(out: Path, root=None, shifts=(0, 16, 32, 48, 64, 96), rotations=(0, 2, 4, 6, 8, 10, 14),
                  zooms=(0.9, 0.95, 1.0, 1.05, 1.1)) -> list[dict]:
    """Registration error (HR pixels) over one-factor-at-a-time grids of misalignment, on validation pairs."""
    path = out / "tolerance.jsonl"
    if path.exists():
        path.unlink()
    from .evaluate import prepare_inputs

    records = []
    grid = ([("shift", (s, -0.6 * s), 0.0, 1.0) for s in shifts] + [("rotation", (0, 0), r, 1.0) for r in rotations]
            + [("zoom", (0, 0), 0.0, z) for z in zooms])
    for p in validation_pairs(root):
        for factor, shift, rot, zoom in grid:
            q = misalign(p, shift, rot, zoom)
            lr, g, _ = prepare_inputs(q, SCALE, "rgb")
            t0 = time.perf_counter()
            reg = register_global(lr, g)
            dt = time.perf_counter() - t0
            H, W = g.shape[-2:]
            err = registration_error_px(reg.theta, similarity_theta(rot, zoom, shift, (H, W)), (H, W))
            before = misalignment_magnitude(shift, rot, zoom, (H, W))
            rec = {"experiment": "tolerance", "image": p.name, "factor": factor, "shift_px": list(shift),
                   "rotation_deg": rot, "zoom": zoom, "misalignment_px": before, "error_px": err, "seconds": dt,
                   **provenance(torch.device("cpu"), "n/a")}
            append_record(path, rec)
            records.append(rec)
    return records


def run_speed(out: Path, mode: str, root=None, device=None) -> list[dict]:
    """x4 CMSR wall time and PSNR on a 60x80 LR input (a crop of a test image) and on a whole test image."""
    path = out / "speed.jsonl"
    device = device or try_gpu()
    p = load_epfl_nir("test", root=root)[1]
    crop = replace(p, name=p.name + "_240x320", target=p.target[200:440, 300:620], guide=p.guide[200:440, 300:620])
    records = []
    for q in (crop, p):
        cfg = zeroshot_config("cmsr", mode, seed=0)
        zs = ZeroShotMethod(cfg, SCALE, device=device)
        row = _score(zs, [q], "rgb")[0]
        rec = {"experiment": "speed", "method": "cmsr", "image": q.name, "lr_size": [q.target.shape[0] // 4, q.target.shape[1] // 4],
               **row, "timings": zs.last_run.seconds, "config": cfg.to_dict(), **provenance(device, mode)}
        append_record(path, rec)
        records.append(rec)
        print(f"[speed] {q.name}: {row['seconds']:.1f} s, {row['psnr']:.2f} dB", file=sys.stderr)
    return records


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mmsr.zeroshot_experiments", description=__doc__.split("\n\n")[0])
    ap.add_argument("experiment", choices=("table1", "deformation", "alternating", "tolerance", "speed"))
    ap.add_argument("--mode", default=None, help="smoke | default | full (default: $MMSR_MODE or default)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (table1) / runs (ablations)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--root", default=None, help="data root (default: $MMSR_DATA)")
    ap.add_argument("--datasets", nargs="+", default=None, help="table1: a subset of NIR SMB U-VT VT")
    ap.add_argument("--methods", nargs="+", default=["zssr", "cmsr"], choices=sorted(TABLE1_METHODS))
    ap.add_argument("--p", type=float, nargs="+", default=[0.0, 0.1, 0.3, 0.5])
    ap.add_argument("--nonrigid", action="store_true",
                    help="deformation: add the non-rigid residue NONRIGID (records go to deformation_nonrigid.jsonl)")
    ap.add_argument("--variants", nargs="+", default=None, help="deformation: a subset of DEFORMATION_VARIANTS")
    ap.add_argument("--device", default=None)
    ap.add_argument("--progress", action="store_true")
    ap.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                    help="table1/deformation/alternating: start no run that would end past this many seconds; "
                         "re-run the same command to continue (records are kept run by run)")
    a = ap.parse_args(argv)
    mode = get_mode(a.mode)
    dev = try_gpu(a.device)
    try:
        deadline = Deadline(a.time_budget) if a.time_budget is not None else None
    except ValueError as e:
        raise SystemExit(f"--time-budget: {e}") from None
    preflight(a.out, 1 << 20, "records folder")
    with RunLock(a.out):
        return _run(a, mode, dev, deadline)


def _run(a, mode, dev, deadline) -> int:
    if a.experiment == "table1":
        recs = run_table1(a.out, mode, a.seeds, a.root, dev, a.methods, a.datasets, a.progress, deadline)
        print(json.dumps(summarise(recs), indent=1))
    elif a.experiment == "deformation":
        variants = {k: v for k, v in DEFORMATION_VARIANTS.items() if a.variants is None or k in a.variants}
        recs = run_variants("deformation_nonrigid" if a.nonrigid else "deformation", variants,
                            validation_pairs(a.root, misaligned=True, nonrigid=a.nonrigid), a.out, mode, len(a.seeds),
                            dev, a.progress, deadline)
    elif a.experiment == "alternating":
        variants = {f"p={p:g}": {"alternating_p": p} for p in a.p}
        recs = run_variants("alternating", variants, validation_pairs(a.root), a.out, mode, len(a.seeds), dev,
                            a.progress, deadline)
    elif a.experiment == "tolerance":
        recs = run_tolerance(a.out, a.root)
    else:
        recs = run_speed(a.out, mode, a.root, dev)
    print(f"{len(recs)} records in {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
