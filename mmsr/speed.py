"""Inference time of the committed NIR models on one full-size image: ``python -m mmsr.speed --scale 4``.

The issues set a goal of at most 5 s per 1024x680 NIR image on a 2-core CPU. This module measures it the same way
for every committed model and appends one record per model to ``results/speed/cpu_x<S>.jsonl``:

* input: a random LR image and guide of the full size (fixed seed; none of the networks skips work on zeros, so
  the time does not depend on the content and no data is needed);
* time: ``reps`` forward passes without autograd after one warm-up pass, reported as their median and all of them;
* conditions: threads used by PyTorch, the machine, PyTorch's version, the commit, and the 1-minute load average
  before and after -- other jobs on the same cores make every number slower, and the record says so.

The models run in inference mode, where CSCN and CoISTA code pixels in cache-sized chunks, SRFBN reconstructs only
its last step and the ``k -> 1`` convolutions use :func:`mmsr.ops.operators.conv2d_few_outputs`; training is unchanged.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional, Sequence

import torch

from .benchmark import forward_times
from .recipes import TRAINABLE, load_pretrained, pretrained_path
from .storage import read_weights, tensors_digest
from .training import device_description, git_commit
from .records import append_record, read_records

DEFAULT_OUT = Path("results") / "speed"
#: the NIR models the tables compare, in the order of the book (the visible-thermal baselines last: their NIR
#: weights are the ones a 1024x680 image is timed with)
MODELS = ("srcnn", "cscn", "srfbn", "djf", "coista", "lmcsc", "recurrent", "vtsrcnn", "vtsrgan")
FULL_SIZE = (680, 1024)
GOAL_SECONDS = 5.0


def _inputs(model, scale: int, size, seed: int = 0):
    h, w = size
    g = torch.Generator().manual_seed(seed)
    lr = torch.rand(1, 1, h // scale, w // scale, generator=g)
    guide = torch.rand(1, getattr(model, "guide_channels", 1), h, w, generator=g)
    return lr, guide


def time_model(model, scale: int, size=FULL_SIZE, reps: int = 3) -> list[float]:
    """Seconds of each of ``reps`` CPU forward passes (after one warm-up) on a random input of HR ``size``."""
    lr, guide = _inputs(model, scale, size)
    return forward_times(model, lr, guide, torch.device("cpu"), reps)


def _check(names: Sequence[str], scale: int, size, reps: int) -> None:
    unknown = [n for n in names if n not in TRAINABLE or TRAINABLE[n][3] != "nir"]
    if unknown:
        raise ValueError(f"unknown NIR model(s) {unknown}; choose from {list(MODELS)}")
    missing = [n for n in names if not pretrained_path(n, scale).is_file()]
    if missing:
        raise FileNotFoundError(f"no committed x{scale} weights for {missing} (mmsr/weights/<name>_x{scale}"
                                f".safetensors); train them with python -m mmsr.train")
    if len(size) != 2 or min(size) < scale or any(s % scale for s in size):
        raise ValueError(f"size must be (height, width), each a multiple of the scale {scale}, got {tuple(size)}")
    if reps < 1:
        raise ValueError(f"reps must be >= 1, got {reps}")


def measure(names: Optional[Sequence[str]] = None, scale: int = 4, size=FULL_SIZE, reps: int = 3,
            out: Optional[Path] = DEFAULT_OUT, threads: Optional[int] = None) -> list[dict]:
    """Time every model of ``names`` (committed weights at ``scale``; default: every model of :data:`MODELS` that
    has them); one record per model, appended to ``out/cpu_x<scale>.jsonl`` unless ``out`` is None. ``threads``
    sets PyTorch's CPU threads for the run."""
    names = [m for m in MODELS if pretrained_path(m, scale).is_file()] if names is None else list(names)
    _check(names, scale, size, reps)
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        torch.set_num_threads(threads)
    records = []
    for name in names:
        path = pretrained_path(name, scale)
        model = load_pretrained(name, scale)
        load_before = os.getloadavg()[0]
        times = time_model(model, scale, size, reps)
        records.append({
            "model": name, "scale": scale, "size": list(size), "seconds": statistics.median(times),
            "seconds_each": times, "threads": torch.get_num_threads(), "load_1min_before": load_before,
            "load_1min_after": os.getloadavg()[0], "weights": f"mmsr/weights/{path.name}@"
            f"{tensors_digest(read_weights(path)[0])[:10]}", "device": device_description(torch.device('cpu')),
            "torch": torch.__version__, "git_commit": git_commit(),
            "time_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")})
        if out is not None:
            append_record(Path(out) / f"cpu_x{scale}.jsonl", records[-1])
    return records


def latest(records: Sequence[dict]) -> list[dict]:
    """The newest record per model, in :data:`MODELS` order (records are appended, so later ones win)."""
    by_model = {r["model"]: r for r in records}
    return [by_model[m] for m in MODELS if m in by_model] + [r for m, r in by_model.items() if m not in MODELS]


def speed_rows(records: Sequence[dict], goal: float = GOAL_SECONDS) -> list[dict]:
    """Rows for a table: model, median seconds, whether it meets ``goal``, and the conditions."""
    return [{"model": r["model"], "image": "x".join(map(str, r["size"][::-1])), "seconds": f"{r['seconds']:.2f}",
             f"<= {goal:g} s": "yes" if r["seconds"] <= goal else "no", "threads": r["threads"],
             "load before/after": f"{r['load_1min_before']:.1f} / {r['load_1min_after']:.1f}",
             "commit": r["git_commit"][:7], "measured": r["time_utc"][:10]} for r in latest(records)]


def read(scale: int = 4, out: Path = DEFAULT_OUT) -> list[dict]:
    return read_records(Path(out) / f"cpu_x{scale}.jsonl")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mmsr.speed", description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--models", nargs="+", default=None,
                    help="default: every model of the book's NIR tables with committed weights at the scale")
    ap.add_argument("--size", type=int, nargs=2, default=list(FULL_SIZE), metavar=("H", "W"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="PyTorch CPU threads (default: PyTorch's choice)")
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    args = ap.parse_args(argv)
    try:
        recs = measure(args.models, args.scale, tuple(args.size), args.reps, Path(args.out), args.threads)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for r in recs:
        print(f"{r['model']}: {r['seconds']:.2f} s per {r['size'][1]}x{r['size'][0]} image ({r['threads']} threads,"
              f" load {r['load_1min_before']:.1f} -> {r['load_1min_after']:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
