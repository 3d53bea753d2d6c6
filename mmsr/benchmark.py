"""Evaluate trained runs and measure speed: ``python -m mmsr.benchmark runs/lmcsc_x2_seed0 [...] --data-root D``.

For each run folder (written by :mod:`mmsr.train`) this writes ``<run>/evaluation.json`` with
* PSNR/SSIM per NIR test image and the mean (the protocol of :mod:`mmsr.evaluate`), and bicubic beside it;
* generalisation: mean PSNR on the EPFL "country" pairs (never trained on) for the model and for bicubic;
* training throughput (patches/s) from the run's record, FLOPs of one training step (PyTorch's FLOP counter)
  and the achieved TFLOP/s, next to the device's measured bf16/fp32 matmul peak;
* inference time on one full test image (about 1024x680) on the run's device and on the CPU.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from .data.datasets import load_epfl_nir
from .evaluate import Bicubic, evaluate, mean_row, prepare_inputs
from .recipes import TRAINABLE, guide_mode_of
from .runtime import try_gpu
from .training import atomic_write_json, device_description, load_weights


def matmul_peak_tflops(device: torch.device, dtype=torch.bfloat16, n: int = 8192, reps: int = 20) -> float:
    """Measured throughput of a large square matmul (an empirical peak to compare training against)."""
    if device.type != "cuda":
        n, reps, dtype = 1024, 5, torch.float32
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    _sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e12


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step_flops(model: torch.nn.Module, batch: int, patch: int, scale: int, device, guide_channels: int = 1) -> int:
    """FLOPs of one forward + backward pass on a training batch (PyTorch's FlopCounterMode); ``guide_channels``:
    3 for a model that reads the guide's colour (``guide_mode`` ``"rgb"``), 1 for its luminance. A measure of a
    step's cost that, unlike its seconds, does not depend on what else the machine was running."""
    from torch.utils.flop_counter import FlopCounterMode

    lr = torch.rand(batch, 1, patch // scale, patch // scale, device=device)
    guide = torch.rand(batch, guide_channels, patch, patch, device=device)
    with FlopCounterMode(display=False) as fc:
        model(lr, guide).mean().backward()
    model.zero_grad(set_to_none=True)
    return int(fc.get_total_flops())


def forward_times(model, lr: torch.Tensor, guide: torch.Tensor, device, reps: int = 3) -> list[float]:
    """Seconds of each of ``reps`` forward passes of ``model(lr, guide)`` on ``device``, without autograd, after
    one warm-up pass; each pass is synchronised on its own so the list shows the spread."""
    if reps < 1:
        raise ValueError(f"reps must be >= 1, got {reps}")
    lr, guide = lr.to(device), guide.to(device)
    model = model.to(device).eval()
    times = []
    with torch.no_grad():
        model(lr, guide)
        _sync(device)
        for _ in range(reps):
            t0 = time.perf_counter()
            model(lr, guide)
            _sync(device)
            times.append(time.perf_counter() - t0)
    return times


def time_forward(model, lr: torch.Tensor, guide: torch.Tensor, device, reps: int = 3) -> float:
    """Mean seconds per forward pass of ``model(lr, guide)`` on ``device`` (see :func:`forward_times`)."""
    return sum(forward_times(model, lr, guide, device, reps)) / reps


def time_inference(model, pair, scale, device, reps: int = 3, guide_mode: str = "gray") -> float:
    lr, g, _ = prepare_inputs(pair, scale, guide_mode)
    return time_forward(model, lr, g, device, reps)


def evaluate_run(run_dir, root=None, device=None) -> dict:
    run_dir = Path(run_dir)
    rec = json.loads((run_dir / "record.json").read_text())
    meta, name, scale = rec["meta"], rec["meta"]["model"], rec["meta"]["scale"]
    settings, build, _, data = TRAINABLE[name]
    guide_mode = guide_mode_of(name, meta["settings"])
    if data != "nir":
        raise ValueError(f"mmsr.benchmark evaluates NIR models; {name} is trained on {data!r} data")
    device = torch.device(device) if device else try_gpu()
    model = load_weights(build(scale, meta["settings"]), run_dir / "weights.safetensors").to(device)
    test = load_epfl_nir("test", root)
    rows = evaluate(model, test, scale, guide_mode=guide_mode, device=device)
    bic = evaluate(Bicubic(scale), test, scale)
    out = {"run": str(run_dir), "model": name, "scale": scale, "seed": rec["config"]["seed"],
           "git_commit_of_run": rec["git_commit"], "device": device_description(device),
           "test": rows, "test_mean": mean_row(rows), "bicubic_test": bic, "bicubic_test_mean": mean_row(bic)}
    try:
        country = load_epfl_nir("country", root)
        out["country_mean_psnr"] = mean_row(evaluate(model, country, scale, guide_mode=guide_mode, device=device,
                                                     with_ssim=False))["psnr"]
        out["bicubic_country_mean_psnr"] = mean_row(evaluate(Bicubic(scale), country, scale, with_ssim=False))["psnr"]
    except FileNotFoundError:
        out["country_mean_psnr"] = None
    s = meta["settings"]
    patches_per_s = rec["steps"] * s["batch_size"] / max(rec["train_seconds"], 1e-9)
    flops = step_flops(model, s["batch_size"], s["patch_size"], scale, device,
                       guide_channels=3 if guide_mode == "rgb" else 1)
    out["training"] = {"patches_per_second": patches_per_s, "flops_per_step": flops,
                       "achieved_tflops": flops * rec["steps"] / max(rec["train_seconds"], 1e-9) / 1e12,
                       "train_seconds": rec["train_seconds"], "steps": rec["steps"]}
    out["peak_matmul_tflops"] = matmul_peak_tflops(device)
    big = max(test, key=lambda p: p.target.size)
    out["inference_seconds"] = {"image": big.name, "size": list(big.target.shape),
                                str(device.type): time_inference(model, big, scale, device, guide_mode=guide_mode)}
    if device.type != "cpu":
        out["inference_seconds"]["cpu"] = time_inference(model, big, scale, torch.device("cpu"), reps=1,
                                                         guide_mode=guide_mode)
    atomic_write_json(run_dir / "evaluation.json", out)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mmsr.benchmark", description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--device", default=None)
    args = ap.parse_args(argv)
    for r in args.runs:
        out = evaluate_run(r, args.data_root, args.device)
        print(f"{r}: test {out['test_mean']['psnr']:.2f} dB (bicubic {out['bicubic_test_mean']['psnr']:.2f}); "
              f"country {out.get('country_mean_psnr')}; {out['training']['patches_per_second']:.0f} patches/s; "
              f"{out['training']['achieved_tflops']:.2f} TFLOP/s of {out['peak_matmul_tflops']:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
