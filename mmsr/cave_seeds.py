"""Seeds on CAVE: the CAVE-trained models scored image by image on the CAVE test scenes.

    python -m mmsr.cave_seeds --scale 4 --root ../shared/data [--run "recurrent_cave seed 1=runs/x/DIR" ...]
                              [--detail-transfer]

The multispectral table of the coupled-priors paper (640 nm band, RGB guide) is computed in chapter 7 from one
seed per model -- the committed weights. This scores bicubic, the committed CAVE weights (seed 0) and any training
run folder given with ``--run NAME=DIR`` (its weights file as written by :mod:`mmsr.train`) on the CAVE test scenes:
the 7 of the paper's table and ``cloth``; ``--detail-transfer`` adds the closed-form probe of
:mod:`mmsr.models.detail_transfer`, fitted on the training scenes (:func:`detail_transfer_methods`). One JSON line per (method, scene) with provenance is appended to
``results/cave/seeds_x<S>.jsonl`` (resumable: what is there is not scored again). The records have the shape of
:mod:`mmsr.guidance_check`'s, set ``"test"``, so its :func:`~mmsr.guidance_check.summary`,
:func:`~mmsr.guidance_check.seed_spread` and :func:`~mmsr.guidance_check.order_over_seeds` read them; a run scored
as ``"<model> seed <k>"`` is seed k of the committed ``<model>``.
Protocol: :data:`mmsr.reproduce.PROTOCOL_HERE_CAVE` (chapter 1's on the 16-bit band: peak 65535).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from .data.datasets import load_cave
from .evaluate import Bicubic, evaluate
from .guidance_check import committed_method, run_method, summary
from .recipes import TRAINABLE
from .records import append_record, has_record, latest, provenance, read_records
from .reproduce import CAVE_TABLE_NAMES, PROTOCOL_HERE_CAVE

DEFAULT_OUT = Path("results") / "cave"
#: the models trained on CAVE (the recipes whose data is ``"cave"``); their committed weights are seed 0
CAVE_MODELS = tuple(name for name, recipe in TRAINABLE.items() if recipe[3] == "cave")


def committed_methods(scale: int, names: Sequence[str] = CAVE_MODELS) -> dict:
    """``name -> (model, guide_mode, source)`` for bicubic and each of ``names`` with committed weights at
    ``scale`` (:func:`mmsr.guidance_check.committed_method`)."""
    out = {"bicubic": (Bicubic(scale), "gray", "formula")}
    out.update((name, m) for name in names if (m := committed_method(name, scale)) is not None)
    return out


def check_cave_run(folder, scale: int) -> None:
    """Refuse a run folder without a record, or trained on another dataset or scale (one line, before scoring)."""
    rec_path = Path(folder) / "record.json"
    if not rec_path.is_file():
        raise SystemExit(f"--run {folder}: no record.json (not a finished run of python -m mmsr.train)")
    meta = json.loads(rec_path.read_text())["meta"]
    if meta.get("data") != "cave" or meta.get("scale") != scale:
        raise SystemExit(f"--run {folder}: trained on {meta.get('data')} x{meta.get('scale')}, "
                         f"expected cave x{scale}")


def run(scale: int, root=None, out: Path = DEFAULT_OUT, methods: Optional[dict] = None, device=None) -> list[dict]:
    """Score ``methods`` on the CAVE test scenes (resumable; records appended to ``seeds_x<S>.jsonl``)."""
    device = device or torch.device("cpu")
    path = Path(out) / f"seeds_x{scale}.jsonl"
    records = read_records(path)
    methods = methods if methods is not None else committed_methods(scale)
    scenes = load_cave("test", root)
    for name, (model, guide_mode, source) in methods.items():
        todo = [p for p in scenes if not has_record(records, method=name, set="test", image=p.name, source=source)]
        if not todo:
            continue
        for row in evaluate(model, todo, scale, guide_mode=guide_mode, device=device):
            rec = {"experiment": "cave-seeds", "method": name, "set": "test", "scale": scale, "source": source,
                   "guide": guide_mode, **row, "protocol": PROTOCOL_HERE_CAVE, **provenance(device, "n/a")}
            append_record(path, rec)
            records.append(rec)
        print(f"[cave x{scale}] {name}: done", file=sys.stderr)
    return records


#: the two forms of :class:`mmsr.models.detail_transfer.GuideDetailTransfer` as scored here (``--detail-transfer``)
DETAIL_TRANSFER = {"detail transfer, fixed mix": False, "detail transfer, colour-dependent": True}


def detail_transfer_methods(scale: int, root=None, split: str = "train-minus-val") -> dict:
    """``name -> (model, "rgb", source)`` for both forms of the guide-detail-transfer probe, each fitted by least
    squares on every pixel of the CAVE ``split`` (the training scenes the learned CAVE models were trained on;
    never a test scene). The source names the split and the fitted coefficients."""
    from .data.datasets import cave_pairs
    from .evaluate import prepare_inputs
    from .models.detail_transfer import GuideDetailTransfer

    pairs, _ = cave_pairs(split, root)
    examples = []
    for p in pairs:
        lr, g, hr = prepare_inputs(p, scale, "rgb")
        examples.append((lr, g, torch.from_numpy(hr.astype("float64") / p.peak)))
    out = {}
    for name, colour in DETAIL_TRANSFER.items():
        m = GuideDetailTransfer(scale, 3, colour=colour).fit(examples)
        coef = ",".join(f"{c:.4g}" for c in m.coef.tolist())
        out[name] = (m, "rgb", f"least squares on CAVE {split} ({len(pairs)} scenes): coef=[{coef}]")
    return out


def scene_rows(records: Sequence[dict], methods: dict, scenes: Sequence[str] = tuple(CAVE_TABLE_NAMES)) -> list:
    """Table rows ``[label, PSNR per scene..., mean]`` (two decimals) for each method of ``methods`` (name in the
    records -> row label) scored on every one of ``scenes`` (default: the paper's 7; methods missing a scene are
    left out); the last record of each (method, scene) counts."""
    psnr = {(r["method"], r["image"]): r["psnr"] for r in latest(records)}
    return [[label] + [f"{psnr[(m, sc)]:.2f}" for sc in scenes] + [f"{np.mean([psnr[(m, sc)] for sc in scenes]):.2f}"]
            for m, label in methods.items() if all((m, sc) in psnr for sc in scenes)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mmsr.cave_seeds", description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=int, required=True, choices=(4, 8))
    ap.add_argument("--root", default=None, help="data root (default: $MMSR_DATA)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--run", action="append", default=[], metavar="NAME=DIR", help="also score a run folder")
    ap.add_argument("--only-runs", action="store_true", help="score only the --run folders (and bicubic)")
    ap.add_argument("--detail-transfer", action="store_true",
                    help="also fit and score the guide-detail-transfer probe, both forms (mmsr.models.detail_transfer)")
    a = ap.parse_args(argv)
    runs = [item.partition("=") for item in a.run]
    bad = [item for item, (name, _, folder) in zip(a.run, runs) if not name or not folder]
    if bad:
        raise SystemExit(f"--run expects NAME=DIR, got {bad[0]!r}")
    for _, _, folder in runs:   # before any scoring
        check_cave_run(folder, a.scale)
    methods = committed_methods(a.scale, () if a.only_runs else CAVE_MODELS)
    for name, _, folder in runs:
        methods[name] = run_method(folder)
    if a.detail_transfer:
        methods.update(detail_transfer_methods(a.scale, a.root))
    recs = run(a.scale, a.root, a.out, methods)
    print(json.dumps(summary(latest(recs), a.scale), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
