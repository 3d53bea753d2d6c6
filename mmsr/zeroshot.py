"""Zero-shot super-resolution of one image (ZSSR) or one cross-modal pair (CMSR): training and inference.

Nothing is learned beforehand: a small network (:mod:`mmsr.models.cmsr`) is trained on the test input itself
and then applied to it (Shocher et al.'s ZSSR; Shacht et al.'s CMSR, ``../shared/papers/003_*``, Sec. 3).

**Training pairs from the input itself** (003, Fig. 3). A batch of ``batch`` random patches is drawn at every
step: each patch is a random similarity-plus-shear of a square (rotation, scale, shear, translation, and one
of the 8 flips/rotations by 90 degrees) placed in the LR target; the *same* points, mapped through the guide
deformation, are sampled from the HR guide, so the patch pair stays aligned and gradients of the loss reach
the deformation parameters. Two schemes (the "alternating scales" of the supplementary, Sec. 7):

* downsampling-based (probability ``1 - p``): the target patch ``t`` (``P x P`` LR pixels) is the ground truth;
  the network gets ``t`` downscaled by ``s`` and the guide patch sampled at ``s`` times the density and then
  downscaled by ``s`` (so the two inputs keep the ratio ``s``);
* upsampling-based (probability ``p``): a target patch of ``P/s`` pixels is bicubic-upsampled to ``P`` and
  becomes the ground truth; the network gets the small patch and the guide at its true resolution.

003 reports ``p = 0.3`` as best (supplementary, Fig. 14). Under our protocol the ablation on the EPFL validation
images says otherwise -- every ``p > 0`` lowered the PSNR, ``p = 0.5`` by about 3 dB -- so the default is
``p = 0`` (chapter 6 shows the ablation; the scheme stays available).

Loss: L1. Adam, learning rate divided by 10 whenever the mean loss over the last ``check_every`` steps stopped
falling by more than ``plateau_tol`` (relative), until ``min_lr`` or ``steps``; losses stay on the device and
are read back only at those checks (no host sync per step). The deformation layers have their own learning
rates (``deform_lr_factors`` times the network's), as 003 describes.

**Before training**, with ``register=True`` the guide is globally registered to the target
(:func:`mmsr.registration.register_global`) and that transform seeds the deformation; the learned affine,
CPAB and TPS layers start from the identity on top of it.

**Inference** (003, Sec. 3.3): the learned deformation is applied once to the whole guide; geometric
self-ensemble (the 8 flips/rotations of the input pair, outputs un-rotated, median); iterative
back-projection (``x <- x + B^T(y - B x)`` with ``B`` the bicubic degradation, ``bp_iters`` times). With
``gradual`` and a scale of 4 or more, SR goes through intermediate x2 stages (a network per stage, each
stage's output the next stage's input; the guide is downscaled to each stage's size).
"""
from __future__ import annotations

import math
import random
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Optional

import torch
import torch.nn.functional as F

from .checks import check_scale
from .degrade import imresize
from .models.cmsr import CMSRNet, ZSSRNet
from .models.self_ensemble import self_ensemble as ensemble_of_flips
from .ops.warps import DeformationStack, warp_image
from .registration import Registration, register_global

METHODS = ("zssr", "cmsr")


@dataclass
class ZeroShotConfig:
    """Everything a zero-shot run depends on (saved with every result record)."""

    method: str = "cmsr"
    steps: int = 1500
    batch: int = 8
    patch: int = 48               # output patch size in LR pixels (network output is patch x patch)
    lr: float = 1e-3
    min_lr: float = 1e-5
    check_every: int = 300
    plateau_tol: float = 0.005
    width: int = 64
    depth: int = 8
    fe2_width: int = 64
    fe2_depth: int = 6
    guide_mode: str = "rgb"
    deformation: tuple = ("affine", "cpab", "tps")
    deform_lr_factors: dict = field(default_factory=lambda: {"affine": 0.01, "cpab": 0.01, "tps": 0.01})
    register: bool = True
    cpab_cells: tuple = (4, 4)
    tps_control: int = 4
    alternating_p: float = 0.0    # 003 reports 0.3 best; on our validation images p = 0 is best (Fig. 14 ablation)
    max_rotation: float = 10.0    # degrees, on top of the 8 exact flips/rotations
    max_shear: float = 0.05
    scale_range: tuple = (0.8, 1.0)  # patch magnification (1 = native pixels; < 1 zooms out)
    self_ensemble: bool = True
    bp_iters: int = 8
    gradual: bool = False
    amp: bool = False             # bf16 autocast on CUDA
    seed: int = 0

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"unknown zero-shot method {self.method!r}; expected one of {METHODS}")
        if not 0.0 <= self.alternating_p <= 1.0:
            raise ValueError(f"alternating_p must be in [0, 1], got {self.alternating_p}")
        if self.steps < 1 or self.batch < 1 or self.patch < 4:
            raise ValueError("steps, batch must be >= 1 and patch >= 4")
        self.deformation = tuple(self.deformation)
        self.cpab_cells = tuple(self.cpab_cells)
        self.scale_range = tuple(self.scale_range)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ZeroShotRun:
    """The outcome of one zero-shot SR: the estimate and what produced it."""

    output: torch.Tensor                  # (1, 1, H, W), target intensity scale of the input (0..1)
    config: ZeroShotConfig
    models: list
    deformations: list
    registration: Optional[Registration]
    history: dict
    seconds: dict


# --------------------------------------------------------------------------------------------- sampling
def random_patch_points(batch: int, size: int, spacing_px: float, image_hw, cfg: ZeroShotConfig,
                        generator: torch.Generator, device) -> torch.Tensor:
    """``(batch, size, size, 2)`` normalised positions of randomly placed, augmented square patches.

    ``spacing_px``: distance between patch samples in pixels of an ``image_hw`` grid at magnification 1.
    Each patch gets a rotation (a multiple of 90 degrees plus up to ``max_rotation``), a flip, a shear, a
    magnification from ``scale_range`` and a translation that keeps it inside the frame.
    """
    h, w = image_hw
    r = lambda *shape: torch.rand(*shape, generator=generator, device=device)  # noqa: E731
    ang = (torch.randint(0, 4, (batch,), generator=generator, device=device) * (math.pi / 2)
           + (r(batch) * 2 - 1) * math.radians(cfg.max_rotation))
    lo, hi = cfg.scale_range
    mag = lo + (hi - lo) * r(batch)
    shear = (r(batch) * 2 - 1) * cfg.max_shear
    flip = torch.where(r(batch) < 0.5, -1.0, 1.0)
    c, s = torch.cos(ang), torch.sin(ang)
    # local offsets in pixels, centred on the patch centre
    t = (torch.arange(size, device=device, dtype=torch.float32) - (size - 1) / 2) * spacing_px
    ly, lx = torch.meshgrid(t, t, indexing="ij")
    lx = lx[None] * flip[:, None, None] / mag[:, None, None]
    ly = ly[None] / mag[:, None, None]
    lx = lx + shear[:, None, None] * ly
    px = c[:, None, None] * lx - s[:, None, None] * ly
    py = s[:, None, None] * lx + c[:, None, None] * ly
    half = (size * spacing_px / mag) * (math.sqrt(2) / 2) + 1.0  # radius of the rotated patch, in pixels
    hx = (w / 2 - half).clamp_min(0.0)
    hy = (h / 2 - half).clamp_min(0.0)
    cx = (r(batch) * 2 - 1) * hx
    cy = (r(batch) * 2 - 1) * hy
    # snap the centre so that the patch's pixels fall on the image's pixel centres: without continuous
    # augmentation a patch is then an exact crop (no interpolation blur in the ground truth)
    extent = size * spacing_px
    ox, oy = (extent / 2 - w / 2) % 1.0, (extent / 2 - h / 2) % 1.0
    cx = torch.round(cx - ox) + ox
    cy = torch.round(cy - oy) + oy
    px = px + cx[:, None, None]
    py = py + cy[:, None, None]
    return torch.stack((px * (2.0 / w), py * (2.0 / h)), dim=-1)


def _pool_points(points: torch.Tensor, s: int) -> torch.Tensor:
    """Centres of ``s x s`` blocks of a dense point grid: where the pixels of the coarser grid lie."""
    return F.avg_pool2d(points.permute(0, 3, 1, 2), s).permute(0, 2, 3, 1)


def training_batch(lr: torch.Tensor, guide: Optional[torch.Tensor], deformation: Optional[DeformationStack],
                   scale: int, cfg: ZeroShotConfig, upsampling: bool, generator: torch.Generator):
    """One batch ``(son, guide_in, ground_truth)`` for the downsampling- or upsampling-based scheme."""
    P, s = cfg.patch, scale
    h, w = lr.shape[-2:]
    dev = lr.device
    if upsampling:  # target patch of P/s LR pixels, upsampled to be the ground truth; guide at true resolution
        pts = random_patch_points(cfg.batch, P, 1.0 / s, (h, w), cfg, generator, dev)
        t = warp_image(lr, _pool_points(pts, s))
        gt = imresize(t, output_shape=(P, P))
        son = t
        g_pts = pts
    else:  # target patch of P LR pixels is the ground truth; guide sampled s times denser then downscaled by s
        pts = random_patch_points(cfg.batch, P * s, 1.0 / s, (h, w), cfg, generator, dev)
        gt = warp_image(lr, _pool_points(pts, s))
        son = imresize(gt, output_shape=(P // s, P // s))
        g_pts = pts
    if guide is None:
        return son, None, gt
    g = warp_image(guide, deformation(g_pts) if deformation is not None else g_pts)
    if not upsampling:
        g = imresize(g, output_shape=(P, P))
    return son, g, gt


# ------------------------------------------------------------------------------------------------ training
def _build(cfg: ZeroShotConfig, scale: int, guide_channels: int):
    if cfg.method == "zssr":
        return ZSSRNet(scale, cfg.width, cfg.depth)
    return CMSRNet(scale, guide_channels, cfg.width, cfg.depth, cfg.fe2_width, cfg.fe2_depth)


def train_stage(lr: torch.Tensor, guide: Optional[torch.Tensor], scale: int, cfg: ZeroShotConfig,
                initial: Optional[torch.Tensor] = None, progress: bool = False):
    """Train one network (and deformation) on ``lr`` (and ``guide``) for one scale factor."""
    dev = lr.device
    gen = torch.Generator(device=dev)
    gen.manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    scheme = random.Random(cfg.seed)
    net = _build(cfg, scale, 0 if guide is None else guide.shape[1]).to(dev)
    deform = None
    groups = [{"params": list(net.parameters()), "lr": cfg.lr, "name": "network"}]
    if guide is not None:
        deform = DeformationStack(cfg.deformation, initial, cfg.cpab_cells, tps_control=cfg.tps_control).to(dev)
        groups += deform.param_groups(cfg.lr, cfg.deform_lr_factors)
    opt = torch.optim.Adam(groups)
    base = [g["lr"] for g in opt.param_groups]
    use_amp = cfg.amp and dev.type == "cuda"
    losses = torch.zeros(cfg.steps, device=dev)
    history = {"loss": [], "lr": [], "step": []}
    decay = 1.0
    prev = None
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=cfg.steps, desc=f"{cfg.method} x{scale}", leave=False)
    step = 0
    for step in range(cfg.steps):
        upsampling = scheme.random() < cfg.alternating_p  # host RNG: choosing the scheme never syncs
        son, g, gt = training_batch(lr, guide, deform, scale, cfg, upsampling, gen)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_amp):
            out = net(son, g)
        loss = F.l1_loss(out.float(), gt)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses[step] = loss.detach()
        if bar is not None:
            bar.update(1)
        if (step + 1) % cfg.check_every == 0:
            mean = float(losses[step + 1 - cfg.check_every: step + 1].mean())
            history["loss"].append(mean)
            history["lr"].append(cfg.lr * decay)
            history["step"].append(step + 1)
            if prev is not None and mean > prev * (1 - cfg.plateau_tol):
                decay /= 10.0
                for g_, b in zip(opt.param_groups, base):
                    g_["lr"] = b * decay
                if cfg.lr * decay < cfg.min_lr:
                    break
            prev = mean
    if bar is not None:
        bar.close()
    history["steps_run"] = step + 1
    net.eval()
    return net, deform, history


# ----------------------------------------------------------------------------------------------- inference
def back_project(estimate: torch.Tensor, lr: torch.Tensor, iters: int) -> torch.Tensor:
    """Iterative back-projection: make the estimate consistent with the observed LR under bicubic degradation."""
    H, W = estimate.shape[-2:]
    h, w = lr.shape[-2:]
    for _ in range(iters):
        estimate = estimate + imresize(lr - imresize(estimate, output_shape=(h, w)), output_shape=(H, W))
    return estimate


@torch.no_grad()
def predict(net, lr: torch.Tensor, guide: Optional[torch.Tensor], scale: int, self_ensemble: bool = True,
            bp_iters: int = 0) -> torch.Tensor:
    """Apply a trained network to the whole input (the guide already deformed), with the refinements."""
    if not self_ensemble:
        out = net(lr, guide, scale)
    else:
        out = ensemble_of_flips(lambda x, g: net(x, g, scale), lr, guide, reduce="median")
    return back_project(out, lr, bp_iters) if bp_iters > 0 else out


def stage_scales(scale: int, gradual: bool) -> list[int]:
    """Per-stage factors: ``[scale]`` or, gradually, x2 steps (``4 -> [2, 2]``, ``8 -> [2, 2, 2]``)."""
    if not gradual or scale < 4:
        return [scale]
    n = int(round(math.log2(scale)))
    if 2**n != scale:
        return [scale]
    return [2] * n


def zero_shot_sr(lr: torch.Tensor, guide: Optional[torch.Tensor], scale: int,
                 config: Optional[ZeroShotConfig] = None, *, progress: bool = False, **overrides) -> ZeroShotRun:
    """Super-resolve ``lr`` ``(1, 1, h, w)`` by ``scale`` with ZSSR (no guide) or CMSR (``guide`` ``(1, C, sh, sw)``).

    Values are expected in [0, 1]. ``config`` (or keyword overrides of the default) sets the method and
    schedule. Returns a :class:`ZeroShotRun` whose ``output`` has the guide's size.
    """
    cfg = replace(config or ZeroShotConfig(), **overrides)
    scale = check_scale(scale)
    if lr.dim() != 4 or lr.shape[:2] != (1, 1):
        raise ValueError(f"lr must have shape (1, 1, h, w), got {tuple(lr.shape)}")
    if cfg.method == "cmsr":
        if guide is None:
            raise ValueError("CMSR needs a guide image; use method='zssr' for single-image SR")
        if guide.dim() != 4 or guide.shape[0] != 1:
            raise ValueError(f"guide must have shape (1, C, H, W), got {tuple(guide.shape)}")
        if tuple(guide.shape[-2:]) != (lr.shape[-2] * scale, lr.shape[-1] * scale):
            raise ValueError(f"guide size {tuple(guide.shape[-2:])} must be scale x the target size "
                             f"{(lr.shape[-2] * scale, lr.shape[-1] * scale)}")
    else:
        guide = None
    for s in stage_scales(scale, cfg.gradual):
        if cfg.patch % s:
            raise ValueError(f"patch={cfg.patch} must be divisible by the stage scale {s}")
    if min(lr.shape[-2:]) < cfg.patch // 2:
        raise ValueError(f"the target ({tuple(lr.shape[-2:])}) is too small for patch={cfg.patch}; lower patch")
    t0 = time.perf_counter()
    registration = None
    initial = None
    if guide is not None and cfg.register:
        registration = register_global(lr, guide)
        initial = registration.theta.to(lr.device)
    t_reg = time.perf_counter() - t0
    current = lr
    models, deforms, hist = [], [], []
    reached = 1
    for k, s in enumerate(stage_scales(scale, cfg.gradual)):
        reached *= s
        g = None
        if guide is not None:
            h, w = lr.shape[-2] * reached, lr.shape[-1] * reached
            g = guide if (h, w) == tuple(guide.shape[-2:]) else imresize(guide, output_shape=(h, w))
        with torch.enable_grad():  # callers may sit under no_grad (e.g. mmsr.evaluate): training needs gradients
            net, deform, history = train_stage(current, g, s, replace(cfg, seed=cfg.seed + 1000 * k),
                                               initial=initial, progress=progress)
        gd = None if g is None else deform.deform(g).detach()
        current = predict(net, current, gd, s, cfg.self_ensemble, cfg.bp_iters)
        if reached != s:  # later stages: keep consistency with the original observation too
            current = back_project(current, lr, cfg.bp_iters)
        models.append(net)
        deforms.append(deform)
        hist.append(history)
    if lr.device.type == "cuda":
        torch.cuda.synchronize()
    total = time.perf_counter() - t0
    return ZeroShotRun(current, cfg, models, deforms, registration, {"stages": hist},
                       {"registration": t_reg, "total": total})


class ZeroShotMethod:
    """A zero-shot method as a ``model(lr, guide)`` callable, so :func:`mmsr.evaluate.evaluate` can score it.

    Every call trains from scratch on its input; the last run is kept in ``last_run``.
    """

    def __init__(self, config: Optional[ZeroShotConfig] = None, scale: int = 4, device=None,
                 progress: bool = False, **overrides):
        self.config = replace(config or ZeroShotConfig(), **overrides)
        self.scale = check_scale(scale)
        self.device = device
        self.progress = progress
        self.last_run: Optional[ZeroShotRun] = None

    def __call__(self, lr: torch.Tensor, guide: Optional[torch.Tensor] = None) -> torch.Tensor:
        dev = self.device or lr.device
        run = zero_shot_sr(lr.to(dev), None if guide is None else guide.to(dev), self.scale, self.config,
                           progress=self.progress)
        self.last_run = run
        return run.output

