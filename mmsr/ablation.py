"""The recurrent network's ablation (chapter 7): ``python -m mmsr.ablation --root ../shared/data --out DIR``.

The coupled-priors paper leaves open how many steps the network takes, what it outputs, which guide channels it
reads, whether its steps share weights, whether fusion is needed at all and in which state it happens, and what
the projections between the two grids are (issue #10). Each choice is decided
here on the **validation split** (3 training images held out; never a test image): short runs of the same
recipe that differ in one setting from the base, NIR x4, one thread each, the same seed for every variant, and the
base with two more seeds to show how much runs of the *same* setting differ -- a difference smaller than that is
not a finding.

Every run is a normal :mod:`mmsr.train` run folder (resumable; ``record.json`` with settings, seed, commit,
wall time); :func:`ablation_rows` reads the records, so the chapter's table is regenerated from them.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Optional, Sequence

#: the settings every ablation run shares (NIR x4, a short CPU run with a decaying learning rate, so that the
#: end point is not one noisy Adam step)
BASE = {"atoms": 32, "rnn_steps": 3, "output": "mean", "guide": "rgb", "fusion": "lesita", "shared": True,
        "updown": "learned", "patches": 6000, "steps": 500, "milestones": (350, 450), "val_every": 250,
        "ckpt_every": 250}
SCALE = 4

#: variant -> (seed, settings that differ from :data:`BASE`, what the variant asks). In run order: the most
#: telling first, so that a run stopped early still answers the main questions.
VARIANTS = {
    "base": (0, {}, "the committed design: T = 3, mean of the HR states, RGB guide, LeSITA fusion"),
    "nofusion": (0, {"fusion": "none"}, "no guide at all: soft thresholding in the HR state (single-image)"),
    "gray": (0, {"guide": "gray"}, "the guide's luminance instead of its three channels"),
    "steps1": (0, {"rnn_steps": 1}, "T = 1: no recurrence, one LR and one HR step"),
    "last": (0, {"output": "last"}, "decode the last HR state, not the mean over steps"),
    "base_s1": (1, {}, "the base again with seed 1: how far runs of one setting spread"),
    "base_s2": (2, {}, "the base again with seed 2"),
    "steps5": (0, {"rnn_steps": 5}, "T = 5 steps"),
    "perstep": (0, {"shared": False}, "steps 2..T with their own filters and thresholds, not shared ones"),
    "fuse_lr": (0, {"fusion": "lr"}, "fusion in the LR state (guide codes averaged onto the LR grid), not the HR"),
    "fuse_both": (0, {"fusion": "both"}, "fusion in both states"),
    "updown_fixed": (0, {"updown": "fixed"}, "Up/Down kept at bilinear interpolation and its average, not learned"),
    "updown_subpixel": (0, {"updown": "subpixel"}, "Up/Down as sub-pixel convolutions (pixel shuffle / unshuffle)"),
}


def _check_variants(names) -> list:
    names = list(names)
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown ablation variants {unknown}; expected some of {list(VARIANTS)}")
    return names


def train_command(variant: str, out: str = "runs/ablation", root: str = "../shared/data") -> str:
    """The shell command that trains ``variant`` (what the record's provenance and the chapter show)."""
    seed, change, _ = VARIANTS[_check_variants([variant])[0]]
    s = {**BASE, **change}
    sets = " ".join(f"--set {shlex.quote(f'{k}={v}'.replace(' ', ''))}" for k, v in s.items())
    return (f"OMP_NUM_THREADS=1 python -m mmsr.train recurrent --scale {SCALE} --mode default --data-root {root} "
            f"--seed {seed} {sets} --out {out}/recurrent_x{SCALE}_{variant} --no-progress")


def run_variants(root, out, variants=None, device=None) -> list:
    """Train the variants not finished yet under ``out`` (one after another; an interrupted run resumes from its
    last checkpoint). Returns the run folders."""
    from .recipes import train_model

    names = _check_variants(VARIANTS if variants is None else variants)
    folders = []
    for name in names:
        seed, change, _ = VARIANTS[name]
        folder = Path(out) / f"recurrent_x{SCALE}_{name}"
        if not (folder / "record.json").is_file():
            train_model("recurrent", SCALE, "default", root=root, out_dir=folder, seed=seed, device=device,
                        progress=False, **{**BASE, **change})
        folders.append(folder)
    return folders


def read_runs(folder) -> dict:
    """variant -> record of every finished ablation run under ``folder`` (``recurrent_x4_<variant>/record.json``)."""
    out = {}
    for name in VARIANTS:
        path = Path(folder) / f"recurrent_x{SCALE}_{name}" / "record.json"
        if path.is_file():
            out[name] = json.loads(path.read_text())
    return out


#: choices of a training run that are arguments of :func:`mmsr.recipes.train_model`, not settings: kept in the
#: record's ``meta`` only when used (name -> the value a record without it had); a table's check reads them too
RUN_OPTIONS = {"guide_augment": 0.0, "train_split": "train-minus-val", "rescale": ()}

#: runs of the base setting itself (different seeds): their mean is the zero line, their range the noise
REPLICATES = ("base", "base_s1", "base_s2")


def base_reference(records: dict, replicates: Sequence[str] = REPLICATES) -> tuple[float, float, float]:
    """``(mean, low, high)`` of the final validation PSNR over the base replicates present."""
    finals = [records[n]["final_validation"]["val_psnr"] for n in replicates if n in records]
    if not finals:
        raise ValueError("the ablation needs at least one run of the base setting (its final validation is the "
                         "zero line)")
    return sum(finals) / len(finals), min(finals), max(finals)


def ablation_rows(records: dict, variants: Optional[dict] = None, base: Optional[dict] = None,
                  replicates: Sequence[str] = REPLICATES) -> tuple[list, list]:
    """``(header, rows)``: per run its change, parameters, validation PSNR at each check, the difference from
    the mean of the base replicates, and CPU-minutes. Records whose settings (the loss included) or seed are not
    the variant's are refused (a table must not mislabel a run). ``variants``, ``base``, ``replicates``: another
    ablation of the same form (default: this module's x4 one; :data:`X2_RECIPE` is the other)."""
    variants = VARIANTS if variants is None else variants
    base = BASE if base is None else base
    header = ["variant", "what it asks", "parameters", "val PSNR by step (dB)", "final - base mean (dB)", "minutes"]
    mean = base_reference(records, replicates)[0] if any(n in records for n in replicates) else None
    rows = []
    for name, rec in records.items():
        seed, change, what = variants[name][:3]
        s = {**rec["meta"]["settings"], "loss": rec["config"].get("loss", "mse"), "ema": rec["config"].get("ema", 0.0),
             **{k: rec["meta"].get(k, v) for k, v in RUN_OPTIONS.items()}}
        wrong = {k: s.get(k) for k, v in {**base, **change}.items() if k in s and _norm(s[k]) != _norm(v)}
        if wrong or rec["config"]["seed"] != seed:
            raise ValueError(f"the record of {name!r} has other settings than the variant: {wrong or 'seed'}")
        curve = ", ".join(f"{h['val_psnr']:.2f}" for h in rec["history"])
        d = "-" if mean is None else f"{rec['final_validation']['val_psnr'] - mean:+.2f}"
        rows.append([name, what, rec["parameters"], curve, d, f"{rec['train_seconds'] / 60:.0f}"])
    return header, rows


def plot_ablation(records: dict, ax=None, replicates: Sequence[str] = REPLICATES, scale: int = SCALE):
    """Each variant's final validation PSNR minus the mean of the base replicates (bars), with a grey band from the
    lowest to the highest base replicate: a bar inside the band is within what another run of one setting moves."""
    import matplotlib.pyplot as plt

    mean, low, high = base_reference(records, replicates)
    names = [n for n in records if n not in replicates]
    d = [records[n]["final_validation"]["val_psnr"] - mean for n in names]
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.45 * len(names) + 1.2))
    n_rep = sum(n in records for n in replicates)
    ax.axvspan(low - mean, high - mean, color="0.85", label=f"range of {n_rep} base runs")
    ax.barh(range(len(names)), d, color=["C3" if v < 0 else "C2" for v in d])
    for k, v in enumerate(d):
        ax.text(v, k, f" {v:+.2f} ", va="center", ha="left" if v >= 0 else "right", fontsize=8)
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.axvline(0, color="k", lw=1)
    lo, hi = min(d + [low - mean]), max(d + [high - mean])
    ax.set_xlim(lo - 0.25 * (hi - lo + 0.1), hi + 0.25 * (hi - lo + 0.1))
    ax.legend(loc="lower left", fontsize=8)
    ax.set_xlabel(f"validation PSNR - mean of the base runs ({mean:.2f} dB), NIR x{scale}")
    return ax


#: chapter 7's x2 question (issue #10: the committed x2 network stays under the paper's 39.81 dB, reported under its
#: protocol, while every longer or larger run left it where it was): full-length runs of the committed x2 recipe
#: (3,000 steps) that change one training choice, seed 0 each, against the recipe itself with three seeds (the
#: replicates). name -> (seed, change, what it asks, record path relative to the weights folder)
X2_RECIPE = {
    "recipe": (0, {}, "the committed x2 recipe: 32 atoms, T = 3, MSE, learning rate 1e-3", "recurrent_x2.json"),
    "recipe_s1": (1, {}, "the recipe again with seed 1", "experiments/recurrent_x2_seed1/record.json"),
    "recipe_s2": (2, {}, "the recipe again with seed 2", "experiments/recurrent_x2_seed2/record.json"),
    "l1": (0, {"loss": "l1"}, "L1 loss instead of MSE", "experiments/recurrent_x2_l1/record.json"),
    "lr5e-4": (0, {"lr": 5e-4}, "learning rate 5e-4 instead of 1e-3",
               "experiments/recurrent_x2_lr5e-4/record.json"),
    "atoms64": (0, {"atoms": 64}, "64 atoms instead of 32", "experiments/recurrent_x2_atoms64/record.json"),
    "steps4": (0, {"rnn_steps": 4}, "T = 4 steps instead of 3", "experiments/recurrent_x2_steps4/record.json"),
    "patch64": (0, {"patch_size": 64}, "patches of 64 pixels instead of 48 (1.8 times the pixels per step)",
                "experiments/recurrent_x2_patch64/record.json"),
    "updown_subpixel": (0, {"updown": "subpixel"}, "sub-pixel Up / Down (level with the learned ones at x4, 500 "
                        "steps)", "experiments/recurrent_x2_updown_subpixel/record.json"),
    "perstep": (0, {"shared": False}, "steps 2..T with their own filters and thresholds (16,464 parameters, the "
                "same arithmetic)", "experiments/recurrent_x2_perstep/record.json"),
    "guide5": (0, {"guide_layers": 5}, "the guide's ACSC unfolded over 5 iterations instead of 3 (tied filters: "
               "no extra parameters)", "experiments/recurrent_x2_guide5/record.json"),
    "guide5_s1": (1, {"guide_layers": 5}, "the same with seed 1", "experiments/recurrent_x2_guide5_seed1/record.json"),
    "guide7": (0, {"guide_layers": 7}, "the guide's ACSC unfolded over 7 iterations",
               "experiments/recurrent_x2_guide7/record.json"),
    "ema": (0, {"ema": 0.999}, "a moving average of the weights (decay 0.999) validated and kept as the run's "
            "weights", "experiments/recurrent_x2_ema_seed0/record.json"),
    "ema_s1": (1, {"ema": 0.999}, "the same with seed 1", "experiments/recurrent_x2_ema_seed1/record.json"),
    "ema_s2": (2, {"ema": 0.999}, "the same with seed 2", "experiments/recurrent_x2_ema_seed2/record.json"),
    # after chapter 5's size sweep (LMCSC learned more per minute on 32-pixel patches): the same change here, the
    # steps doubled (and the halvings with them) to spend about the recipe's time
    "patch32_6000": (0, {"patch_size": 32, "steps": 6000, "milestones": (4000, 5200)}, "patches of 32 pixels with "
                     "twice the steps (6,000), about the recipe's time", "experiments/recurrent_x2_patch32_6000steps/"
                     "record.json"),
    # and the other half of that finding (LMCSC also learned more per minute with half its maps)
    "atoms16_6000": (0, {"atoms": 16, "steps": 6000, "milestones": (4000, 5200)}, "16 atoms instead of 32 with "
                     "twice the steps (6,000), about the recipe's time", "experiments/recurrent_x2_atoms16_6000steps/"
                     "record.json"),
    # three changes of what the network reads and computes, after the per-image test scores showed it 0.8 dB under
    # LMCSC (which reads the guide's luminance) on two of the eight test images
    "gray": (0, {"guide": "gray"}, "the guide's luminance instead of its three channels (LMCSC's guide at x2, where "
             "it beat the colour guide)", "experiments/recurrent_x2_gray/record.json"),
    "skip8": (0, {"skip_kernel": 8}, "a wider learned Skip: 8 x 8 taps, 4 x 4 LR pixels per output pixel instead of "
              "2 x 2 (bicubic reads 4 x 4); starts as bilinear", "experiments/recurrent_x2_skip8/record.json"),
    "side_weight": (0, {"side_weight": True}, "LeSITA's |u - s| term with a learned weight of its own per map "
                    "(starts equal to mu; 0 switches the guide off in that map)",
                    "experiments/recurrent_x2_side_weight/record.json"),
    "kernel7": (0, {"kernel": 7}, "7 x 7 filters instead of 5 x 5 everywhere (a wider view per step)",
                "experiments/recurrent_x2_kernel7/record.json"),
    "kernel7_s1": (1, {"kernel": 7}, "the same with seed 1", "experiments/recurrent_x2_kernel7_seed1/record.json"),
    # chapter 5's guide augmentation (a run option, not a setting: RUN_OPTIONS), with three seeds from the start: it
    # asks both whether guides that sometimes mislead make a better x2 network and whether they cure the guide defect
    "guide_aug02": (0, {"guide_augment": 0.2}, "a fifth of the training guides made to disagree with their targets "
                    "(inverted, half inverted, gamma, channels shuffled; --guide-augment 0.2)",
                    "experiments/recurrent_x2_guide_aug02_seed0/record.json"),
    "guide_aug02_s1": (1, {"guide_augment": 0.2}, "the same with seed 1",
                       "experiments/recurrent_x2_guide_aug02_seed1/record.json"),
    "guide_aug02_s2": (2, {"guide_augment": 0.2}, "the same with seed 2",
                       "experiments/recurrent_x2_guide_aug02_seed2/record.json"),
    # the two together: the side weight can switch the guide off per map, and guide augmentation shows it guides
    # that mislead, which the side weight alone never saw (seeds 0 and 1 side by side)
    "side_weight+guide_aug02": (0, {"side_weight": True, "guide_augment": 0.2}, "LeSITA's own weight on the guide's "
                                "term, trained with guide augmentation 0.2 (so that a switch has guides to switch off)",
                                "experiments/recurrent_x2_side_weight_guide_aug02_seed0/record.json"),
    "side_weight+guide_aug02_s1": (1, {"side_weight": True, "guide_augment": 0.2}, "the same with seed 1",
                                   "experiments/recurrent_x2_side_weight_guide_aug02_seed1/record.json"),
    # two training choices never moved at x2: the patch set (20,000 drawn once, each visited 2.4 times) and the
    # learning rate upwards (half of it ended lower); then the number of training pairs, halved (the validation
    # images still held out; the other half of that question, all 20 images, cannot be validated: X2_DATA)
    "patches48k": (0, {"patches": 48000}, "48,000 patches instead of 20,000: every training example a new draw "
                   "(3,000 steps of 16)", "experiments/recurrent_x2_patches48000_seed0/record.json"),
    "patches48k_s1": (1, {"patches": 48000}, "the same with seed 1",
                      "experiments/recurrent_x2_patches48000_seed1/record.json"),
    "lr2e-3": (0, {"lr": 2e-3}, "learning rate 2e-3 instead of 1e-3", "experiments/recurrent_x2_lr2e-3/record.json"),
    "train_half": (0, {"train_split": "train-half"}, "half the training images (9 of 17, every other one; "
                   "--train-split train-half)", "experiments/recurrent_x2_train_half_seed0/record.json"),
    # more pairs from the same photos: every training pair also shrunk (scale augmentation; seeds 0 and 1 of the
    # four factors, declared the candidate; one factor with seed 0 as a pointer)
    "rescale4": (0, {"rescale": (0.9, 0.8, 0.7, 0.6)}, "every training pair also shrunk by 0.9, 0.8, 0.7 and 0.6 "
                 "(--rescale; the originals 30 % of the area)", "experiments/recurrent_x2_rescale4_seed0/record.json"),
    "rescale4_s1": (1, {"rescale": (0.9, 0.8, 0.7, 0.6)}, "the same with seed 1",
                    "experiments/recurrent_x2_rescale4_seed1/record.json"),
    "rescale08": (0, {"rescale": (0.8,)}, "every training pair also shrunk by 0.8 (the originals 61 % of the area)",
                  "experiments/recurrent_x2_rescale08_seed0/record.json"),
}
#: the x2 recipe trained on all 20 training images (``--train-split train``: the validation images too, so its
#: validation score validates nothing and it is no candidate): the far end of the question "does the number of
#: training pairs limit the network?", whose near end, half the images, is :data:`X2_RECIPE`'s ``train_half``.
#: Scored on the test images and the held-out landscapes as a measurement, never promoted.
X2_DATA = {
    "train_all": (0, {"train_split": "train"}, "all 20 training images, the 3 validation images among them",
                  "experiments/recurrent_x2_train_all_seed0/record.json"),
}
#: chapter 7's other open ablation question: the x4 choices decided by 500-step runs (:data:`VARIANTS`) that ended
#: within the seeds' spread of the base (per-step weights, sub-pixel Up / Down) or may catch up given time (T = 5),
#: trained at the committed x4 recipe's length (3,000 steps), seed 0 each, against the recipe's three seeds.
#: name -> (seed, change, what it asks, record path relative to the weights folder)
X4_RECIPE = {
    "recipe": (0, {}, "the committed x4 recipe: 32 atoms, T = 3, MSE, learning rate 1e-3", "recurrent_x4.json"),
    "recipe_s1": (1, {}, "the recipe again with seed 1", "experiments/recurrent_x4_seed1/record.json"),
    "recipe_s2": (2, {}, "the recipe again with seed 2", "experiments/recurrent_x4_seed2/record.json"),
    "perstep": (0, {"shared": False}, "steps 2..T with their own filters and thresholds (+0.13 dB at 500 steps; "
                "level at x2 full length)", "experiments/recurrent_x4_perstep/record.json"),
    "updown_subpixel": (0, {"updown": "subpixel"}, "sub-pixel Up / Down (+0.16 dB at 500 steps; lower at x2 full "
                        "length)", "experiments/recurrent_x4_updown_subpixel/record.json"),
    "steps5": (0, {"rnn_steps": 5}, "T = 5 steps (-0.59 dB at 500 steps: does it catch up?)",
               "experiments/recurrent_x4_steps5/record.json"),
    # sub-pixel Up / Down pointed (35.15 dB, above the recipe's best seed), so its seed 1 followed at once
    "updown_subpixel_s1": (1, {"updown": "subpixel"}, "the same with seed 1",
                           "experiments/recurrent_x4_updown_subpixel_seed1/record.json"),
    # seeds 0 and 1 both beat the recipe's same seed by 0.21 dB: seed 2 decides (declared in chapter 7 before it ran)
    "updown_subpixel_s2": (2, {"updown": "subpixel"}, "the same with seed 2 (the decider)",
                           "experiments/recurrent_x4_updown_subpixel_seed2/record.json"),
}
#: the same question on the other dataset of 001's tables: does sub-pixel Up / Down's x4 gain on NIR carry to
#: CAVE (640 nm band, RGB guide)? The committed CAVE x4 recipe (the NIR x4 recipe's settings on CAVE) and its three
#: seeds against sub-pixel Up / Down with the same three seeds. Declared (chapter 7, before the runs ended): it
#: carries if every seed's final validation is above the recipe's same seed; only then are its seeds scored on the
#: CAVE test scenes (``python -m mmsr.cave_seeds``). name -> (seed, change, what it asks, record path)
CAVE_X4_UPDOWN = {
    "recipe": (0, {}, "the committed CAVE x4 recipe: 32 atoms, T = 3, MSE, learning rate 1e-3",
               "recurrent_cave_x4.json"),
    "recipe_s1": (1, {}, "the recipe again with seed 1", "experiments/recurrent_cave_x4_seed1/record.json"),
    "recipe_s2": (2, {}, "the recipe again with seed 2", "experiments/recurrent_cave_x4_seed2/record.json"),
    "updown_subpixel": (0, {"updown": "subpixel"}, "sub-pixel Up / Down (on NIR x4: +0.21 dB over the same seed, "
                        "seeds 0 and 1)", "experiments/recurrent_cave_x4_updown_subpixel_seed0/record.json"),
    "updown_subpixel_s1": (1, {"updown": "subpixel"}, "the same with seed 1",
                           "experiments/recurrent_cave_x4_updown_subpixel_seed1/record.json"),
    "updown_subpixel_s2": (2, {"updown": "subpixel"}, "the same with seed 2",
                           "experiments/recurrent_cave_x4_updown_subpixel_seed2/record.json"),
}
#: the settings every run of :data:`X2_RECIPE` shares, but for its change
X2_BASE = {"atoms": 32, "rnn_steps": 3, "patches": 20000, "patch_size": 48, "batch_size": 16, "steps": 3000,
           "lr": 1e-3, "milestones": (2000, 2600), "loss": "mse", "updown": "learned", "shared": True,
           "guide_layers": 3, "ema": 0.0, "guide": "rgb", "side_weight": False, "skip_kernel": None, "kernel": 5,
           "guide_augment": 0.0, "train_split": "train-minus-val", "rescale": ()}
X2_REPLICATES = ("recipe", "recipe_s1", "recipe_s2")
#: the x4 runs share the x2 recipe's settings (the committed x4 recipe is the same at scale 4)
X4_BASE = X2_BASE
X4_REPLICATES = X2_REPLICATES
#: the CAVE runs share them too (the committed CAVE x4 recipe is the NIR one on CAVE)
CAVE_X4_BASE = X2_BASE
CAVE_X4_REPLICATES = X2_REPLICATES


#: chapter 5's question for LMCSC at x4 (issue #11: at equal cost it stayed under DJF, which reads the colour guide
#: while LMCSC read the luminance, and its validation moves 0.1-0.5 dB between checks): the paper's luminance recipe
#: with one change (seed 0; the colour guide, which won, with seeds 1 and 2 too), against the recipe's three seeds.
#: The colour-guide recipe was the committed one after that (its seeds are ``experiments/lmcsc_x4_rgb_seed*``; the
#: luminance seeds moved to ``experiments/lmcsc_x4_luminance_seed*``), until the same with a moving average of the
#: weights won (:data:`LMCSC_X4_RGB`). name -> (seed, change, what it asks, record path)
LMCSC_X4 = {
    "luminance": (0, {}, "the paper's luminance guide, 64 maps, 3 stages (the committed x4 LMCSC until the colour "
                  "guide won)", "experiments/lmcsc_x4_luminance_seed0/record.json"),
    "luminance_s1": (1, {}, "the same with seed 1", "experiments/lmcsc_x4_luminance_seed1/record.json"),
    "luminance_s2": (2, {}, "the same with seed 2", "experiments/lmcsc_x4_luminance_seed2/record.json"),
    "rgb": (0, {"guide": "rgb"}, "the colour guide, as DJF and the recurrent network read it",
            "experiments/lmcsc_x4_rgb_seed0/record.json"),
    "rgb_s1": (1, {"guide": "rgb"}, "the same with seed 1", "experiments/lmcsc_x4_rgb_seed1/record.json"),
    "rgb_s2": (2, {"guide": "rgb"}, "the same with seed 2", "experiments/lmcsc_x4_rgb_seed2/record.json"),
    "ema": (0, {"ema": 0.999}, "a moving average of the weights (decay 0.999) validated and kept",
            "experiments/lmcsc_x4_ema/record.json"),
}
#: the settings every run of :data:`LMCSC_X4` shares, but for its change
LMCSC_X4_BASE = {"atoms": 64, "stages": 3, "guide_layers": 3, "mu0": 0.01, "patches": 20000, "patch_size": 48,
                 "batch_size": 16, "steps": 3300, "lr": 1e-3, "milestones": (2500, 3400), "loss": "mse",
                 "guide": "gray", "ema": 0.0}
LMCSC_X4_REPLICATES = ("luminance", "luminance_s1", "luminance_s2")

#: the colour-guide recipe with the other change of the table above (the moving average) on top: the two changes
#: together, against the colour recipe's three seeds. They won, and their seed 0 is the committed ``lmcsc_x4``
#: since (its seeds 1 and 2: ``experiments/lmcsc_x4_rgb_ema_seed1``, ``_seed2``).
LMCSC_X4_RGB = {
    "rgb": (0, {}, "the colour-guide recipe: 64 maps, 3 stages", "experiments/lmcsc_x4_rgb_seed0/record.json"),
    "rgb_s1": (1, {}, "the same with seed 1", "experiments/lmcsc_x4_rgb_seed1/record.json"),
    "rgb_s2": (2, {}, "the same with seed 2", "experiments/lmcsc_x4_rgb_seed2/record.json"),
    "ema": (0, {"ema": 0.999}, "a moving average of the weights (decay 0.999) validated and kept (the committed x4 "
            "LMCSC since it won)", "lmcsc_x4.json"),
    "ema_s1": (1, {"ema": 0.999}, "the same with seed 1", "experiments/lmcsc_x4_rgb_ema_seed1/record.json"),
    "ema_s2": (2, {"ema": 0.999}, "the same with seed 2", "experiments/lmcsc_x4_rgb_ema_seed2/record.json"),
}
LMCSC_X4_RGB_BASE = {**LMCSC_X4_BASE, "guide": "rgb"}
LMCSC_X4_RGB_REPLICATES = ("rgb", "rgb_s1", "rgb_s2")

#: the same question at x2: the x2 recipe (the paper's luminance guide; the luminance x4 recipe's settings at scale 2,
#: 3,300 steps) and its seeds against the colour guide at the same steps. (The committed x2 weights are since the
#: luminance recipe's seed 2 given 700 more steps, ``experiments/lmcsc_x2_4000steps_seed*``.)
LMCSC_X2 = {
    "luminance": (0, {}, "the x2 LMCSC recipe: the guide's luminance, 64 maps, 3 stages, 3,300 steps",
                  "experiments/lmcsc_x2_3300steps_seed0/record.json"),
    "luminance_s1": (1, {}, "the same with seed 1", "experiments/lmcsc_x2_3300steps_seed1/record.json"),
    "luminance_s2": (2, {}, "the same with seed 2", "experiments/lmcsc_x2_3300steps_seed2/record.json"),
    "rgb": (0, {"guide": "rgb"}, "the colour guide, as DJF and the recurrent network read it",
            "experiments/lmcsc_x2_rgb_seed0/record.json"),
    "rgb_s1": (1, {"guide": "rgb"}, "the same with seed 1", "experiments/lmcsc_x2_rgb_seed1/record.json"),
    "rgb_s2": (2, {"guide": "rgb"}, "the same with seed 2", "experiments/lmcsc_x2_rgb_seed2/record.json"),
    "ema": (0, {"ema": 0.999}, "a moving average of the weights (decay 0.999), as at x4",
            "experiments/lmcsc_x2_ema_seed0/record.json"),
}
LMCSC_X2_BASE = LMCSC_X4_BASE
LMCSC_X2_REPLICATES = LMCSC_X4_REPLICATES

#: x2 at equal cost: the 3,300-step recipe above is a 4,000-step schedule cut short (its second halving, at step
#: 3,400, never came). The same 3,300 steps with both halvings inside them (steps 2,100 and 2,900, the DJF recipe's
#: proportions), three seeds, against the recipe's three seeds: what LMCSC reaches in DJF's 4,800-step time. Level on
#: validation (38.89 against 38.91 dB on the means), so not scored on the test images.
LMCSC_X2_SCHEDULE = {
    **{k: LMCSC_X2[k] for k in LMCSC_X2_REPLICATES},
    "rescheduled": (0, {"milestones": (2100, 2900)}, "both halvings of the learning rate inside the 3,300 steps "
                    "(steps 2,100 and 2,900)", "experiments/lmcsc_x2_3300steps_rescheduled_seed0/record.json"),
    "rescheduled_s1": (1, {"milestones": (2100, 2900)}, "the same with seed 1",
                       "experiments/lmcsc_x2_3300steps_rescheduled_seed1/record.json"),
    "rescheduled_s2": (2, {"milestones": (2100, 2900)}, "the same with seed 2",
                       "experiments/lmcsc_x2_3300steps_rescheduled_seed2/record.json"),
}
LMCSC_X2_SCHEDULE_BASE = LMCSC_X2_BASE
LMCSC_X2_SCHEDULE_REPLICATES = LMCSC_X2_REPLICATES

#: chapter 5's size sweep at x2 (issue #11 asks that LMCSC's size be chosen by a small sweep on the validation split,
#: PSNR per CPU-minute the figure of merit). Each run changes one size setting of the x2 recipe -- maps, stages,
#: patch size or batch -- and gets the same training *time*: the seconds of 1,200 of the recipe's steps, divided by
#: the seconds of one step of its own size (timed side by side before the sweep, below), with the recipe's
#: learning-rate halvings at the same fractions of its steps as in :data:`LMCSC_X2_SCHEDULE` (2,100 and 2,900 of
#: 3,300) and four validations at the same fractions, so the curves can be read at equal minutes. The two sizes that
#: led were then run together (two changes, the one exception). About a third of the x2 budget of section 5.8
#: (3,300 recipe steps): a sweep to find candidates, not the final word on a size.
LMCSC_X2_SIZE_BUDGET_SECONDS = 1200 * 0.902
#: seconds per training step of each size, timed side by side before the sweep (``mmsr.budget.step_seconds``, one
#: thread, an idle 2-core machine, 6 steps each after a warm-up, 2026-12-06) -- the numbers that fixed each run's
#: steps; the sweep's own records are timed again afterwards (``python -m mmsr.budget steps``)
LMCSC_X2_SIZE_STEP_SECONDS = {"recipe": 0.902, "maps32": 0.430, "maps96": 1.395, "stages2": 0.681, "stages5": 1.278,
                              "patch32": 0.395, "batch32": 1.894,
                              # timed later, beside the sweep's runs, in turn with the recipe's step: 0.205 of it
                              # (32 maps alone 0.461, 32-pixel patches alone 0.420: the idle ratios were 0.48, 0.44)
                              "maps32_patch32": 0.185}
_SIZE_CHANGES = {"recipe": ({}, "the recipe: 64 maps, 3 stages, batch 16, 48-pixel patches"),
                 "maps32": ({"atoms": 32}, "32 maps"),
                 "stages2": ({"stages": 2}, "2 stages"),
                 "patch32": ({"patch_size": 32}, "32-pixel patches"),
                 "maps96": ({"atoms": 96}, "96 maps"),
                 "stages5": ({"stages": 5}, "5 stages"),
                 "batch32": ({"batch_size": 32}, "batch 32 (the paper's)"),
                 "maps32_patch32": ({"atoms": 32, "patch_size": 32}, "32 maps and 32-pixel patches (the two "
                                    "leaders together)")}


def size_sweep_schedule(size: str) -> dict:
    """``steps``, ``milestones`` and ``val_every`` of the size sweep's run of ``size`` (a key of
    :data:`LMCSC_X2_SIZE_STEP_SECONDS`): :data:`LMCSC_X2_SIZE_BUDGET_SECONDS` at that size's seconds per step."""
    from .budget import fitted_schedule

    if size not in LMCSC_X2_SIZE_STEP_SECONDS:
        raise ValueError(f"unknown size {size!r}; expected one of {list(LMCSC_X2_SIZE_STEP_SECONDS)}")
    return fitted_schedule(LMCSC_X2_SIZE_BUDGET_SECONDS, LMCSC_X2_SIZE_STEP_SECONDS[size], 3300, (2100, 2900),
                           validations=4)


def _size_run(size: str, seed: int = 0) -> tuple:
    change, what = _SIZE_CHANGES[size]
    folder = f"lmcsc_x2_size_{size}" + (f"_seed{seed}" if seed else "")
    return (seed, {**change, **size_sweep_schedule(size)}, what + (f", seed {seed}" if seed else ""),
            f"experiments/{folder}/record.json")


#: name -> (seed, change, what it asks, record path), in the order the runs were started
LMCSC_X2_SIZES = {"recipe": _size_run("recipe"), "maps32": _size_run("maps32"), "stages2": _size_run("stages2"),
                  "patch32": _size_run("patch32"), "maps96": _size_run("maps96"), "stages5": _size_run("stages5"),
                  "batch32": _size_run("batch32"), "recipe_s1": _size_run("recipe", 1),
                  # the two sizes that led after the first four runs, repeated with seed 1 before anything else
                  "maps32_s1": _size_run("maps32", 1), "patch32_s1": _size_run("patch32", 1),
                  "maps32_patch32": _size_run("maps32_patch32"), "maps32_patch32_s1": _size_run("maps32_patch32", 1)}
#: what every run of the sweep shares, but for its size and its fitted schedule
LMCSC_X2_SIZES_BASE = {k: v for k, v in LMCSC_X2_BASE.items() if k not in ("steps", "milestones")}
LMCSC_X2_SIZES_REPLICATES = ("recipe", "recipe_s1")


def size_of(name: str) -> str:
    """The size a run of :data:`LMCSC_X2_SIZES` trains (its name without a seed suffix ``_sN``)."""
    head, _, tail = name.rpartition("_s")
    return head if head and tail.isdigit() else name


def size_sweep_rows(records: dict, seconds_per_step: Optional[dict] = None) -> tuple[list, list]:
    """``(header, rows)`` of the size sweep: per run its change, parameters, steps, seconds per step
    (``seconds_per_step``: size -> seconds timed side by side; default the timing that fixed the steps), the
    minutes its steps cost at that speed, its final validation PSNR and that minus the mean of the recipe's runs,
    and its validation curve. The records are checked against the runs they are filed as (:func:`ablation_rows`)."""
    sps = LMCSC_X2_SIZE_STEP_SECONDS if seconds_per_step is None else seconds_per_step
    _, checked = ablation_rows(records, LMCSC_X2_SIZES, LMCSC_X2_SIZES_BASE, LMCSC_X2_SIZES_REPLICATES)
    header = ["run", "size", "parameters", "steps", "s per step", "minutes", "final (dB)", "final - recipe mean (dB)",
              "val PSNR by check (dB)"]
    rows = [[name, what, params, records[name]["steps"], f"{sps[size_of(name)]:.2f}",
             f"{records[name]['steps'] * sps[size_of(name)] / 60:.0f}",
             f"{records[name]['final_validation']['val_psnr']:.2f}", d, curve]
            for name, what, params, curve, d, _ in checked]
    return header, rows


def plot_size_sweep(records: dict, seconds_per_step: Optional[dict] = None, ax=None):
    """Validation PSNR of each run of :data:`LMCSC_X2_SIZES` against its training minutes, its steps priced at
    ``seconds_per_step`` (size -> seconds, timed side by side; default the timing that fixed the steps), so that
    runs given the same time end at the same minute. One colour per size (the recipe's grey), its seed-0 run solid and
    other seeds dashed."""
    import matplotlib.pyplot as plt

    sps = LMCSC_X2_SIZE_STEP_SECONDS if seconds_per_step is None else seconds_per_step
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 5.5))
    sizes = dict.fromkeys(size_of(n) for n in records if size_of(n) != "recipe")
    colors = {size: f"C{k}" for k, size in enumerate(sizes)}
    for name, rec in records.items():
        size = size_of(name)
        grey = size == "recipe"
        steps = [h["step"] for h in rec["history"]]
        ax.plot([s * sps[size] / 60 for s in steps], [h["val_psnr"] for h in rec["history"]],
                "o--" if name != size else "o-", color="0.5" if grey else colors[size], lw=2.5 if grey else 1.5, ms=4,
                label=f"{name} ({rec['parameters']:,} parameters, {rec['steps']:,} steps)")
    ax.set_xlabel("training minutes, steps x seconds per step timed side by side (one thread)")
    ax.set_ylabel("validation PSNR (dB)")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3)
    ax.grid(alpha=0.3)
    return ax


def read_variant_runs(variants: dict, weights_dir=None) -> dict:
    """name -> training record of every run of ``variants`` (name -> (..., record path relative to the weights
    folder)) whose record exists, in its order."""
    from .recipes import WEIGHTS_DIR

    w = WEIGHTS_DIR if weights_dir is None else Path(weights_dir)
    return {name: json.loads((w / rel).read_text()) for name, (*_, rel) in variants.items() if (w / rel).is_file()}


def read_x2_runs(weights_dir=None) -> dict:
    """name -> training record of every run of :data:`X2_RECIPE` whose record exists (in its order)."""
    return read_variant_runs(X2_RECIPE, weights_dir)


def read_x4_runs(weights_dir=None) -> dict:
    """name -> training record of every run of :data:`X4_RECIPE` whose record exists (in its order)."""
    return read_variant_runs(X4_RECIPE, weights_dir)


def read_cave_x4_runs(weights_dir=None) -> dict:
    """name -> training record of every run of :data:`CAVE_X4_UPDOWN` whose record exists (in its order)."""
    return read_variant_runs(CAVE_X4_UPDOWN, weights_dir)


def paired_wins(records: dict, pairs: Sequence[tuple[str, str]]) -> Optional[bool]:
    """The declared rule of a change run with the recipe's seeds: ``True`` if every ``(change, recipe)`` pair of
    run names ends with the change's final validation PSNR above the recipe's, ``False`` as soon as one finished
    pair does not, ``None`` while a pair is unfinished and every finished one is above (not decided yet)."""
    finished = list(_finished_pairs(records, pairs))
    if any(c <= r for _, _, c, r in finished):
        return False
    return True if len(finished) == len(pairs) else None


def _finished_pairs(records: dict, pairs: Sequence[tuple[str, str]]):
    """``(change, recipe, change's final validation PSNR, recipe's)`` for each pair whose two records exist."""
    for change, recipe in pairs:
        if change in records and recipe in records:
            yield change, recipe, *(records[n]["final_validation"]["val_psnr"] for n in (change, recipe))


#: a change's seeds paired with the recipe's same seeds (the names :data:`X4_RECIPE` and :data:`CAVE_X4_UPDOWN` use)
SUBPIXEL_PAIRS = (("updown_subpixel", "recipe"), ("updown_subpixel_s1", "recipe_s1"),
                  ("updown_subpixel_s2", "recipe_s2"))


def paired_rows(records: dict, pairs: Sequence[tuple[str, str]]) -> tuple[list, list]:
    """``(header, rows)``: per finished ``(change, recipe)`` pair its seed, both final validation PSNRs and their
    difference, then a row with the mean difference and how many pairs the change is above (a pair whose seeds
    differ is refused: the rule compares a seed with itself)."""
    header = ["seed", "recipe (dB)", "change (dB)", "change - recipe (dB)"]
    rows, diffs = [], []
    for change, recipe, c, r in _finished_pairs(records, pairs):
        seed = records[change]["config"]["seed"]
        if records[recipe]["config"]["seed"] != seed:
            raise ValueError(f"{change!r} and {recipe!r} were trained with different seeds")
        diffs.append(c - r)
        rows.append([seed, f"{r:.2f}", f"{c:.2f}", f"{c - r:+.2f}"])
    if diffs:
        rows.append(["**mean**", "", "", f"{sum(diffs) / len(diffs):+.2f} ({sum(d > 0 for d in diffs)} of "
                     f"{len(diffs)} above)"])
    return header, rows


def plot_pairs(records: dict, pairs: Sequence[tuple[str, str]], ax=None, title: str = "",
               labels: tuple[str, str] = ("recipe", "change")):
    """One line per finished ``(change, recipe)`` pair from the recipe's final validation PSNR (left) to the
    change's (right), labelled by seed: a line that climbs is a seed the change helped."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(3.2, 3.2))
    for change, _, c, r in _finished_pairs(records, pairs):
        seed = records[change]["config"]["seed"]
        ax.plot([0, 1], [r, c], marker="o", c=f"C{seed}", label=f"seed {seed}: {c - r:+.2f}")
    ax.set_xticks([0, 1], labels)
    ax.set_xlim(-0.3, 1.3)
    ax.set_ylabel("final validation PSNR (dB)")
    ax.set_title(title, fontsize=10)
    if ax.get_lines():
        ax.legend(fontsize=8)
    return ax


def seed_arm_rows(records: dict, arms: dict, summ: dict, sets: Sequence[str] = ("test", "country-heldout")):
    """``(header, rows)`` comparing arms of seeds run by seed: per seed its final validation PSNR (from the
    training ``records``, name -> record, e.g. :func:`read_x2_runs`) and its mean PSNR on each of ``sets`` (from
    :func:`mmsr.guidance_check.summary` ``summ``; ``-`` where not scored), then per arm a row of means with the
    sample standard deviation over its seeds. ``arms``: label -> ``[(run name in records, name in summ), ...]``
    in seed order. A run without a record is refused: an arm must not quietly lose a seed. A run that trained on
    its own validation images (``--train-split train``) shows ``-`` there: that number validates nothing."""
    missing = [run for pairs in arms.values() for run, _ in pairs if run not in records]
    if missing:
        raise ValueError(f"no training record for {missing}")
    header = ["arm", "seed", "validation", *sets]
    rows = []
    for label, pairs in arms.items():
        cols = {"validation": [None if _validated_on_training_images(records[run])
                               else records[run]["final_validation"]["val_psnr"] for run, _ in pairs]}
        cols.update({st: [summ.get(name, {}).get(st, {}).get("mean") for _, name in pairs] for st in sets})
        for k, (run, _) in enumerate(pairs):
            rows.append([label, records[run]["config"]["seed"],
                         *("-" if cols[c][k] is None else f"{cols[c][k]:.2f}" for c in header[2:])])
        rows.append([f"**{label}: mean**", f"{len(pairs)} seed{'s' * (len(pairs) > 1)}",
                     *(_mean_text(cols[c]) for c in header[2:])])
    return header, rows


def _validated_on_training_images(record: dict) -> bool:
    meta = record.get("meta", {})
    return bool(set(meta.get("val_images", ())) & set(meta.get("train_images", ())))


def _mean_text(values: Sequence[Optional[float]]) -> str:
    """``"mean +- sample std"`` of ``values`` (the mean alone for one value); ``-`` if any is missing."""
    import statistics

    if any(v is None for v in values):
        return "-"
    return f"{statistics.mean(values):.2f}" + (f" +- {statistics.stdev(values):.2f}" if len(values) > 1 else "")


#: chapter 7's question "x8 in one step or three x2 steps", on CAVE x8 (validation scenes only): the committed
#: experiment folders (``mmsr/weights/experiments/<folder>``) of the two forms, trained with one recipe from
#: scratch (1,600 steps of 16 64x64 HR patches, seed 0); they differ only in ``cascade``
X8_FORMS = {"one x8 step": "recurrent_cave_x8_scratch", "three x2 steps, shared": "recurrent_cave_x8_cascade"}


def compare_forms(records: dict, differ: str = "cascade") -> tuple[list, list]:
    """``(header, rows)`` for runs of one recipe that differ only in the setting ``differ`` (records missing a
    setting count as the recipe's default, so runs written before it existed take part): label, parameters,
    validation PSNR by step, the final one, CPU-minutes. Records that differ in anything else are refused."""
    from .recipes import RECURRENT_SETTINGS

    if len(records) < 2:
        raise ValueError(f"comparing forms needs at least two records, got {len(records)}")
    default = RECURRENT_SETTINGS["default"]

    def settings(rec):
        s = {**default, **rec["meta"]["settings"]}
        return {k: _norm(v) for k, v in s.items() if k != differ}, rec["config"]["seed"], rec["meta"]["scale"]

    reference = settings(next(iter(records.values())))
    for label, rec in records.items():
        if settings(rec) != reference:
            a, b = settings(rec)[0], reference[0]
            diff = {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)}
            raise ValueError(f"{label!r} differs from the first run in more than {differ!r}: {diff or 'seed/scale'}")
    header = ["form", "parameters", "val PSNR by step (dB)", "final (dB)", "minutes"]
    rows = [[label, rec["parameters"], ", ".join(f"{h['val_psnr']:.2f}" for h in rec["history"]),
             f"{rec['final_validation']['val_psnr']:.2f}", f"{rec['train_seconds'] / 60:.0f}"]
            for label, rec in records.items()]
    return header, rows


def _norm(v):
    return list(v) if isinstance(v, (tuple, list)) else v


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mmsr.ablation", description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=None, help="data root (default: $MMSR_DATA)")
    ap.add_argument("--out", type=Path, default=Path("runs/ablation"))
    ap.add_argument("--only", nargs="+", default=None, choices=list(VARIANTS), metavar="VARIANT",
                    help=f"some of {list(VARIANTS)}")
    ap.add_argument("--print-commands", action="store_true", help="print each variant's command and exit")
    a = ap.parse_args(argv)
    names = _check_variants(VARIANTS if a.only is None else a.only)
    if a.print_commands:
        print("\n".join(train_command(n, str(a.out), a.root or "$MMSR_DATA") for n in names))
        return 0
    run_variants(a.root, a.out, names)
    header, rows = ablation_rows(read_runs(a.out))
    print("\n".join(" | ".join(map(str, r)) for r in [header] + rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
