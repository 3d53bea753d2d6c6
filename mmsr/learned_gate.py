"""Train the gate instead of choosing it: ``python -m mmsr.learned_gate lmcsc --scale 4 --root ../shared/data``.

The hand-made gate of :mod:`mmsr.models.gated` (chosen on the validation images by
:func:`mmsr.guidance_check.select_gate`) lifts every guided model above SRCNN on the held-out landscapes, but costs
0.3-0.8 dB on the test images, more than the 0.2 dB issue #11 allows. Here a small CNN
(:class:`~mmsr.models.gated.GateHead`) learns the blend from data instead:

* frozen: the committed guided model ``name`` and the committed SRCNN at the same scale -- only the head trains;
* training images: ``train+country`` (the urban training images less the validation ones, and the fixed training
  half of the landscapes; issue #11 allows at most half, :data:`mmsr.data.datasets.EPFL_COUNTRY_TRAIN_IDS`), cut
  into crops with a margin of context (the loss is on the centre, so the head never learns from border effects);
* validation: ``val+country`` (3 urban + 6 landscape images, whole), every ``val_every`` steps;
* never a test or held-out landscape image. The held-out half and the test images are scored afterwards by
  ``python -m mmsr.guidance_check --scale S --only-runs --run NAME+learned-gate=DIR``.

``--guided DIR`` freezes a training run of the guided model instead of its committed weights (a candidate of an
ablation, e.g. ``mmsr/weights/experiments/recurrent_x2_...``): the record keeps the folder and the digest of its
weights, and :func:`load_run` refuses the gate if those weights have changed since.

The run folder is a normal :class:`~mmsr.training.Trainer` folder (resumable checkpoints, ``record.json`` with
commit, seed, settings, wall time and the digests of the two frozen models, ``weights.safetensors`` with the head
only); :func:`load_run` rebuilds the whole gated model from it. This is our construction, not one of the papers'.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from .data.datasets import load_epfl_nir
from .evaluate import prepare_inputs
from .metrics import psnr, quantize
from .models.gated import GateHead, LearnedGateSR
from .runtime import seed_everything
from .training import LOSSES, TrainConfig, Trainer, load_weights, patch_batches

#: the guided NIR models a gate can be trained for
GUIDED = ("djf", "coista", "lmcsc", "recurrent")
TRAIN_SPLIT, VAL_SPLIT = "train+country", "val+country"


@dataclass
class GateSettings:
    """What decides a learned gate besides the training loop (recorded in the run's meta)."""

    width: int = 16        # channels of the head
    crop: int = 128        # HR crop on which the loss is taken
    margin: int = 8        # LR pixels of context around each crop (the r_15 window reaches 7)
    per_image: int = 16    # crops per training image
    consistency: bool = False   # also show the head each estimate's back-projection error (GateHead)

    def __post_init__(self):
        if min(self.width, self.crop, self.per_image) < 1 or self.margin < 0:
            raise ValueError(f"width, crop, per_image must be >= 1 and margin >= 0, got {asdict(self)}")


class _CentreLoss(torch.nn.Module):
    """The head, returning only the centre of its crop (the Trainer's loss is taken on what this returns)."""

    def __init__(self, head: GateHead, margin_hr: int):
        super().__init__()
        self.head, self.m = head, margin_hr

    def forward(self, lr, guide, guided, single):
        y = self.head(lr, guide, guided, single)
        return y[..., self.m:y.shape[-2] - self.m, self.m:y.shape[-1] - self.m] if self.m else y


@torch.no_grad()
def _estimates(guided, single, lr, g):
    return guided.eval()(lr, g), single.eval()(lr, g)


@torch.no_grad()
def gate_crops(pairs, guided, single, guide_mode: str, scale: int, s: GateSettings, seed: int = 0) -> dict:
    """Crops of ``(lr, guide, guided estimate, single estimate, hr)`` from ``pairs``, each ``crop + 2 * margin``
    HR pixels wide (``hr`` only the centre ``crop``), at positions drawn with ``seed``; a pair too small for one
    crop is refused."""
    if s.crop % scale:
        raise ValueError(f"crop {s.crop} must be a multiple of the scale {scale}")
    rng = np.random.default_rng(seed)
    c, m = s.crop // scale + 2 * s.margin, s.margin  # LR sizes
    out = {k: [] for k in ("lr", "guide", "guided", "single", "hr")}
    for p in pairs:
        lr, g, hr = prepare_inputs(p, scale, guide_mode)
        h, w = lr.shape[-2:]
        if h < c or w < c:
            raise ValueError(f"{p.name}: LR image {h}x{w} is smaller than one crop with margin ({c} px)")
        hr_t = torch.from_numpy(np.asarray(hr, dtype=np.float32) / p.peak)[None, None]
        for _ in range(s.per_image):
            i, j = int(rng.integers(0, h - c + 1)), int(rng.integers(0, w - c + 1))
            lc = lr[..., i:i + c, j:j + c]
            gc = g[..., i * scale:(i + c) * scale, j * scale:(j + c) * scale]
            yg, ys = _estimates(guided, single, lc, gc)
            out["lr"].append(lc), out["guide"].append(gc), out["guided"].append(yg), out["single"].append(ys)
            out["hr"].append(hr_t[..., (i + m) * scale:(i + c - m) * scale, (j + m) * scale:(j + c - m) * scale])
    return {k: torch.cat(v) for k, v in out.items()}


class _Crops:
    """:func:`gate_crops` as a set :func:`mmsr.training.patch_batches` can draw from."""

    KEYS = ("lr", "guide", "guided", "single", "hr")

    def __init__(self, crops: dict):
        self.crops = crops

    def __len__(self) -> int:
        return len(self.crops["hr"])

    def batch(self, idx) -> tuple:
        return tuple(self.crops[k][idx] for k in self.KEYS)


def crop_batches(crops: dict, batch_size: int, seed: int):
    """Trainer batches from :func:`gate_crops` (:func:`mmsr.training.patch_batches`: epoch ``e`` visits the crops
    in the permutation seeded by ``(seed, e)``, a function of the step, so resuming is exact)."""
    if batch_size > len(crops["hr"]):
        raise ValueError(f"batch size {batch_size} exceeds the number of crops {len(crops['hr'])}")
    return patch_batches(_Crops(crops), batch_size, seed)


def validation(pairs, guided, single, guide_mode: str, scale: int):
    """``validate(model) -> dict`` for the Trainer: mean PSNR of the gated estimate on ``pairs`` (whole images;
    the frozen estimates computed once), on the landscapes among them, and what SRCNN scores there."""
    cached = []
    for p in pairs:
        lr, g, hr = prepare_inputs(p, scale, guide_mode)
        yg, ys = _estimates(guided, single, lr, g)
        cached.append((p, lr, g, yg, ys, hr))

    def score(y, p, hr):
        return psnr(quantize(y.double().cpu().numpy()[0, 0] * p.peak, p.bit_depth), hr, peak=p.peak)

    single_land = [score(ys, p, hr) for p, _, _, _, ys, hr in cached if p.name.startswith("country")]

    def validate(model) -> dict:
        head = model.head if isinstance(model, _CentreLoss) else model
        dev = next(head.parameters()).device
        got = [(p.name, score(head(lr.to(dev), g.to(dev), yg.to(dev), ys.to(dev)), p, hr))
               for p, lr, g, yg, ys, hr in cached]
        land = [v for n, v in got if n.startswith("country")]
        out = {"val_psnr": float(np.mean([v for _, v in got]))}
        if land:
            out.update(val_land_psnr=float(np.mean(land)), val_land_srcnn_psnr=float(np.mean(single_land)))
        return out

    return validate


def guided_run_method(run_dir, name: str, scale: int) -> tuple:
    """``(model, guide_mode, source)`` of a training run folder of the guided model ``name`` at ``scale``; the
    source is the folder and the first digits of its weights' digest (so that a gate notices replaced weights).
    A folder of another model or scale, or without a record, is refused with a one-line error."""
    from .guidance_check import run_method
    from .storage import read_weights, tensors_digest

    run_dir = Path(run_dir)
    if not (run_dir / "record.json").is_file() or not (run_dir / "weights.safetensors").is_file():
        raise FileNotFoundError(f"{run_dir}: not a finished training run (needs record.json and weights.safetensors)")
    meta = json.loads((run_dir / "record.json").read_text()).get("meta", {})
    if (meta.get("model"), meta.get("scale")) != (name, scale):
        raise ValueError(f"{run_dir} holds {meta.get('model')!r} at x{meta.get('scale')}, not {name!r} at x{scale}")
    model, gmode, _ = run_method(run_dir)
    digest = tensors_digest(read_weights(run_dir / "weights.safetensors")[0])[:10]
    return model, gmode, f"{run_dir.as_posix()}@{digest}"


def train_gate(name: str, scale: int, root=None, out=None, seed: int = 0, settings: Optional[GateSettings] = None,
               config: Optional[TrainConfig] = None, device=None, train_pairs=None, val_pairs=None, guided_run=None):
    """Train a :class:`~mmsr.models.gated.GateHead` for the committed guided model ``name`` (module docstring),
    or for the training run ``guided_run`` of it. ``train_pairs`` / ``val_pairs`` replace the EPFL splits (tests).
    Returns the Trainer's result."""
    from .guidance_check import committed_methods

    if name not in GUIDED:
        raise ValueError(f"unknown guided model {name!r}; expected one of {list(GUIDED)}")
    s = settings or GateSettings()
    config = config or TrainConfig(steps=2000, batch_size=8, lr=1e-3, lr_milestones=(1500,), val_every=250,
                                   ckpt_every=250, seed=seed, progress=False)
    if s.crop % scale:
        raise ValueError(f"crop {s.crop} must be a multiple of the scale {scale}")
    methods = committed_methods(scale)
    if guided_run is not None:
        methods[name] = guided_run_method(guided_run, name, scale)
    if name not in methods or "srcnn" not in methods:
        raise FileNotFoundError(f"no committed x{scale} weights for {name!r} or SRCNN (mmsr/weights/)")
    (guided, gmode, gsource), (single, _, ssource) = methods[name], methods["srcnn"]
    val_pairs_given = val_pairs
    split = TRAIN_SPLIT if train_pairs is None else "pairs given by the caller"
    train_pairs = train_pairs if train_pairs is not None else load_epfl_nir(TRAIN_SPLIT, root)
    val_pairs = val_pairs if val_pairs is not None else load_epfl_nir(VAL_SPLIT, root)
    t0 = time.perf_counter()
    crops = gate_crops(train_pairs, guided, single, gmode, scale, s, seed)
    seed_everything(seed)   # the head's initial draw belongs to the run's seed
    head = GateHead(scale, s.width, s.consistency)
    meta = {"model": "learned_gate", "guided": name, "scale": scale, "settings": asdict(s),
            "guided_source": gsource, "single_source": ssource, "guide_mode": gmode,
            "guided_run": None if guided_run is None else Path(guided_run).as_posix(),
            "train_split": split,
            "train_images": [p.name for p in train_pairs], "val_split": VAL_SPLIT if val_pairs_given is None else "pairs given by the caller",
            "val_images": [p.name for p in val_pairs],
            "crops": len(crops["hr"]), "crop_seconds": round(time.perf_counter() - t0, 1),
            "name": f"{name}+learned-gate x{scale}"}
    trainer = Trainer(_CentreLoss(head, s.margin * scale), config, crop_batches(crops, config.batch_size, seed),
                      validation(val_pairs, guided, single, gmode, scale), out_dir=out,
                      device=device or torch.device("cpu"), meta=meta)
    return trainer.fit()


def load_run(run_dir) -> tuple:
    """A learned-gate run folder as ``(model, guide_mode, source)`` (for :mod:`mmsr.guidance_check`); refuses a
    run whose frozen models are no longer the committed ones (their digests are in the record)."""
    from .guidance_check import committed_methods

    run_dir = Path(run_dir)
    rec = json.loads((run_dir / "record.json").read_text())
    meta = rec["meta"]
    if meta.get("model") != "learned_gate":
        raise ValueError(f"{run_dir} is not a learned-gate run (model {meta.get('model')!r})")
    scale = meta["scale"]
    methods = committed_methods(scale)
    if meta.get("guided_run"):
        methods[meta["guided"]] = guided_run_method(meta["guided_run"], meta["guided"], scale)
    (guided, gmode, gsource), (single, _, ssource) = methods[meta["guided"]], methods["srcnn"]
    if (gsource, ssource) != (meta["guided_source"], meta["single_source"]):
        raise ValueError(f"{run_dir} was trained on {meta['guided_source']} and {meta['single_source']}; "
                         f"they are now: {gsource} and {ssource}")
    wrapper = _CentreLoss(GateHead(scale, meta["settings"]["width"], meta["settings"].get("consistency", False)), 0)
    load_weights(wrapper, run_dir / "weights.safetensors")
    return LearnedGateSR(guided, single, wrapper.head), gmode, str(run_dir)


def compare_on_validation(candidate: dict, reference: dict, max_drop: float = 0.05) -> dict:
    """The rule written down before the candidate gate was trained (chapter 5, issue #11): adopt the candidate
    (e.g. another loss) over the reference gate if its final validation score on the landscapes
    (``val_land_psnr``) is higher and its overall validation score (``val_psnr``) is not lower by more than
    ``max_drop`` dB. Reads the two runs' records only -- never a test or held-out image."""
    c, r = candidate["final_validation"], reference["final_validation"]
    for rec, v in ((candidate, c), (reference, r)):
        if rec.get("meta", {}).get("model") != "learned_gate" or "val_land_psnr" not in v:
            raise ValueError("both records must be learned-gate runs validated on landscapes (val+country)")
    if candidate["meta"]["guided"] != reference["meta"]["guided"] or \
            candidate["meta"]["scale"] != reference["meta"]["scale"]:
        raise ValueError("the two gates must be for the same guided model at the same scale")
    frozen = [(rec["meta"].get("guided_source"), rec["meta"].get("single_source")) for rec in (candidate, reference)]
    if frozen[0] != frozen[1]:   # e.g. one gate trained before the committed weights were replaced
        raise ValueError(f"the two gates were trained on different frozen models: {frozen[0]} and {frozen[1]}")
    d_land, d_all = c["val_land_psnr"] - r["val_land_psnr"], c["val_psnr"] - r["val_psnr"]
    return {"d_val_land": d_land, "d_val": d_all, "adopt": d_land > 0 and d_all >= -max_drop}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mmsr.learned_gate", description=__doc__.split("\n\n")[0])
    ap.add_argument("model", choices=GUIDED)
    ap.add_argument("--scale", type=int, required=True)
    ap.add_argument("--root", default=None, help="data root (default: $MMSR_DATA)")
    ap.add_argument("--out", type=Path, required=True, help="run folder (re-running the command resumes)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--loss", choices=LOSSES, default="mse",
                    help="mse: the pooled squared error; log_mse: every crop's PSNR counts alike")
    ap.add_argument("--consistency", action="store_true",
                    help="also give the head each estimate's back-projection error (how far it departs from the "
                         "LR target once downscaled)")
    ap.add_argument("--guided", type=Path, default=None, metavar="DIR",
                    help="a training run folder of the guided model to freeze instead of its committed weights")
    a = ap.parse_args(argv)
    cfg = TrainConfig(steps=a.steps, batch_size=8, lr=1e-3, lr_milestones=(int(a.steps * 0.75),), val_every=250,
                      ckpt_every=250, seed=a.seed, progress=False, loss=a.loss)
    res = train_gate(a.model, a.scale, a.root, a.out, a.seed, settings=GateSettings(consistency=a.consistency),
                     config=cfg, guided_run=a.guided)
    print(json.dumps({"final_validation": res.record.get("final_validation"),
                      "train_seconds": res.record.get("train_seconds")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
