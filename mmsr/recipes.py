"""Run modes -> settings, in one place, and the experiment functions that notebooks and scripts share.

A notebook or ``python -m mmsr.train`` picks a mode (:func:`mmsr.runtime.get_mode`) and passes it here; the
returned settings are plain values handed down to data, models and the trainer. Nothing else reads the mode.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Optional

from .checks import check_scale
from .data.datasets import cave_pairs, depth_pairs, nir_pairs
from .data.thermal import vt_pairs
from .data.patches import PatchSampler, check_rescale
from .evaluate import evaluate, mean_row
from .models import DJF, GuidedFilterUpsampler, SRCNN
from .runtime import get_mode, seed_everything
from .storage import KEEP_CHECKPOINTS, RunLock, preflight
from .training import TrainConfig, Trainer, TrainResult, load_weights, load_weights_across_scales, patch_batches

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"

#: Guided-filter parameters per scale, chosen on 8 EPFL training images (``train-minus-val``; never the test
#: images). Joint upsampling (coefficients on the LR grid) with radius {1,2,4} x eps {1e-6,...,1e-2} won by far
#: over filtering the bicubic image on the HR grid (radius {1,...,16} x eps {1e-6,...,1e-2} x grey/RGB guide):
#: 38.84 vs 34.98 dB at x2 and 35.94 vs 30.34 dB at x4 on those images. Chapter 1 shows the sweep.
GUIDED_FILTER = {2: {"radius": 1, "eps": 1e-5, "guide": "gray", "variant": "joint"},
                 4: {"radius": 1, "eps": 1e-5, "guide": "gray", "variant": "joint"}}

#: Zero-shot (ZSSR / CMSR) sizes per run mode; everything else is :class:`mmsr.zeroshot.ZeroShotConfig`'s
#: defaults. ``default`` is sized for a laptop CPU (about a minute per NIR pair on one core); ``full`` is the
#: paper's network (FE1: 8 layers of 64 channels) for a GPU. The deformation learning-rate factors (0.01) and
#: the plateau test (300 steps, 0.5 %) were chosen on misaligned EPFL validation pairs (``val`` split): with
#: factors of 0.1 the deformation drifted and cost 0.5 dB; with a 100-step plateau test the schedule cut the
#: learning rate before the guide branch had learned anything (33.9 dB instead of 37.6 on train_0062 at x4).
#: The alternating-scales probability is 0 (see :mod:`mmsr.zeroshot`): on the 3 validation images p = 0 gave
#: 35.70 dB mean at x4 and p = 0.5 gave 32.74 dB (guided filter: 32.86).
ZEROSHOT_SETTINGS = {
    "smoke": {"width": 8, "depth": 3, "fe2_width": 8, "fe2_depth": 2, "batch": 2, "patch": 8, "steps": 12,
              "check_every": 6, "self_ensemble": False, "bp_iters": 2},
    "default": {"width": 32, "depth": 6, "fe2_width": 32, "fe2_depth": 4, "batch": 4, "patch": 32, "steps": 1500},
    "full": {"width": 64, "depth": 8, "fe2_width": 64, "fe2_depth": 6, "batch": 16, "patch": 48, "steps": 3000},
}


def zeroshot_config(method: str = "cmsr", mode: Optional[str] = None, **overrides):
    """The :class:`~mmsr.zeroshot.ZeroShotConfig` of a run mode, with ``overrides``."""
    from .zeroshot import ZeroShotConfig

    # alternating scales is CMSR's: without a guide the upsampling-based scheme teaches FE1 that the residual
    # of a bicubic input is zero, and ZSSR collapses to bicubic + back-projection (measured: a constant FE1)
    # ZSSR goes through x2 stages at x4 and above, as Shocher et al. do (on the validation image train_0086 at
    # x4: 32.84 dB gradual vs 32.32 dB direct; bicubic 31.01). CMSR's gradual mode is not validated yet: off.
    zssr = {"alternating_p": 0.0, "gradual": True} if method == "zssr" else {}
    base = {**ZEROSHOT_SETTINGS[get_mode(mode)], **zssr}
    return ZeroShotConfig(method=method, **{**base, **overrides})


#: SRCNN training per run mode. ``full`` follows the paper's data (40,000 patches of 64x64); its step count
#: is ours (SRCNN's 10^8 SGD steps are replaced by Adam, which converges far sooner).
SRCNN_SETTINGS = {
    "smoke": {"patches": 256, "patch_size": 32, "steps": 15, "batch_size": 16, "lr": 1e-3, "milestones": (),
              "val_every": 0, "ckpt_every": 0},
    "default": {"patches": 8000, "patch_size": 48, "steps": 300, "batch_size": 32, "lr": 1e-3, "milestones": (),
                "val_every": 100, "ckpt_every": 100},
    "full": {"patches": 40000, "patch_size": 64, "steps": 60000, "batch_size": 32, "lr": 1e-3,
             "milestones": (30000, 45000), "val_every": 2000, "ckpt_every": 2000},
}


#: SRCNN as trained here: the 9-1-5 network of 004, but predicting the correction to the bicubic input
#: (``residual=True``, as VDSR does) -- the same function class, which trains in minutes instead of days.
SRCNN_ARCH = {"residual": True}


def guided_filter_model(scale: int) -> GuidedFilterUpsampler:
    p = GUIDED_FILTER[check_scale(scale)]
    return GuidedFilterUpsampler(scale, p["radius"], p["eps"], p["variant"])


def srcnn_settings(mode: Optional[str] = None) -> dict:
    return dict(SRCNN_SETTINGS[get_mode(mode)])


def pretrained_path(name: str, scale: int) -> Path:
    """The committed weights of ``name`` at ``scale`` (safetensors; the record is the ``.json`` beside it)."""
    return WEIGHTS_DIR / f"{name}_x{scale}.safetensors"


#: LMCSC (000) per run mode. ``full`` follows the paper (85 kernels of 5x5, 40,000 patches of 64x64, batch 32,
#: Adam); stages, learning rate and schedule are our choices (see the LMCSC chapter's ablation). One deliberate
#: deviation: thresholds start at ``mu0 = 0.01``, not 0.2. With images in [0, 1] and kernels N(0, 0.01^2) the
#: pre-activations are ~0.1 < 2 * 0.2, so at 0.2 every code is zero, LeSITA's flat region passes no gradient and
#: the network never leaves its bicubic output (the chapter shows this). ``guide``: the guide's luminance ("gray",
#: the paper's) or its colour ("rgb", as DJF and the recurrent network read it).
LMCSC_SETTINGS = {
    "smoke": {"patches": 128, "patch_size": 32, "steps": 10, "batch_size": 8, "lr": 1e-3, "milestones": (),
              "val_every": 0, "ckpt_every": 0, "atoms": 8, "stages": 2, "guide_layers": 2, "mu0": 0.01,
              "guide": "gray"},
    "default": {"patches": 4000, "patch_size": 48, "steps": 150, "batch_size": 16, "lr": 1e-3, "milestones": (),
                "val_every": 50, "ckpt_every": 50, "atoms": 32, "stages": 3, "guide_layers": 3, "mu0": 0.01,
                "guide": "gray"},
    "full": {"patches": 40000, "patch_size": 64, "steps": 20000, "batch_size": 32, "lr": 1e-3,
             "milestones": (12000, 16000), "val_every": 1000, "ckpt_every": 1000, "atoms": 85, "stages": 3,
             "guide_layers": 3, "mu0": 0.01, "guide": "gray"},
}


#: LMCSC on CAVE (RGB guide, issue #10): :data:`LMCSC_SETTINGS` with a one-stage guide encoder (``guide_layers
#: = 1``: the guide's codes are ``soft(W * guide)``, the first step of its convolutional LISTA). With three stages
#: the colour guide encoder learned stages that enlarge codes 23-33x (:func:`mmsr.interpret.acsc_iteration_gain`;
#: other trained encoders' stages: 4-8x) in 2 of 3 seeded draws: guide codes of magnitude ~40-100, which LeSITA never
#: copies, the guide is lost and the run ends level with single-image SRCNN. Measured on the CAVE validation scenes
#: (never the test scenes), seed 1: three stages 31.2 dB after 400 steps (gain 27); one stage 40.5 after 450.
#: Thresholds from 0.05 with gradients clipped to 0.02 delayed the blow-up but did not prevent it (seed 0: 41.0 dB
#: at step 500, 34.7 at step 1000, gain 23). Chapter 7 shows the failure and the fix.
LMCSC_CAVE_SETTINGS = {mode: {**s, "guide_layers": 1, "guide": "rgb"} for mode, s in LMCSC_SETTINGS.items()}

#: DJF (Li et al., 2016) per run mode: the guided baseline of 000's and 003's tables, trained like SRCNN on the
#: NIR training split with the colour guide. ``full`` is sized for a GPU; the committed CPU weights record theirs.
#: Learning rate 2e-4: at 1e-3 (SRCNN's) the x4 fusion stack's second ReLU layer died within 600 steps (all 32
#: maps zero, the output stuck at bicubic: 30.79 dB on the validation images at every check).
DJF_SETTINGS = {
    "smoke": {"patches": 128, "patch_size": 32, "steps": 10, "batch_size": 8, "lr": 2e-4, "milestones": (),
              "val_every": 0, "ckpt_every": 0},
    "default": {"patches": 4000, "patch_size": 48, "steps": 200, "batch_size": 16, "lr": 2e-4, "milestones": (),
                "val_every": 100, "ckpt_every": 100},
    "full": {"patches": 40000, "patch_size": 64, "steps": 40000, "batch_size": 32, "lr": 2e-4,
             "milestones": (24000, 32000), "val_every": 2000, "ckpt_every": 2000},
}


#: The recurrent coupled network of 001 (:class:`~mmsr.models.recurrent.RecurrentCoupledNet`) per run mode,
#: trained on the NIR training split with the RGB guide (issue: a luminance guide throws away what differs
#: between the channels). Sizes, steps and schedule are ours; ``full`` is sized for a GPU. ``guide`` ("rgb" or
#: "gray": the guide's luminance), ``fusion`` ("lesita": in the HR state; "none": no guide branch; "lr": in the
#: LR state; "both"), ``shared`` (False: steps 2..T have their own filters and thresholds) and ``updown``
#: ("learned", "fixed", "subpixel") and ``cascade`` (True: the scale as x2 steps of one shared x2 network,
#: :class:`~mmsr.models.recurrent.RecurrentCascade`) exist for chapter 7's ablation; the committed weights use
#: "rgb", "lesita", shared weights, learned projections and one step to the scale. ``side_weight`` (True: LeSITA's
#: ``|u - s|`` term with a learned weight of its own per map), ``skip_kernel`` (a wider learned ``Skip``) and
#: ``kernel`` (the filters' size) exist for chapter 7's x2 question; the committed weights use 5 x 5 filters and
#: neither option.
RECURRENT_SETTINGS = {
    "smoke": {"patches": 128, "patch_size": 32, "steps": 10, "batch_size": 8, "lr": 1e-3, "milestones": (),
              "val_every": 0, "ckpt_every": 0, "atoms": 8, "rnn_steps": 2, "guide_layers": 2, "output": "mean",
              "guide": "rgb", "fusion": "lesita", "shared": True, "updown": "learned", "cascade": False,
              "side_weight": False, "skip_kernel": None, "kernel": 5},
    "default": {"patches": 4000, "patch_size": 48, "steps": 150, "batch_size": 16, "lr": 1e-3, "milestones": (),
                "val_every": 50, "ckpt_every": 50, "atoms": 32, "rnn_steps": 3, "guide_layers": 3,
                "output": "mean", "guide": "rgb", "fusion": "lesita", "shared": True, "updown": "learned",
                "cascade": False, "side_weight": False, "skip_kernel": None, "kernel": 5},
    "full": {"patches": 40000, "patch_size": 64, "steps": 20000, "batch_size": 32, "lr": 1e-3,
             "milestones": (12000, 16000), "val_every": 1000, "ckpt_every": 1000, "atoms": 64, "rnn_steps": 4,
             "guide_layers": 3, "output": "mean", "guide": "rgb", "fusion": "lesita", "shared": True,
             "updown": "learned", "cascade": False, "side_weight": False, "skip_kernel": None, "kernel": 5},
}


#: CSCN (Wang et al., 2015; :mod:`mmsr.models.cscn`), the single-image deep-unfolding column of Table 1 of 000,
#: trained like SRCNN on the NIR training split. Atoms and features are the paper's (128, 100); steps, learning
#: rate and schedule are ours. ``full`` is sized for a GPU.
CSCN_SETTINGS = {
    "smoke": {"patches": 256, "patch_size": 32, "steps": 15, "batch_size": 16, "lr": 1e-3, "milestones": (),
              "val_every": 0, "ckpt_every": 0, "atoms": 16, "features": 100},
    "default": {"patches": 8000, "patch_size": 48, "steps": 300, "batch_size": 32, "lr": 1e-3, "milestones": (),
                "val_every": 100, "ckpt_every": 100, "atoms": 128, "features": 100},
    "full": {"patches": 40000, "patch_size": 64, "steps": 40000, "batch_size": 32, "lr": 1e-3,
             "milestones": (24000, 32000), "val_every": 2000, "ckpt_every": 2000, "atoms": 128, "features": 100},
}


def _build_cscn(scale, s):
    from .models.cscn import CSCN

    return CSCN(scale, atoms=s["atoms"], features=s["features"])


#: SRFBN (Li et al., 2019; :mod:`mmsr.models.srfbn`), the feedback network of 000's and 001's tables, single-image,
#: trained like SRCNN on the NIR training split with the loss averaged over its steps. ``default`` is the
#: paper's small variant SRFBN-S (m = 32, G = 3, T = 4), ``full`` the paper's SRFBN (m = 64, G = 6, T = 4), sized
#: for a GPU; MSE loss, learning rate and schedule are ours (the paper: L1, 1e-4).
SRFBN_SETTINGS = {
    "smoke": {"patches": 128, "patch_size": 32, "steps": 10, "batch_size": 8, "lr": 5e-4, "milestones": (),
              "val_every": 0, "ckpt_every": 0, "features": 8, "groups": 2, "rnn_steps": 2},
    "default": {"patches": 8000, "patch_size": 48, "steps": 300, "batch_size": 16, "lr": 5e-4, "milestones": (),
                "val_every": 100, "ckpt_every": 100, "features": 32, "groups": 3, "rnn_steps": 4},
    "full": {"patches": 40000, "patch_size": 64, "steps": 40000, "batch_size": 16, "lr": 2e-4,
             "milestones": (20000, 30000), "val_every": 2000, "ckpt_every": 2000, "features": 64, "groups": 6,
             "rnn_steps": 4},
}


def _build_srfbn(scale, s):
    from .models.srfbn import SRFBN

    return SRFBN(scale, features=s["features"], groups=s["groups"], steps=s["rnn_steps"])


#: CoISTA (Deng & Dragotti, 2019; :mod:`mmsr.models.coista`), a guided column of 001's tables, trained like LMCSC
#: on the NIR training split with the luminance guide (as LMCSC). 8x8 patches and 4 layers follow the authors'
#: code; atoms, steps, learning rate and schedule are ours. ``full`` is sized for a GPU.
COISTA_SETTINGS = {
    "smoke": {"patches": 128, "patch_size": 32, "steps": 10, "batch_size": 8, "lr": 1e-3, "milestones": (),
              "val_every": 0, "ckpt_every": 0, "atoms": 16, "layers": 2},
    "default": {"patches": 8000, "patch_size": 48, "steps": 300, "batch_size": 16, "lr": 1e-3, "milestones": (),
                "val_every": 100, "ckpt_every": 100, "atoms": 64, "layers": 4},
    "full": {"patches": 40000, "patch_size": 64, "steps": 20000, "batch_size": 32, "lr": 1e-3,
             "milestones": (12000, 16000), "val_every": 1000, "ckpt_every": 1000, "atoms": 256, "layers": 4},
}


def _coista_builder(guide_channels: int):
    def build(scale, s):
        from .models.coista import CoISTA

        return CoISTA(scale, guide_channels=guide_channels, atoms=s["atoms"], layers=s["layers"])
    return build


_build_coista = _coista_builder(1)


#: VTSRCNN / VTSRGAN (Almasri & Debeir, 2018; :mod:`mmsr.models.vtsr`), the visible-thermal columns of 003's
#: Table 1, trained with the RGB guide on each table's own training data (``vtsrcnn``: NIR; ``vtsrcnn_vt``: the
#: registered visible-thermal training pairs, :mod:`mmsr.data.thermal`). Layer sizes are ours (``default``: 32
#: features, 4 residual blocks; ``full``: 64 and 16, the authors' larger thermal network). VTSRGAN fine-tunes the
#: committed VTSRCNN of the same data (``generator_init``) with SRGAN's adversarial weight 1e-3.
VTSRCNN_SETTINGS = {
    "smoke": {"patches": 128, "patch_size": 32, "steps": 10, "batch_size": 8, "lr": 5e-4, "milestones": (),
              "val_every": 0, "ckpt_every": 0, "features": 8, "blocks": 1},
    "default": {"patches": 8000, "patch_size": 48, "steps": 300, "batch_size": 16, "lr": 5e-4, "milestones": (),
                "val_every": 100, "ckpt_every": 100, "features": 32, "blocks": 4},
    "full": {"patches": 40000, "patch_size": 64, "steps": 40000, "batch_size": 16, "lr": 2e-4,
             "milestones": (20000, 30000), "val_every": 2000, "ckpt_every": 2000, "features": 64, "blocks": 16},
}
_GAN = {"adversarial_weight": 1e-3, "disc_features": 32}
VTSRGAN_SETTINGS = {mode: {**s, **_GAN, "lr": s["lr"] / 2} for mode, s in VTSRCNN_SETTINGS.items()}


def _vtsrcnn_builder(guide_channels: int):
    def build(scale, s):
        from .models.vtsr import VTSRCNN

        return VTSRCNN(scale, features=s["features"], blocks=s["blocks"], guide_channels=guide_channels)
    return build


def _build_recurrent(scale, s):
    from .models.recurrent import RecurrentCascade, RecurrentCoupledNet

    # records written before the ablation settings existed used the RGB guide and LeSITA
    kw = dict(atoms=s["atoms"], steps=s["rnn_steps"], guide_channels=1 if s.get("guide", "rgb") == "gray" else 3,
              guide_layers=s["guide_layers"], output=s["output"], fusion=s.get("fusion", "lesita"),
              shared=s.get("shared", True), updown=s.get("updown", "learned"),
              side_weight=s.get("side_weight", False), skip_kernel=s.get("skip_kernel"), kernel=s.get("kernel", 5))
    if s.get("cascade", False):   # chapter 7's ablation: the scale as x2 steps of one shared network
        return RecurrentCascade(scale, **kw)
    return RecurrentCoupledNet(scale, **kw)


def _build_srcnn(scale, s):
    return SRCNN(scale, **SRCNN_ARCH)


def _lmcsc_builder(guide_channels: int):
    """LMCSC reading the guide its settings name (``guide``: "gray" or "rgb"); records written before the setting
    existed read ``guide_channels`` (1 on NIR, 3 on CAVE)."""
    def build(scale, s):
        from .models.lmcsc import LMCSCNet

        channels = {"gray": 1, "rgb": 3}.get(s.get("guide"), guide_channels)
        return LMCSCNet(scale, atoms=s["atoms"], stages=s["stages"], guide_layers=s["guide_layers"], mu0=s["mu0"],
                        guide_channels=channels)
    return build


def _djf_builder(guide_channels: int):
    return lambda scale, s: DJF(scale, guide_channels=guide_channels)


#: name -> (settings per mode, model builder(scale, settings), guide mode, training data). Training data
#: "nir": the EPFL NIR training split (:func:`~mmsr.data.datasets.nir_pairs`); "depth": RGB-D pairs disjoint
#: from the Middlebury 2005 test scenes (:func:`~mmsr.data.datasets.depth_pairs`); "cave": the CAVE training
#: scenes, 640 nm band as target, RGB guide (:func:`~mmsr.data.datasets.cave_pairs`; issue #10: the colour guide,
#: not its luminance, for multispectral targets).
TRAINABLE = {"srcnn": (SRCNN_SETTINGS, _build_srcnn, "gray", "nir"),
             "cscn": (CSCN_SETTINGS, _build_cscn, "gray", "nir"),
             "srfbn": (SRFBN_SETTINGS, _build_srfbn, "gray", "nir"),
             "coista": (COISTA_SETTINGS, _build_coista, "gray", "nir"),
             "lmcsc": (LMCSC_SETTINGS, _lmcsc_builder(1), "gray", "nir"),
             "djf": (DJF_SETTINGS, _djf_builder(3), "rgb", "nir"),
             "recurrent": (RECURRENT_SETTINGS, _build_recurrent, "rgb", "nir"),
             # the depth sets mix colour and grey guides: the depth DJF reads luminance
             "djf_depth": (DJF_SETTINGS, _djf_builder(1), "gray", "depth"),
             "srcnn_cave": (SRCNN_SETTINGS, _build_srcnn, "gray", "cave"),
             "djf_cave": (DJF_SETTINGS, _djf_builder(3), "rgb", "cave"),
             "lmcsc_cave": (LMCSC_CAVE_SETTINGS, _lmcsc_builder(3), "rgb", "cave"),
             "recurrent_cave": (RECURRENT_SETTINGS, _build_recurrent, "rgb", "cave"),
             "srfbn_cave": (SRFBN_SETTINGS, _build_srfbn, "gray", "cave"),
             "coista_cave": (COISTA_SETTINGS, _coista_builder(3), "rgb", "cave"),
             "vtsrcnn": (VTSRCNN_SETTINGS, _vtsrcnn_builder(3), "rgb", "nir"),
             "vtsrgan": (VTSRGAN_SETTINGS, _vtsrcnn_builder(3), "rgb", "nir"),
             "vtsrcnn_vt": (VTSRCNN_SETTINGS, _vtsrcnn_builder(3), "rgb", "vt"),
             "vtsrgan_vt": (VTSRGAN_SETTINGS, _vtsrcnn_builder(3), "rgb", "vt"),
             # as the depth DJF: luminance guide (the depth sets mix colour and grey guides)
             "vtsrcnn_depth": (VTSRCNN_SETTINGS, _vtsrcnn_builder(1), "gray", "depth"),
             "vtsrgan_depth": (VTSRGAN_SETTINGS, _vtsrcnn_builder(1), "gray", "depth"),
             "djf_vt": (DJF_SETTINGS, _djf_builder(3), "rgb", "vt")}
TRAINING_DATA = {"nir": nir_pairs, "depth": depth_pairs, "cave": cave_pairs, "vt": vt_pairs}
#: an adversarially trained model -> the committed model whose weights start its generator
GAN_GENERATOR_INIT = {"vtsrgan": "vtsrcnn", "vtsrgan_vt": "vtsrcnn_vt", "vtsrgan_depth": "vtsrcnn_depth"}


def guide_mode_of(name: str, settings: dict) -> str:
    """The guide (``"rgb"`` or ``"gray"``) that model ``name`` built with ``settings`` reads: the recipe's (see
    :data:`TRAINABLE`) unless the settings choose one (the recurrent network's ``guide``)."""
    if name not in TRAINABLE:
        raise ValueError(f"unknown trainable model {name!r}; expected one of {sorted(TRAINABLE)}")
    mode = settings.get("guide", TRAINABLE[name][2])
    if mode not in ("rgb", "gray"):
        raise ValueError(f"guide must be 'rgb' or 'gray', got {mode!r}")
    return mode


#: settings every trainable model accepts besides its recipe's (``--set KEY=VALUE``; recorded only when given):
#: ``loss`` ("mse", the recipes' default; "l1"; "log_mse") and ``amp`` (True, the default: bfloat16 autocast on
#: CUDA; False: float32 there too -- on the CPU training is float32 either way). bfloat16 costs little at x4 but
#: not at x2: evaluated under bfloat16 autocast, the committed x2 recurrent network loses 0.10 dB on the
#: validation images (x4: 0.01; chapter 7 measures it), so a GPU run at x2 may want ``amp=False``. ``ema`` (0, the
#: default: none): the decay of an exponential moving average of the weights, validated and kept as the run's weights.
TRAINING_SETTINGS = {"loss": "mse", "amp": True, "ema": 0.0}


def train_model(name: str, scale: int, mode: Optional[str] = None, root=None, out_dir=None, seed: int = 0,
                device=None, init_from_pretrained: bool = False, progress: bool = True,
                train_split: str = "train-minus-val", time_budget: Optional[float] = None,
                degradation: str = "bicubic", guide_augment: float = 0.0, landscape_share: Optional[float] = None,
                init_from=None, rescale=(), **overrides) -> TrainResult:
    """Train model ``name`` on its training data (see :data:`TRAINABLE`; the embedded default without a data
    root) with the settings of ``mode``.

    Validation: mean PSNR on the ``val`` split (training images held out; never the test images).
    ``overrides`` replace entries of the mode's settings (e.g. ``steps=50``) or set one of
    :data:`TRAINING_SETTINGS` (``loss``, ``amp``). ``degradation``: how training and
    validation LR inputs are made (ours: ``"bicubic"``; others for protocol calibration, chapter 1b; recorded in
    the run's record). ``guide_augment``: the share of training patches whose guide is made to disagree with the
    target (:func:`mmsr.data.patches.disagreeing_guide`; 0 = none; recorded). ``landscape_share``: with
    ``train_split="train+country"``, the share of training patches drawn from the landscapes (default: in
    proportion to image area; recorded when set). ``rescale``: factors in (0, 1) at which every training pair is
    also shrunk and added as a pair (scale augmentation, :class:`~mmsr.data.patches.PatchSampler`; validation
    images are never shrunk; recorded when set). ``init_from``: a weights file of the same architecture to start
    from, possibly written at another scale (checked before any data is loaded; recorded with its digest; tensors
    whose shape depends on the scale keep their initialisation and are listed in the record). ``time_budget`` (seconds): stop
    with a checkpoint before it runs out; the same call resumes (:meth:`~mmsr.training.Trainer.fit`). A busy,
    read-only or full ``out_dir`` is refused before any data is loaded.
    """
    if name not in TRAINABLE:
        raise ValueError(f"unknown trainable model {name!r}; expected one of {sorted(TRAINABLE)}")
    from .degrade import DEGRADATIONS
    if degradation not in DEGRADATIONS:
        raise ValueError(f"unknown degradation {degradation!r}; expected one of {DEGRADATIONS}")
    validation_split(train_split)  # an unknown split is refused before any work
    if landscape_share is not None and (train_split != "train+country" or not 0.0 < float(landscape_share) < 1.0):
        raise ValueError(f"landscape_share needs train_split='train+country' and a value in (0, 1), got "
                         f"{landscape_share} with {train_split!r}")
    if not 0.0 <= float(guide_augment) <= 1.0:
        raise ValueError(f"guide_augment is a probability in [0, 1], got {guide_augment}")
    rescale = check_rescale(rescale)
    settings, build, guide_mode, data = TRAINABLE[name]
    scale = check_scale(scale)
    mode = get_mode(mode)
    unknown = set(overrides) - set(settings[mode]) - set(TRAINING_SETTINGS)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)} for {name}; known: {sorted(settings[mode])} and "
                         f"{sorted(TRAINING_SETTINGS)}")
    TrainConfig(**{k: overrides[k] for k in TRAINING_SETTINGS if k in overrides})   # a bad value: refused now
    s = {**settings[mode], **overrides}
    guide_mode = guide_mode_of(name, s)  # a bad choice is refused before any work
    deadline = None if time_budget is None else time.monotonic() + float(time_budget)  # counts data loading too
    seed_everything(seed)   # the initial draw is part of the run: the same seed gives the same starting weights
    model = build(scale, s)
    start = None
    if init_from is not None:
        from .storage import read_weights, tensors_digest

        if not Path(init_from).is_file():
            raise FileNotFoundError(f"--init-from: no weights file {init_from}")
        # another architecture is refused before any data is loaded; another scale is not: tensors whose shape
        # depends on the scale keep this model's initialisation, and are named in the record
        kept = load_weights_across_scales(model, init_from, lambda k: build(k, s))
        start = {"file": str(init_from), "tensors_sha256": tensors_digest(read_weights(init_from)[0]),
                 **({"kept_initialised": kept} if kept else {})}
    lock = None
    if out_dir is not None and int(os.environ.get("RANK", "0")) == 0:
        # refuse a busy, read-only or full output folder before the (slow) data loading and patch sampling
        lock = RunLock(out_dir)
        lock.acquire()
        try:
            preflight(out_dir, (KEEP_CHECKPOINTS + 1) * 3 * sum(p.numel() * 4 for p in model.parameters()) + (2 << 20))
        except BaseException:
            lock.release()
            raise
    try:
        return _train(model, name, scale, mode, s, guide_mode, data, root, out_dir, seed, device,
                      init_from_pretrained, progress, train_split, deadline, degradation, guide_augment,
                      landscape_share, start, rescale)
    finally:
        if lock is not None:
            lock.release()


def _train(model, name, scale, mode, s, guide_mode, data, root, out_dir, seed, device, init_from_pretrained,
           progress, train_split, deadline, degradation="bicubic", guide_augment=0.0,
           landscape_share=None, start=None, rescale=()) -> TrainResult:
    train, source = TRAINING_DATA[data](train_split, root)
    val, _ = TRAINING_DATA[data](validation_split(train_split), root)
    # the embedded default has no landscapes: there the share cannot apply (smoke runs still work)
    share = ("country_", landscape_share) if landscape_share and any(p.name.startswith("country_") for p in train) \
        else None
    sampler = PatchSampler(train, scale, s["patch_size"], guide=guide_mode, degradation=degradation,
                           guide_augment=guide_augment, share=share, rescale=rescale)
    patches = sampler.sample(s["patches"], seed)
    if init_from_pretrained and pretrained_path(name, scale).is_file():
        load_weights(model, pretrained_path(name, scale))
    discriminator, generator_init = None, None
    if s.get("adversarial_weight"):
        from .models.vtsr import VTSRDiscriminator

        discriminator = VTSRDiscriminator(s["disc_features"])
        init = pretrained_path(GAN_GENERATOR_INIT[name], scale) if name in GAN_GENERATOR_INIT else None
        if init is not None and init.is_file():  # SRGAN starts from its trained MSE network
            load_weights(model, init)
            generator_init = f"mmsr/weights/{init.name}"
    cfg = TrainConfig(steps=s["steps"], batch_size=s["batch_size"], lr=s["lr"], lr_milestones=s["milestones"],
                      val_every=s["val_every"], ckpt_every=s["ckpt_every"], seed=seed, progress=progress,
                      adversarial_weight=float(s.get("adversarial_weight", 0.0)),
                      **{k: s.get(k, v) for k, v in TRAINING_SETTINGS.items()})

    def validate(m):
        extra = m.monitor() if hasattr(m, "monitor") else {}
        rows = evaluate(m, val, scale, guide_mode=guide_mode, with_ssim=False, degradation=degradation)
        return {"val_psnr": mean_row(rows)["psnr"], **validation_groups(rows), **extra}

    meta = {"name": f"{name}_x{scale}", "model": name, "scale": scale, "mode": mode, "data": source,
            "train_split": train_split, "train_images": [p.name for p in train],
            "val_images": [p.name for p in val], "settings": s, "init_from_pretrained": init_from_pretrained,
            "degradation": degradation, **({"guide_augment": guide_augment} if guide_augment else {}),
            **({"landscape_share": landscape_share} if share else {}),
            **({"rescale": list(rescale)} if rescale else {}),
            **({"generator_init": generator_init} if discriminator is not None else {}),
            **({"init_from": start} if start is not None else {})}
    return Trainer(model, cfg, patch_batches(patches, cfg.batch_size, seed), validate, out_dir, device,
                   meta, discriminator).fit(time_budget=None if deadline is None else deadline - time.monotonic())


#: training split -> the validation split that goes with it (landscape training images bring landscape
#: validation images, so that a choice made on validation sees both kinds of scene)
VALIDATION_SPLITS = {"train-minus-val": "val", "train": "val", "train-half": "val", "train+country": "val+country"}


def validation_split(train_split: str) -> str:
    """The validation split of ``train_split`` (:data:`VALIDATION_SPLITS`); unknown splits are refused."""
    if train_split not in VALIDATION_SPLITS:
        raise ValueError(f"unknown training split {train_split!r}; expected one of {sorted(VALIDATION_SPLITS)}")
    return VALIDATION_SPLITS[train_split]


def validation_groups(rows) -> dict:
    """Mean validation PSNR per kind of scene when the validation images mix them: ``val_psnr_country`` over
    the landscapes (names ``country_*``) and ``val_psnr_urban`` over the rest; ``{}`` for a single kind."""
    country = [r["psnr"] for r in rows if r["image"].startswith("country_")]
    urban = [r["psnr"] for r in rows if not r["image"].startswith("country_")]
    if not country or not urban:
        return {}
    return {"val_psnr_urban": sum(urban) / len(urban), "val_psnr_country": sum(country) / len(country)}


def train_srcnn(scale: int, mode: Optional[str] = None, **kwargs) -> TrainResult:
    """:func:`train_model` for SRCNN."""
    return train_model("srcnn", scale, mode, **kwargs)


def load_pretrained(name: str, scale: int):
    """Model ``name`` with the committed weights for ``scale``, built with the settings its record states."""
    import json

    _, build, _, _ = TRAINABLE[name]
    path = pretrained_path(name, scale)
    if not path.is_file():
        raise FileNotFoundError(f"no committed {name} weights for x{scale} at {path}; train with "
                                f"python -m mmsr.train {name} --scale {scale}")
    record = json.loads(path.with_suffix(".json").read_text())
    return load_weights(build(scale, record["meta"]["settings"]), path)


def pretrained_guide_mode(name: str, scale: int) -> str:
    """The guide (``"rgb"`` or ``"gray"``) that the committed weights of ``name`` at ``scale`` read: their record's
    settings decide (a committed LMCSC may read the colour guide although the paper's recipe reads luminance)."""
    import json

    path = pretrained_path(name, scale).with_suffix(".json")
    if not path.is_file():
        raise FileNotFoundError(f"no committed {name} weights for x{scale} at {path.with_suffix('.safetensors')}")
    return guide_mode_of(name, json.loads(path.read_text())["meta"]["settings"])


def load_srcnn(scale: int) -> SRCNN:
    """SRCNN with the committed weights for ``scale``."""
    return load_pretrained("srcnn", scale)
