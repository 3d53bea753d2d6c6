"""Command-line training: ``python -m mmsr.train srcnn --scale 2 --mode full --out runs/srcnn_x2``.

Runs without Jupyter (GPU machines, batch jobs) and under ``torchrun`` for data parallel training.
Re-running the same command resumes from the newest intact ``<out>/checkpoint-<step>.pt``. Writes
``weights.safetensors`` and ``record.json``. ``--time-budget SECONDS`` stops cleanly (with a checkpoint) before
the budget runs out, for time-limited or preemptible machines; the same command then continues bit for bit.
"""
from __future__ import annotations

import argparse
import ast
import json
import sys

from .data.patches import check_rescale
from .degrade import DEGRADATIONS
from .recipes import TRAINABLE, VALIDATION_SPLITS, train_model
from .runtime import MODES


def parse_overrides(items) -> dict:
    """``["lr=3e-4", "milestones=(1000, 1500)"]`` -> ``{"lr": 0.0003, "milestones": (1000, 1500)}``."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set expects KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            out[key.strip()] = value.strip()
    return out


def _rescale_factors(text: str) -> tuple:
    """``--rescale``'s comma-separated factors, checked (a bad one: argparse's one-line error)."""
    try:
        return check_rescale([f for f in text.split(",") if f.strip()])
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mmsr.train", description=__doc__.splitlines()[0])
    ap.add_argument("model", choices=sorted(TRAINABLE))
    ap.add_argument("--scale", type=int, required=True)
    ap.add_argument("--mode", choices=MODES, default=None, help="run mode (default: $MMSR_MODE or 'default')")
    ap.add_argument("--data-root", default=None, help="data root (default: $MMSR_DATA, else the embedded default)")
    ap.add_argument("--out", required=True,
                    help="output folder (checkpoint-<step>.pt, weights.safetensors, record.json); one run at a time")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: best available)")
    ap.add_argument("--steps", type=int, default=None, help="override the mode's number of steps")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override one setting of the mode, e.g. --set lr=3e-4 --set milestones='(1000, 1500)'")
    ap.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                    help="stop with a checkpoint before this many seconds; re-run the same command to continue")
    ap.add_argument("--degradation", choices=DEGRADATIONS, default="bicubic",
                    help="how LR inputs are made for training and validation (ours: bicubic; chapter 1b)")
    ap.add_argument("--guide-augment", type=float, default=0.0, metavar="P",
                    help="share of training patches whose guide is made to disagree with the target (inverted, "
                         "half-inverted, gamma, channels permuted) so the model learns when not to trust it")
    ap.add_argument("--train-split", choices=sorted(VALIDATION_SPLITS), default="train-minus-val",
                    help="training images: 'train-minus-val' (urban EPFL, the papers' kind of scene), "
                         "'train-half' (every other one of those), 'train' (those and the validation images: "
                         "validation is then on trained images) or 'train+country' (plus 20 fixed landscapes; "
                         "validation then adds 6 more; the other landscapes stay held out)")
    ap.add_argument("--landscape-share", type=float, default=None, metavar="Q",
                    help="with --train-split train+country: the share of training patches drawn from the landscapes "
                         "(default: in proportion to image area, about 0.56)")
    ap.add_argument("--init-from", default=None, metavar="WEIGHTS",
                    help="start from these weights (an mmsr .safetensors of the same architecture, e.g. the x4 "
                         "weights for an x8 run); tensors whose shape depends on the scale keep their initialisation; "
                         "recorded with their digest")
    ap.add_argument("--rescale", type=_rescale_factors, default=(), metavar="F1,F2,...",
                    help="scale augmentation: also train on every training pair shrunk by these factors in (0, 1), "
                         "e.g. 0.9,0.8,0.7,0.6 (validation images are never shrunk; recorded)")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    overrides = parse_overrides(args.set)
    if args.steps is not None:
        overrides["steps"] = args.steps
    if args.time_budget is not None and args.time_budget <= 0:
        raise SystemExit(f"--time-budget must be positive, got {args.time_budget}")
    result = train_model(args.model, args.scale, args.mode, root=args.data_root, out_dir=args.out, seed=args.seed,
                         device=args.device, progress=not args.no_progress, time_budget=args.time_budget,
                         degradation=args.degradation, guide_augment=args.guide_augment,
                         train_split=args.train_split, landscape_share=args.landscape_share,
                         init_from=args.init_from, rescale=args.rescale, **overrides)
    if not result.record:
        print(f"stopped before the time budget at step {result.stopped_at}; checkpoint in {args.out}; "
              f"re-run the same command to continue")
    else:
        summary = {k: result.record[k] for k in ("final_validation", "steps", "train_seconds", "device")}
        print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
