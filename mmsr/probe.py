"""What a machine can do, measured before anything is trained on it: ``python -m mmsr.probe OUT.json``.

The first step of the GPU plan (``scripts/gpu_plan.sh probe``) and useful on any new machine (Colab, a laptop):

* device, PyTorch / CUDA / cuDNN versions;
* measured matmul throughput: bf16 and TF32 (CUDA) or fp32 (CPU) -- the empirical peak training is compared with;
* convolution throughput (3x3, 64 -> 64 channels, forward + backward), the operation the book's networks are made of;
* LMCSC at the paper's size (85 maps, 5x5, batch 32 of 64x64): training patches/s with and without bf16 autocast,
  the achieved TFLOP/s of a step, and inference time on a 1024x680 image;
* bf16 autocast's cost in accuracy: the same short LMCSC training (same init, same batches) with and without it,
  PSNR on held-out pairs after each;
* CMSR (zero-shot, x4) wall time per 60x80 -> 240x320 pair at the mode's network size.

``--mode smoke`` shrinks every size so that the probe runs in seconds on a CPU (the plan's end-to-end test).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Optional

import torch
import torch.nn.functional as F

from .benchmark import _sync, matmul_peak_tflops, step_flops, time_forward
from .runtime import get_mode, seed_everything, try_gpu
from .training import device_description, git_commit

SIZES = {  # per mode: conv batch/side, LMCSC (atoms, batch, patch, steps), A/B steps, inference side
    "smoke": {"conv": (2, 32), "lmcsc": (8, 4, 32, 3), "ab_steps": 4, "infer": (68, 102), "cmsr_steps": 6},
    "default": {"conv": (8, 64), "lmcsc": (32, 16, 48, 10), "ab_steps": 60, "infer": (680, 1024), "cmsr_steps": 300},
    "full": {"conv": (32, 128), "lmcsc": (85, 32, 64, 30), "ab_steps": 600, "infer": (680, 1024), "cmsr_steps": None},
}


def conv_tflops(device, batch: int, side: int, reps: int = 5, dtype=torch.float32) -> float:
    x = torch.randn(batch, 64, side, side, device=device, dtype=dtype, requires_grad=True)
    w = torch.randn(64, 64, 3, 3, device=device, dtype=dtype, requires_grad=True)
    for _ in range(2):
        F.conv2d(x, w, padding=1).sum().backward()
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        F.conv2d(x, w, padding=1).sum().backward()
    _sync(device)
    flops = 3 * 2 * batch * 64 * 64 * 9 * side * side  # forward + two backward convolutions
    return flops * reps / (time.perf_counter() - t0) / 1e12


def _lmcsc(scale, atoms):
    from .models.lmcsc import LMCSCNet

    seed_everything(0)
    return LMCSCNet(scale, atoms=atoms, stages=3, guide_layers=3)


def _batches(scale, batch, patch, n, device):
    g = torch.Generator().manual_seed(1)
    hr = torch.rand(n, batch, 1, patch, patch, generator=g)
    hr = F.avg_pool2d(hr.flatten(0, 1), 5, 1, 2).unflatten(0, (n, batch))  # smooth, image-like targets
    from .degrade import imresize

    lr = torch.stack([imresize(h, 1 / scale) for h in hr])  # MATLAB bicubic, as every chapter degrades
    guide = (0.7 * hr + 0.3 * hr.roll(1, -1)).clamp(0, 1)
    return lr.to(device), guide.to(device), hr.to(device)


def _train_step(model, opt, lr, guide, hr, amp: bool) -> None:
    with torch.autocast(lr.device.type, dtype=torch.bfloat16, enabled=amp):
        pred = model(lr, guide)
    loss = F.mse_loss(pred.float(), hr)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def lmcsc_throughput(device, atoms, batch, patch, steps, amp: bool, scale: int = 4) -> dict:
    model = _lmcsc(scale, atoms).to(device)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    lr, guide, hr = _batches(scale, batch, patch, 2, device)
    use_amp = amp and device.type == "cuda"
    for i in range(2):
        _train_step(model, opt, lr[i], guide[i], hr[i], use_amp)
    _sync(device)
    t0 = time.perf_counter()
    for i in range(steps):
        _train_step(model, opt, lr[i % 2], guide[i % 2], hr[i % 2], use_amp)
    _sync(device)
    dt = (time.perf_counter() - t0) / steps
    flops = step_flops(model, batch, patch, scale, device)
    return {"amp_bf16": use_amp, "seconds_per_step": dt, "patches_per_second": batch / dt,
            "flops_per_step": flops, "achieved_tflops": flops / dt / 1e12}


def amp_accuracy(device, atoms, batch, patch, steps, scale: int = 4) -> dict:
    """The same LMCSC training with and without bf16 autocast; PSNR on held-out synthetic pairs after each."""
    out = {}
    vlr, vguide, vhr = _batches(scale, 4, patch, 1, device)
    for amp in (False, True):
        if amp and device.type != "cuda":
            out["bf16"] = None
            continue
        model = _lmcsc(scale, atoms).to(device)
        opt = torch.optim.Adam(model.parameters(), 1e-3)
        lr, guide, hr = _batches(scale, batch, patch, 8, device)
        for i in range(steps):
            _train_step(model, opt, lr[i % 8], guide[i % 8], hr[i % 8], amp)
        with torch.no_grad():
            mse = F.mse_loss(model(vlr[0], vguide[0]).float().clamp(0, 1), vhr[0])
        out["bf16" if amp else "fp32"] = float(10 * torch.log10(1 / mse))
    out["bf16_cost_db"] = None if out["bf16"] is None else out["fp32"] - out["bf16"]
    out["steps"] = steps
    return out


def inference_seconds(device, atoms, side, scale: int = 4, reps: int = 3) -> float:
    h, w = side
    lr = torch.rand(1, 1, h // scale, w // scale)
    guide = torch.rand(1, 1, h // scale * scale, w // scale * scale)
    return time_forward(_lmcsc(scale, atoms), lr, guide, device, reps)


def cmsr_pair_seconds(device, mode: str, steps: Optional[int]) -> dict:
    """Zero-shot CMSR at x4 on a 60x80 LR crop of an embedded pair (timing; the accuracy is the data's)."""
    from .data import embedded_pairs
    from .evaluate import prepare_inputs
    from .recipes import zeroshot_config
    from .zeroshot import zero_shot_sr

    p = embedded_pairs("test")[0]
    from dataclasses import replace

    p = replace(p, target=p.target[:240, :320], guide=p.guide[:240, :320])
    lr, g, hr = prepare_inputs(p, 4, "rgb")
    cfg = zeroshot_config("cmsr", mode, **({} if steps is None else {"steps": steps}))
    t0 = time.perf_counter()
    run = zero_shot_sr(lr.to(device), g.to(device), 4, cfg, progress=False)
    _sync(device)
    return {"seconds": time.perf_counter() - t0, "steps": cfg.steps, "lr_size": list(lr.shape[-2:]),
            "stage_seconds": run.seconds}


def probe(mode: Optional[str] = None, device=None) -> dict:
    mode = get_mode(mode)
    device = torch.device(device) if device is not None else try_gpu()
    s = SIZES[mode]
    atoms, batch, patch, steps = s["lmcsc"]
    t0 = time.perf_counter()
    out = {"kind": "probe", "mode": mode, "device": device_description(device), "torch": torch.__version__,
           "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version() if torch.cuda.is_available() else None,
           "git_commit": git_commit(), "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        out["matmul_tflops"] = {"bf16": matmul_peak_tflops(device, torch.bfloat16),
                                "tf32": matmul_peak_tflops(device, torch.float32)}
    else:
        out["matmul_tflops"] = {"fp32": matmul_peak_tflops(device)}
    out["conv3x3_64ch_tflops"] = conv_tflops(device, *s["conv"])
    out["lmcsc_training"] = {"settings": {"atoms": atoms, "batch": batch, "patch": patch, "scale": 4},
                             "fp32": lmcsc_throughput(device, atoms, batch, patch, steps, amp=False)}
    if device.type == "cuda":
        out["lmcsc_training"]["bf16"] = lmcsc_throughput(device, atoms, batch, patch, steps, amp=True)
    out["lmcsc_inference_seconds"] = {"size": list(s["infer"]), "seconds": inference_seconds(device, atoms, s["infer"])}
    out["amp_accuracy"] = amp_accuracy(device, atoms, batch, patch, s["ab_steps"])
    out["cmsr_60x80"] = cmsr_pair_seconds(device, mode, s["cmsr_steps"])
    out["probe_seconds"] = time.perf_counter() - t0
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mmsr.probe", description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="JSON file to write")
    ap.add_argument("--mode", default=None)
    ap.add_argument("--device", default=None)
    a = ap.parse_args(argv)
    from .storage import atomic_write_json

    rec = probe(a.mode, a.device)
    atomic_write_json(a.out, rec)
    print(json.dumps(rec, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
