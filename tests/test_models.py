from pathlib import Path

import numpy as np
import pytest
import torch

from mmsr.evaluate import Bicubic, evaluate, mean_row
from mmsr.models import DJF, SRCNN, GuidedFilterUpsampler, box_filter, build_model, guided_filter
from mmsr.data import embedded_pairs


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_srcnn_shapes_and_gradients(scale):
    m = SRCNN(scale, residual=True)
    lr = torch.rand(2, 1, 7, 9, requires_grad=True)  # odd sizes
    out = m(lr, None)
    assert out.shape == (2, 1, 7 * scale, 9 * scale)
    out.mean().backward()
    assert lr.grad is not None and all(p.grad is not None for p in m.parameters())


def test_srcnn_is_9_1_5():
    m = SRCNN(2)
    assert [c.kernel_size for c in (m.conv1, m.conv2, m.conv3)] == [(9, 9), (1, 1), (5, 5)]
    assert (m.conv1.out_channels, m.conv2.out_channels) == (64, 32)


@pytest.mark.parametrize("scale,guide_channels", [(2, 3), (4, 1), (3, 3)])
def test_djf_shapes_gradients_and_bicubic_start(scale, guide_channels):
    torch.manual_seed(0)
    m = DJF(scale, guide_channels)
    lr = torch.rand(2, 1, 7, 9, requires_grad=True)  # odd sizes
    guide = torch.rand(2, guide_channels, 7 * scale, 9 * scale)
    out = m(lr, guide)
    assert out.shape == (2, 1, 7 * scale, 9 * scale)
    out.mean().backward()
    assert lr.grad is not None and all(p.grad is not None for p in m.parameters())
    # the residual starts near zero: an untrained DJF is (almost) bicubic
    from mmsr.degrade import upsample_bicubic

    assert (out - upsample_bicubic(lr, scale)).abs().max() < 0.05


def test_djf_is_three_9_1_5_stacks():
    m = DJF(4, 3)
    for net, (n1, n2), cin in ((m.cnn_t, (96, 48), 1), (m.cnn_g, (96, 48), 3), (m.cnn_f, (64, 32), 2)):
        convs = [c for c in net if isinstance(c, torch.nn.Conv2d)]
        assert [c.kernel_size for c in convs] == [(9, 9), (1, 1), (5, 5)]
        assert [c.out_channels for c in convs] == [n1, n2, 1] and convs[0].in_channels == cin


def test_djf_refuses_bad_guides():
    m = DJF(2, 3)
    with pytest.raises(ValueError, match="3-channel"):
        m(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 16, 16))
    with pytest.raises(ValueError, match="does not match"):
        m(torch.rand(1, 1, 8, 8), torch.rand(1, 3, 16, 18))
    with pytest.raises(ValueError, match="needs a guide"):
        m(torch.rand(1, 1, 8, 8), None)


def test_box_filter_matches_direct_mean(rng):
    x = torch.tensor(rng.random((1, 1, 9, 11)))
    r = 2
    out = box_filter(x, r)
    direct = np.zeros((9, 11))
    a = x[0, 0].numpy()
    for i in range(9):
        for j in range(11):
            direct[i, j] = a[max(0, i - r):i + r + 1, max(0, j - r):j + r + 1].mean()
    assert np.allclose(out[0, 0].numpy(), direct)
    assert torch.allclose(box_filter(x, 7), torch.tensor(direct).new_tensor(
        [[a[max(0, i - 7):i + 8, max(0, j - 7):j + 8].mean() for j in range(11)] for i in range(9)])[None, None])


@pytest.mark.parametrize("channels", [1, 3])
def test_guided_filter_reproduces_linear_functions_of_the_guide(channels, rng):
    guide = torch.tensor(rng.random((1, channels, 20, 23)))
    coef = torch.tensor(rng.normal(size=channels)).view(1, channels, 1, 1)
    p = (coef * guide).sum(1, keepdim=True) + 0.3
    out = guided_filter(p, guide, radius=3, eps=1e-10)
    assert torch.allclose(out, p, atol=1e-5)


def test_guided_filter_errors():
    with pytest.raises(ValueError, match="does not match"):
        guided_filter(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 9), 2, 1e-3)
    with pytest.raises(ValueError, match="eps"):
        guided_filter(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8), 2, 0)


def test_guided_filter_beats_bicubic_on_embedded_default():
    pairs = embedded_pairs("test")[:2]
    bic = mean_row(evaluate(Bicubic(4), pairs, 4, with_ssim=False))["psnr"]
    gf = mean_row(evaluate(GuidedFilterUpsampler(4, 8, 1e-5), pairs, 4, with_ssim=False))["psnr"]
    assert gf > bic


def test_build_model():
    assert isinstance(build_model("srcnn", scale=2), SRCNN)
    with pytest.raises(ValueError, match="unknown model"):
        build_model("nope")


COMMITTED = sorted(Path(__file__).resolve().parents[1].joinpath("mmsr", "weights").glob("*_x[0-9].safetensors"))


def test_the_committed_weights_are_found():
    names = {p.stem for p in COMMITTED}
    assert {"srcnn_x2", "srcnn_x4", "djf_x2", "djf_x4", "lmcsc_x2", "lmcsc_x4", "recurrent_x4"} <= names


@pytest.mark.parametrize("path", COMMITTED, ids=[p.stem for p in COMMITTED])
def test_committed_weights_load_and_carry_provenance(path):
    import json

    from mmsr.data.datasets import CAVE_TEST, MIDDLEBURY_SCENES
    from mmsr.recipes import load_pretrained, pretrained_path
    from mmsr.storage import read_weights, tensors_digest

    name, scale = path.stem.rsplit("_x", 1)
    scale = int(scale)
    model = load_pretrained(name, scale)
    assert model.scale == scale
    rec = json.loads(pretrained_path(name, scale).with_suffix(".json").read_text())
    assert rec["meta"]["scale"] == scale and rec["meta"]["model"] == name
    test_names = set(__import__("mmsr").data.EPFL_NIR_TEST) | set(MIDDLEBURY_SCENES) | set(CAVE_TEST)
    assert not set(rec["meta"]["train_images"]) & test_names and not set(rec["meta"]["val_images"]) & test_names
    for key in ("git_commit", "device", "config", "provenance", "train_seconds"):
        assert key in rec
    if rec["meta"]["data"] == "visible_thermal":  # trained on one camera; every test pair is held out
        from mmsr.data.thermal import vt_split

        assert all(n.startswith("flir_one_") for n in rec["meta"]["train_images"] + rec["meta"]["val_images"])
        assert len(rec["meta"]["train_images"]) == sum(vt_split("flir_one", i) == "train" for i in range(30))
    if "weights_file" in rec:   # the record describes these very tensors
        assert rec["weights_file"]["tensors_sha256"] == tensors_digest(read_weights(path)[0])


RECORDS = sorted(list(Path(__file__).resolve().parents[1].joinpath("mmsr", "weights").glob("*_x[0-9].json"))
                 + list(Path(__file__).resolve().parents[1].joinpath("mmsr", "weights", "experiments")
                        .glob("*/record.json")))


def test_every_recorded_training_command_still_gives_the_recorded_settings():
    """A record's command is how a reader reproduces the weights: run against today's recipes it must yield the
    settings the weights were trained with. Recipes change (DJF's full-mode learning rate went from 1e-3 to 2e-4);
    a record whose command relied on an old default must say which ``--set`` restores it. ``--set`` options
    written after the command (a resume, a note) count, later ones last."""
    import json
    import shlex

    from mmsr.recipes import TRAINABLE
    from mmsr.train import parse_overrides

    checked, wrong = 0, []
    for path in RECORDS:
        rec = json.loads(path.read_text())
        command = rec.get("provenance", {}).get("command", "")
        if "mmsr.train " not in command:
            continue   # gates, zero-shot runs: other commands
        toks = shlex.split(command.replace(";", " ; "))
        args = toks[toks.index("mmsr.train") + 1:]
        mode = args[args.index("--mode") + 1] if "--mode" in args else "default"
        overrides = parse_overrides([args[i + 1] for i, t in enumerate(args) if t == "--set"])
        settings = {**TRAINABLE[args[0]][0][mode], **overrides}
        norm = lambda v: list(v) if isinstance(v, (list, tuple)) else v   # noqa: E731 (JSON has no tuples)
        diff = {k: (settings.get(k), v) for k, v in rec["meta"]["settings"].items() if norm(settings.get(k)) != norm(v)}
        checked += 1
        if diff:
            wrong.append((path.parent.name if path.name == "record.json" else path.name, diff))
    assert checked >= 20 and wrong == []
