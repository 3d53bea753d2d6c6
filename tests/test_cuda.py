"""What only a GPU can show: every path the library takes on a CUDA device keeps its tensors there.

Skipped without CUDA (CI has none). On a GPU machine (scripts/gpu_plan.sh, Colab) run first:
``python -m pytest -q tests/test_cuda.py``. ``MMSR_TEST_DEVICE=cpu`` runs the same tests on the CPU (to check
the tests themselves). The first GPU lease found the global registration mixing CPU and CUDA
tensors, which stopped every CMSR run there; these tests would have caught it on the CPU side of that lease.
"""
import os
from dataclasses import replace

import pytest
import torch

from mmsr.data import embedded_pairs
from mmsr.evaluate import prepare_inputs
from mmsr.recipes import TRAINABLE, guide_mode_of, zeroshot_config
from mmsr.registration import register_global
from mmsr.zeroshot import zero_shot_sr

CUDA = torch.device(os.environ.get("MMSR_TEST_DEVICE", "cuda"))
pytestmark = pytest.mark.skipif(CUDA.type == "cuda" and not torch.cuda.is_available(), reason="needs a CUDA device")


def _pair(scale, crop=(96, 128), guide="rgb"):
    p = embedded_pairs("test")[0]
    p = replace(p, target=p.target[:crop[0], :crop[1]], guide=p.guide[:crop[0], :crop[1]])
    return prepare_inputs(p, scale, guide)


def test_registration_on_cuda_inputs_matches_the_cpu():
    lr, g, _ = _pair(4)
    on_cpu = register_global(lr, g)
    on_gpu = register_global(lr.to(CUDA), g.to(CUDA))
    assert torch.allclose(on_cpu.theta, on_gpu.theta.cpu())


@pytest.mark.parametrize("method", ["cmsr", "zssr"])
def test_zero_shot_runs_on_cuda(method):
    lr, g, _ = _pair(4)
    run = zero_shot_sr(lr.to(CUDA), g.to(CUDA), 4, zeroshot_config(method, "smoke"))
    assert run.output.device.type == CUDA.type and run.output.shape[-2:] == g.shape[-2:]
    assert torch.isfinite(run.output).all()


@pytest.mark.parametrize("name", sorted(TRAINABLE))
def test_every_trainable_model_takes_a_training_step_on_cuda(name):
    settings, build, _, _ = TRAINABLE[name]
    s = settings["smoke"]
    lr, g, _ = _pair(2, guide=guide_mode_of(name, s))
    model = build(2, s).to(CUDA)
    with torch.autocast(CUDA.type, dtype=torch.bfloat16):
        out = model(lr.to(CUDA), g.to(CUDA))
    out = out[-1] if isinstance(out, (list, tuple)) else out
    out.float().mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(q is not None and q.device.type == CUDA.type for q in grads)
    assert any(q.abs().sum() > 0 for q in grads)
