"""One small trainer for every chapter: device-agnostic, AMP on CUDA, progress bars, periodic validation,
checkpoints with exact resume, atomic JSON result records, and multi-GPU data parallel through ``torchrun``.

Determinism and exact resume rest on one rule: **the batch of step ``k`` is a pure function of
``(seed, k, rank)``** (see :func:`patch_batches`). A checkpoint stores the model, the optimizer, the AMP
scaler, the RNG states and the step; resuming from it replays exactly the same remaining steps, so a run
that is killed and resumed ends with the same weights as one that was not (checked in the tests on CPU).

Data parallel: launched as ``torchrun --nproc_per_node N -m mmsr.train ...`` (``WORLD_SIZE > 1`` in the
environment), each process takes its own slice of every global batch, gradients are averaged by
``DistributedDataParallel`` (NCCL on GPUs, gloo on CPU), and only rank 0 writes checkpoints and records.
"""
from __future__ import annotations

import dataclasses
import math
import os
import re
import platform
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import storage
from .checks import CheckpointMismatchError
from .runtime import seed_everything, try_gpu

Batch = tuple  # (inputs tuple, target)


#: the training losses :class:`TrainConfig` knows
LOSSES = ("mse", "l1", "log_mse")
#: added to each sample's MSE in the "log_mse" loss (a 100 dB PSNR cap for images in [0, 1])
LOG_MSE_FLOOR = 1e-10


@dataclass
class TrainConfig:
    """Everything that decides a training run (recorded verbatim in checkpoints and result records)."""

    steps: int = 1000
    batch_size: int = 32  # global batch (split across processes under DDP)
    lr: float = 1e-3
    lr_milestones: tuple = ()  # steps at which the learning rate is multiplied by lr_gamma
    lr_gamma: float = 0.5
    weight_decay: float = 0.0
    loss: str = "mse"  # "mse", "l1", or "log_mse": the mean over samples of 10 log10(sample MSE) = -mean PSNR + c
    grad_clip: Optional[float] = None
    ema: float = 0.0  # > 0: keep an exponential moving average of the weights with this decay; it is what is
    #                   validated and written as the run's weights (the raw weights live on in the checkpoints)
    val_every: int = 0  # 0: validate only at the end
    ckpt_every: int = 0  # 0: checkpoint only at the end
    seed: int = 0
    amp: bool = True  # bfloat16 autocast, used only on CUDA
    progress: bool = True
    adversarial_weight: float = 0.0  # > 0: add this times a GAN loss from the Trainer's discriminator (VTSRGAN)

    def __post_init__(self):
        if self.steps < 0 or self.batch_size < 1:
            raise ValueError(f"steps must be >= 0 and batch_size >= 1, got {self.steps}, {self.batch_size}")
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; expected one of {LOSSES}")
        if not isinstance(self.amp, bool):
            raise ValueError(f"amp is True or False, got {self.amp!r}")
        if not 0.0 <= float(self.ema) < 1.0:
            raise ValueError(f"ema is a decay in [0, 1), got {self.ema}")
        if self.adversarial_weight < 0:
            raise ValueError(f"adversarial_weight must be >= 0, got {self.adversarial_weight}")
        self.lr_milestones = tuple(int(m) for m in self.lr_milestones)

    def lr_at(self, step: int) -> float:
        """The learning rate of step ``step`` (piecewise constant; a function of the step, so resume is exact)."""
        return self.lr * self.lr_gamma ** sum(step >= m for m in self.lr_milestones)

    def ema_decay_at(self, step: int) -> float:
        """The decay of the weight average after step ``step`` (1-based): ``min(ema, (1 + step) / (10 + step))``,
        so the first steps' random weights are forgotten quickly (0 without an average)."""
        return min(self.ema, (1 + step) / (10 + step)) if self.ema else 0.0


# ----------------------------------------------------------------------------------------- small utilities
# files are written by mmsr.storage (atomic, pickle-free weights, verified checkpoints); re-exported here
atomic_write_json = storage.atomic_write_json


def git_commit() -> str:
    """The current git commit of the project (with ``-dirty`` if uncommitted changes), or ``"unknown"``."""
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        if sha.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return sha.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def device_description(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return f"{device.type}:{platform.processor() or platform.machine()} ({os.cpu_count()} logical cores)"


def model_signature(model: nn.Module) -> dict:
    """What must match for a checkpoint to load: the class and every parameter/buffer name and shape."""
    m = model.module if hasattr(model, "module") else model
    return {"class": type(m).__name__, "extra": m.extra_repr(),
            "tensors": {k: list(v.shape) for k, v in m.state_dict().items()}}


def check_signature(saved: dict, model: nn.Module, path) -> None:
    """Refuse weights written for another model (to start from another scale, see
    :func:`load_weights_across_scales`)."""
    now = model_signature(model)
    if saved != now:
        diffs = []
        if saved.get("class") != now["class"]:
            diffs.append(f"class {saved.get('class')} vs {now['class']}")
        st, nt = saved.get("tensors", {}), now["tensors"]
        for k in sorted(set(st) | set(nt)):
            if st.get(k) != nt.get(k):
                diffs.append(f"{k}: {st.get(k)} vs {nt.get(k)}")
                if len(diffs) > 4:
                    break
        if saved.get("extra") != now["extra"] and not diffs:
            diffs.append(f"configuration {saved.get('extra')!r} vs {now['extra']!r}")
        raise CheckpointMismatchError(f"checkpoint {path} was written for a different model ({'; '.join(diffs)})")


#: the weights of a run's best validation PSNR so far, beside its final ``weights.safetensors``
BEST_WEIGHTS = "best.safetensors"


def best_validation(history: Sequence[dict]) -> Optional[dict]:
    """The validation entry with the highest ``val_psnr`` (the earliest of equals), ``None`` without one. Its
    weights are the run's ``best.safetensors``: model selection on the validation images, never the test
    images."""
    scored = [h for h in history if "val_psnr" in h]
    return max(scored, key=lambda h: h["val_psnr"]) if scored else None


def load_weights_across_scales(model: nn.Module, path, build_at: Callable[[int], nn.Module]) -> list:
    """Start ``model`` from weights written for the same architecture at another scale. ``build_at(scale)``
    builds this architecture, with the same settings, at a given scale: the file must match it exactly at the
    scale it was written for (another class, size or configuration is refused,
    :class:`CheckpointMismatchError`). Tensors of the same shape are copied; tensors whose shape depends on the
    scale (e.g. the recurrent network's up/down projections, kernel ``2 * scale``) keep ``model``'s own
    initialisation for its scale. Returns the names of those kept tensors."""
    state, signature = storage.read_weights(path)
    found = re.search(r"(?:^|, )scale=(\d+)", signature.get("extra") or "")
    # the file must fit this architecture exactly at its own scale (without a scale in it: as it is)
    check_signature(signature, model if found is None else build_at(int(found.group(1))), path)
    now = model_signature(model)["tensors"]
    kept = sorted(k for k, shape in now.items() if signature["tensors"][k] != shape)
    own = model.state_dict()
    model.load_state_dict({k: (own[k] if k in kept else v) for k, v in state.items()})
    return kept


def load_weights(model: nn.Module, path, map_location="cpu") -> nn.Module:
    """Load ``.safetensors`` weights written by the trainer, checking the model signature. Nothing is unpickled:
    any other file is refused (:class:`~mmsr.storage.UnsafeFileError`)."""
    state, signature = storage.read_weights(path)
    check_signature(signature, model, path)
    model.load_state_dict(state)
    return model.to(map_location) if map_location is not None else model


# ------------------------------------------------------------------------------------------------ batches
def patch_batches(patches, batch_size: int, seed: int) -> Callable[[int, int, int], Batch]:
    """Batches from a fixed :class:`~mmsr.data.patches.PatchSet`: epoch ``e`` visits the patches in the
    permutation seeded by ``(seed, e)``; step ``k`` takes the ``k``-th slice; rank ``r`` of ``w`` processes takes
    the ``r``-th part of it. Returns ``((lr, guide), hr)`` -- in general ``(inputs, target)`` from any set whose
    ``batch(idx)`` returns the inputs followed by the target (e.g. :func:`mmsr.learned_gate.crop_batches`)."""
    n = len(patches)
    if batch_size > n:
        raise ValueError(f"batch size {batch_size} exceeds the number of patches {n}")
    per_epoch = n // batch_size

    def get(step: int, rank: int = 0, world: int = 1) -> Batch:
        epoch, pos = divmod(step, per_epoch)
        perm = np.random.default_rng([seed, epoch]).permutation(n)
        idx = perm[pos * batch_size:(pos + 1) * batch_size]
        idx = np.array_split(idx, world)[rank]
        *inputs, target = patches.batch(torch.from_numpy(idx))
        return tuple(inputs), target

    return get


# ------------------------------------------------------------------------------------------------ trainer
@dataclass
class TrainResult:
    model: nn.Module
    record: dict
    history: list = field(default_factory=list)
    stopped_at: Optional[int] = None  # the step of a call that stopped early (time budget, stop_after)


class Trainer:
    """Train ``model`` on ``batches(step, rank, world) -> ((inputs...), target)``.

    ``validate(model) -> dict`` is called every ``val_every`` steps and at the end (rank 0 only).
    ``out_dir`` (optional) receives verified checkpoints ``checkpoint-<step>.pt`` (+ ``.json``; the last two),
    ``weights.safetensors`` (final) and ``record.json`` (see :mod:`mmsr.storage`); one run at a time holds it.
    ``meta`` is copied into the record (model name, data split, scale, ...).
    ``discriminator`` (with ``config.adversarial_weight > 0``): a critic ``image -> logits`` trained beside the
    model (real: the target patches; fake: the model's estimates) whose non-saturating GAN loss, times the
    weight, is added to the model's loss (SRGAN's scheme); it and its optimizer live in the checkpoints, only the
    model in the weights.
    """

    def __init__(self, model: nn.Module, config: TrainConfig, batches: Callable[[int, int, int], Batch],
                 validate: Optional[Callable[[nn.Module], dict]] = None, out_dir=None, device=None,
                 meta: Optional[dict] = None, discriminator: Optional[nn.Module] = None):
        if (config.adversarial_weight > 0) != (discriminator is not None):
            raise ValueError("an adversarial_weight > 0 needs a discriminator, and a discriminator needs "
                             f"adversarial_weight > 0 (got {config.adversarial_weight})")
        self.config = config
        self.batches = batches
        self.validate = validate
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.meta = dict(meta or {})
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.distributed = self.world > 1
        if self.distributed:
            import torch.distributed as dist

            if not dist.is_initialized():
                backend = "nccl" if torch.cuda.is_available() else "gloo"
                dist.init_process_group(backend)
            if torch.cuda.is_available():
                local = int(os.environ.get("LOCAL_RANK", "0"))
                torch.cuda.set_device(local)
                device = torch.device("cuda", local)
            else:
                device = torch.device("cpu")
        self.device = torch.device(device) if device is not None else try_gpu()
        seed_everything(config.seed)
        self.model = model.to(self.device)
        self.signature = model_signature(self.model)
        self.net = self.model
        if self.distributed:
            from torch.nn.parallel import DistributedDataParallel as DDP

            self.net = DDP(self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.discriminator = discriminator.to(self.device) if discriminator is not None else None
        self.d_optimizer = (torch.optim.Adam(self.discriminator.parameters(), lr=config.lr)
                            if self.discriminator is not None else None)
        self.use_amp = bool(config.amp and self.device.type == "cuda")
        self.step = 0
        self.started_commit = git_commit()  # the code that runs, recorded before it can change
        self.history: list[dict] = []
        self.train_seconds = 0.0
        self.store = storage.CheckpointStore(self.out_dir) if self.out_dir is not None else None
        self.resumed_from: Optional[str] = None
        # the weight average (config.ema > 0): every floating tensor of the state averaged, the rest copied
        self.ema_state = ({k: v.detach().clone() for k, v in self.model.state_dict().items()}
                          if config.ema else None)

    def bytes_needed(self) -> int:
        """About what the run folder will hold: the kept checkpoints (model + Adam moments), weights, records."""
        n = sum(p.numel() * p.element_size() for p in self.model.parameters())
        if self.discriminator is not None:
            n += sum(p.numel() * p.element_size() for p in self.discriminator.parameters())
        per_ckpt = 4 if self.ema_state is not None else 3   # model + Adam moments (+ the weight average)
        return (storage.KEEP_CHECKPOINTS + 1) * per_ckpt * n + n + (2 << 20)   # + n: the best-validation weights

    # -- checkpoints -------------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Optional[Path]:
        """The newest checkpoint file in ``out_dir`` (``None`` without one)."""
        if self.store is None or not self.store.steps():
            return None
        return self.store.path(self.store.steps()[-1])

    def state(self) -> dict:
        st = {
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(), "step": self.step,
            "signature": self.signature, "config": dataclasses.asdict(self.config), "history": self.history,
            "train_seconds": self.train_seconds, "meta": self.meta, "rng": storage.rng_state(),
        }
        if self.discriminator is not None:
            st["discriminator"] = self.discriminator.state_dict()
            st["d_optimizer"] = self.d_optimizer.state_dict()
        if self.ema_state is not None:
            st["ema"] = self.ema_state
        return st

    def save_checkpoint(self) -> None:
        if self.store is not None and self.rank == 0:
            self.store.save(self.state(), self.step)
        if self.distributed:
            import torch.distributed as dist

            dist.barrier()

    def load_checkpoint(self, ck: dict, path) -> None:
        if not isinstance(ck, dict) or "signature" not in ck:
            raise CheckpointMismatchError(f"{path} is not an mmsr checkpoint")
        check_signature(ck["signature"], self.model, path)
        saved_cfg = {k: v for k, v in ck["config"].items() if k not in ("steps", "progress", "val_every", "ckpt_every")}
        now_cfg = {k: v for k, v in dataclasses.asdict(self.config).items() if k in saved_cfg}
        now_cfg["lr_milestones"] = list(now_cfg["lr_milestones"])
        saved_cfg["lr_milestones"] = list(saved_cfg["lr_milestones"])
        if saved_cfg != now_cfg:
            raise CheckpointMismatchError(f"checkpoint {path} was written with another configuration: "
                                          f"{saved_cfg} vs {now_cfg}")
        self.model.load_state_dict(ck["model"])
        self.optimizer.load_state_dict(ck["optimizer"])
        if self.ema_state is not None:
            if "ema" not in ck:
                raise CheckpointMismatchError(f"checkpoint {path} has no weight average")
            self.ema_state = {k: v.to(self.device) for k, v in ck["ema"].items()}
        if self.discriminator is not None:
            if "discriminator" not in ck:
                raise CheckpointMismatchError(f"checkpoint {path} has no discriminator state")
            self.discriminator.load_state_dict(ck["discriminator"])
            self.d_optimizer.load_state_dict(ck["d_optimizer"])
        self.step = int(ck["step"])
        self.history = list(ck["history"])
        self.train_seconds = float(ck.get("train_seconds", 0.0))
        storage.set_rng_state(ck["rng"])
        self.resumed_from = Path(path).name

    # -- the loop ----------------------------------------------------------------------------------
    def _loss(self, pred, target):
        if self.config.loss == "log_mse":
            # each sample's PSNR counts alike: a crop with a small error weighs as much as one with a large error
            per_sample = ((pred - target) ** 2).flatten(1).mean(1)
            return 10 * torch.log10(per_sample + LOG_MSE_FLOOR).mean()
        return F.mse_loss(pred, target) if self.config.loss == "mse" else F.l1_loss(pred, target)

    def _update_ema(self) -> None:
        d = self.config.ema_decay_at(self.step)
        with torch.no_grad():
            for k, v in self.model.state_dict().items():
                if v.is_floating_point():
                    self.ema_state[k].mul_(d).add_(v.detach(), alpha=1 - d)
                else:
                    self.ema_state[k].copy_(v)

    def _validate(self) -> Optional[dict]:
        if self.validate is None or self.rank != 0:
            return None
        raw = None
        if self.ema_state is not None:   # the average is what is validated (and kept as best / final weights)
            raw = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            self.model.load_state_dict(self.ema_state)
        self.model.eval()
        with torch.no_grad():
            metrics = self.validate(self.model)
        self.model.train()
        entry = {"step": self.step, **{k: float(v) for k, v in metrics.items()}}
        self.history.append(entry)
        if self.out_dir is not None and "val_psnr" in entry and entry is best_validation(self.history):
            # model selection on the validation images, for whoever wants it: the final weights stay the run's
            storage.save_weights(self.out_dir / BEST_WEIGHTS, self.model.state_dict(), self.signature)
        if raw is not None:
            self.model.load_state_dict(raw)
        return entry

    def fit(self, resume: bool = True, stop_after: Optional[int] = None,
            time_budget: Optional[float] = None) -> TrainResult:
        """Train to ``config.steps``, resuming from the newest intact checkpoint in ``out_dir`` when ``resume``.

        ``time_budget`` (seconds, this call): stop cleanly with a checkpoint before the budget runs out (the
        step, validation and checkpoint times measured so far decide when); the same call resumes and continues
        bit for bit. ``stop_after`` stops after that many steps of this call (used to test resuming). A call that
        stops early returns an empty record and sets ``self.stopped_early``.
        """
        if self.out_dir is None or self.rank != 0:
            return self._fit(resume, stop_after, time_budget)
        storage.preflight(self.out_dir, self.bytes_needed())
        with storage.RunLock(self.out_dir):
            return self._fit(resume, stop_after, time_budget)

    def _fit(self, resume, stop_after, time_budget) -> TrainResult:
        cfg = self.config
        t_call = time.perf_counter()
        self.stopped_early = False
        if resume and self.store is not None:
            found = self.store.latest(map_location=self.device)
            if found is not None:
                self.load_checkpoint(*found)
        self.model.train()
        bar = None
        if cfg.progress and self.rank == 0:
            from tqdm.auto import tqdm

            bar = tqdm(total=cfg.steps, initial=self.step, desc=self.meta.get("name", "train"), leave=False)
        last_loss = float("nan")
        done_here = 0
        t_start = time.perf_counter()
        step_s, val_s, ckpt_s = 0.0, 0.0, 0.0  # measured costs, for the time budget

        def stop_now() -> TrainResult:
            self.train_seconds += time.perf_counter() - t_start
            self.save_checkpoint()
            self.stopped_early = True
            if bar is not None:
                bar.close()
            return TrainResult(self.model, {}, self.history, stopped_at=self.step)

        while self.step < cfg.steps:
            t_step = time.perf_counter()
            (inputs, target) = self.batches(self.step, self.rank, self.world)
            inputs = tuple(t.to(self.device, non_blocking=True) for t in inputs)
            target = target.to(self.device, non_blocking=True)
            for group in self.optimizer.param_groups:
                group["lr"] = cfg.lr_at(self.step)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.use_amp):
                pred = self.net(*inputs)
            if isinstance(pred, (list, tuple)):   # deep supervision: one estimate per step, the loss averaged
                loss = torch.stack([self._loss(q.float(), target) for q in pred]).mean()
            else:
                loss = self._loss(pred.float(), target)
            if self.discriminator is not None:
                fake = (pred[-1] if isinstance(pred, (list, tuple)) else pred).float()
                # the generator's non-saturating GAN loss: make the critic call its estimates real
                loss = loss + cfg.adversarial_weight * F.softplus(-self.discriminator(fake)).mean()
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.optimizer.step()
            if self.discriminator is not None:
                for group in self.d_optimizer.param_groups:
                    group["lr"] = cfg.lr_at(self.step)
                d_loss = F.softplus(-self.discriminator(target)).mean() + \
                    F.softplus(self.discriminator(fake.detach())).mean()
                self.d_optimizer.zero_grad(set_to_none=True)
                d_loss.backward()
                self.d_optimizer.step()
            self.step += 1
            done_here += 1
            if self.ema_state is not None:
                self._update_ema()
            step_s = max(step_s * 0.9, time.perf_counter() - t_step)  # a cautious (high) running estimate
            if self.step % 10 == 0 or self.step == cfg.steps:   # recorded with or without a progress bar
                last_loss = float(loss.detach())
            if bar is not None:
                bar.update(1)
                if self.step % 10 == 0 or self.step == cfg.steps:
                    bar.set_postfix(loss=f"{last_loss:.3g}")
            if cfg.val_every and self.step % cfg.val_every == 0 and self.step < cfg.steps:
                t_val = time.perf_counter()
                entry = self._validate()
                val_s = max(val_s, time.perf_counter() - t_val)
                if bar is not None and entry:
                    bar.set_postfix({k: f"{v:.3f}" for k, v in entry.items() if k != "step"})
            if cfg.ckpt_every and self.step % cfg.ckpt_every == 0 and self.step < cfg.steps:
                t_ck = time.perf_counter()
                self.train_seconds += time.perf_counter() - t_start
                t_start = time.perf_counter()
                self.save_checkpoint()
                ckpt_s = max(ckpt_s, time.perf_counter() - t_ck)
            if stop_after is not None and done_here >= stop_after and self.step < cfg.steps:
                return stop_now()
            if time_budget is not None and self.step < cfg.steps:
                next_val = val_s if cfg.val_every and (self.step + 1) % cfg.val_every == 0 else 0.0
                # the final step also validates and writes weights: keep room for both
                reserve = 2 * step_s + 2 * max(ckpt_s, 0.05) + next_val + val_s
                if time.perf_counter() - t_call + reserve > time_budget:
                    return stop_now()
        if bar is not None:
            bar.close()
        self.train_seconds += time.perf_counter() - t_start
        if self.history and self.history[-1]["step"] == self.step and done_here == 0:
            final = self.history[-1]  # a finished run re-entered (e.g. killed before its record): no new entry
        else:
            final = self._validate()
            self.save_checkpoint()
        if self.ema_state is not None:   # the run's weights are the average (the checkpoint keeps the raw ones)
            self.model.load_state_dict(self.ema_state)
        record = self.make_record(final, last_loss)
        if self.out_dir is not None and self.rank == 0:
            storage.save_weights(self.out_dir / "weights.safetensors", self.model.state_dict(), self.signature)
            atomic_write_json(self.out_dir / "record.json", record)
        return TrainResult(self.model, record, self.history)

    def make_record(self, final: Optional[dict], last_loss: float) -> dict:
        n_params = sum(p.numel() for p in self.model.parameters())
        return {
            "kind": "training",
            "meta": self.meta,
            "config": dataclasses.asdict(self.config),
            "final_validation": final,
            "best_validation": best_validation(self.history),
            "history": self.history,
            "last_train_loss": None if math.isnan(last_loss) else last_loss,
            "parameters": n_params,
            "steps": self.step,
            "world_size": self.world,
            "train_seconds": round(self.train_seconds, 3),
            "device": device_description(self.device),
            "torch": torch.__version__,
            "git_commit": self.started_commit,
            "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
