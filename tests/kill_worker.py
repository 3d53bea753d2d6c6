"""A small training run for the SIGKILL tests: ``python kill_worker.py OUT [write|sidecar N]``.

It prints ``ready`` once imports are done, then trains a tiny model with a checkpoint every 3 steps (each batch
takes a few milliseconds, so a kill can land anywhere in the run). With ``write N`` it kills itself in the middle
of writing its N-th checkpoint (half the bytes written); with ``sidecar N`` after the N-th checkpoint file is in
place but before its sidecar record is written. The test imports :func:`make_trainer` for the reference run.
"""
import os
import signal
import sys
import time

import torch
from torch import nn

from mmsr import storage
from mmsr.training import TrainConfig, Trainer

STEPS = 150


def batches(step, rank=0, world=1):
    time.sleep(0.004)
    g = torch.Generator().manual_seed(500 + step)
    x = torch.rand(8, 1, 8, 8, generator=g)
    return (x,), 0.5 * x.roll(1, -1) + 0.1


def make_trainer(out):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 1, 3, padding=1))
    cfg = TrainConfig(steps=STEPS, batch_size=8, lr=1e-2, progress=False, seed=3, ckpt_every=3,
                      lr_milestones=(100,))
    return Trainer(model, cfg, batches, out_dir=out, device="cpu")


def _arm(kind: str, n: int) -> None:
    calls = {"k": 0}
    if kind == "write":
        real = storage._torch_save

        def dying_save(obj, tmp):
            calls["k"] += 1
            if calls["k"] == n:
                real(obj, tmp)
                with open(tmp, "r+b") as f:
                    f.truncate(os.path.getsize(tmp) // 2)
                os.kill(os.getpid(), signal.SIGKILL)
            real(obj, tmp)

        storage._torch_save = dying_save
    elif kind == "sidecar":
        real_json = storage.atomic_write_json

        def dying_json(path, obj):
            if str(path).endswith(".json") and "checkpoint-" in str(path):
                calls["k"] += 1
                if calls["k"] == n:
                    os.kill(os.getpid(), signal.SIGKILL)
            return real_json(path, obj)

        storage.atomic_write_json = dying_json


if __name__ == "__main__":
    out = sys.argv[1]
    if len(sys.argv) == 4:
        _arm(sys.argv[2], int(sys.argv[3]))
    print("ready", flush=True)
    make_trainer(out).fit()
    print("done", flush=True)
