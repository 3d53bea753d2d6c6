"""Run by tests/test_training.py under torchrun (2 processes, gloo on CPU)."""
import os
import sys

import torch

from mmsr.training import TrainConfig, Trainer

sys.path.insert(0, os.path.dirname(__file__))
from test_training import synthetic_batches, tiny_model  # noqa: E402

out = sys.argv[1]
trainer = Trainer(tiny_model(), TrainConfig(steps=6, batch_size=8, lr=1e-2, progress=False, seed=0),
                  synthetic_batches, out_dir=out if int(os.environ["RANK"]) == 0 else None, device="cpu",
                  meta={"name": "ddp"})
res = trainer.fit()
torch.save(res.model.state_dict(), os.path.join(out, f"rank{os.environ['RANK']}.pt"))
