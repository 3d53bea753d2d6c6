"""VTSRCNN / VTSRGAN (mmsr.models.vtsr), the Trainer's adversarial mode, and the visible-thermal pairs."""
import json

import numpy as np
import pytest
import torch

from mmsr.degrade import upsample_bicubic
from mmsr.models.vtsr import VTSRCNN, VTSRDiscriminator
from mmsr.training import TrainConfig, Trainer


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_vtsrcnn_shapes_on_odd_sizes_and_starts_at_bicubic(scale):
    torch.manual_seed(0)
    net = VTSRCNN(scale, features=8, blocks=2)
    lr, guide = torch.rand(2, 1, 7, 9), torch.rand(2, 3, 7 * scale, 9 * scale)
    out = net(lr, guide)
    assert out.shape == (2, 1, 7 * scale, 9 * scale)
    # the global residual: at initialisation the output is the bicubic upsampling plus a tiny correction
    assert (out - upsample_bicubic(lr, scale)).abs().max() < 0.05


def test_vtsrcnn_every_parameter_gets_a_gradient_and_the_guide_matters():
    torch.manual_seed(1)
    net = VTSRCNN(4, features=8, blocks=2)
    lr, guide = torch.rand(2, 1, 6, 5), torch.rand(2, 3, 24, 20)
    net(lr, guide).square().mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    with torch.no_grad():
        net.fuse[-1].weight.normal_(std=0.1)  # a trained-like last layer
        a, b = net(lr, guide), net(lr, 1 - guide)
    assert (a - b).abs().max() > 1e-3


def test_vtsrcnn_layer_sizes_and_bad_inputs():
    net = VTSRCNN(4, features=32, blocks=4)
    # 2 transposed convolutions for x4; 4 residual blocks of two 3x3 convolutions
    assert sum(isinstance(m, torch.nn.ConvTranspose2d) for m in net.modules()) == 2
    assert len([m for m in net.body if m.__class__.__name__ == "ResidualBlock"]) == 4
    assert sum(p.numel() for p in net.parameters()) == 145601
    with pytest.raises(ValueError, match="power of two"):
        VTSRCNN(3)
    with pytest.raises(ValueError, match="guide_channels"):
        VTSRCNN(4, guide_channels=2)
    with pytest.raises(ValueError, match="needs a guide"):
        net(torch.rand(1, 1, 8, 8), None)
    with pytest.raises(ValueError, match="3-channel guides"):
        net(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 32, 32))
    with pytest.raises(ValueError, match="does not match"):
        net(torch.rand(1, 1, 8, 8), torch.rand(1, 3, 30, 32))


def test_discriminator_takes_any_size_and_refuses_too_few_layers():
    d = VTSRDiscriminator(8, layers=4)
    assert d(torch.rand(3, 1, 48, 48)).shape == (3,) and d(torch.rand(1, 1, 33, 21)).shape == (1,)
    with pytest.raises(ValueError, match="at least 2"):
        VTSRDiscriminator(8, layers=1)


def _batches(step, rank=0, world=1):
    g = torch.Generator().manual_seed(500 + step)
    lr = torch.rand(4, 1, 6, 6, generator=g)
    guide = torch.rand(4, 3, 12, 12, generator=g)
    return (lr, guide), upsample_bicubic(lr, 2) * 0.9 + 0.05


def _gan(tmp, steps=6, weight=1e-2):
    torch.manual_seed(0)
    cfg = TrainConfig(steps=steps, batch_size=4, lr=1e-3, progress=False, ckpt_every=2, adversarial_weight=weight)
    return Trainer(VTSRCNN(2, features=4, blocks=1), cfg, _batches, out_dir=tmp, device="cpu",
                   discriminator=VTSRDiscriminator(4, layers=2))


def test_adversarial_training_updates_the_critic_and_resumes_bit_for_bit(tmp_path):
    t = _gan(tmp_path / "a")
    d0 = {k: v.clone() for k, v in t.discriminator.state_dict().items()}
    straight = t.fit()
    assert any(not torch.equal(d0[k], v) for k, v in t.discriminator.state_dict().items())
    t1 = _gan(tmp_path / "b")
    t1.fit(stop_after=3)
    t2 = _gan(tmp_path / "b")
    resumed = t2.fit()
    assert t2.step == 6
    for (k, a), (_, b) in zip(straight.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.equal(a, b), k
    for (k, a), (_, b) in zip(t.discriminator.state_dict().items(), t2.discriminator.state_dict().items()):
        assert torch.equal(a, b), k
    # the adversarial term changes what the generator learns (same start, same batches, no critic)
    torch.manual_seed(0)
    plain = Trainer(VTSRCNN(2, features=4, blocks=1), TrainConfig(steps=6, batch_size=4, lr=1e-3, progress=False),
                    _batches, device="cpu").fit().model
    assert any(not torch.equal(a, b) for a, b in zip(plain.state_dict().values(), straight.model.state_dict().values()))


def test_adversarial_weight_and_discriminator_go_together():
    net = VTSRCNN(2, features=4, blocks=1)
    with pytest.raises(ValueError, match="needs a discriminator"):
        Trainer(net, TrainConfig(steps=1, adversarial_weight=1e-3, progress=False), _batches, device="cpu")
    with pytest.raises(ValueError, match="needs a discriminator"):
        Trainer(net, TrainConfig(steps=1, progress=False), _batches, device="cpu",
                discriminator=VTSRDiscriminator(4, layers=2))
    with pytest.raises(ValueError, match="adversarial_weight must be"):
        TrainConfig(adversarial_weight=-1.0)


# ------------------------------------------------------------------------------------- visible-thermal data
def test_vt_split_rule():
    from mmsr.data.thermal import vt_split

    splits = [vt_split("flir_one", i) for i in range(30)]
    assert splits.count("test") == 3 and splits.count("val") == 3 and splits.count("train") == 24
    assert vt_split("cats", 1) == "test" and vt_split("flir_adas", 2) == "test"
    with pytest.raises(ValueError, match="unknown visible-thermal set"):
        vt_split("ulb17", 0)


def test_align_visible_identity_and_shift():
    from mmsr.data.thermal import align_visible

    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    assert np.array_equal(align_visible(img, [[1, 0, 0], [0, 1, 0]]), img)
    # a shift of 2/30 in normalised x is one pixel: output(x) = input(x + 1)
    moved = align_visible(img, [[1, 0, 2 / 30], [0, 1, 0]])
    assert np.array_equal(moved[:, :-1], img[:, 1:])


def test_vt_training_pairs_fall_back_to_embedded_without_data():
    from mmsr.data.thermal import vt_pairs

    pairs, source = vt_pairs("train-minus-val")
    assert source == "embedded" and pairs
    with pytest.raises(ValueError, match="unknown visible-thermal training split"):
        vt_pairs("test")


def test_vt_pairs_on_the_real_data_split_and_registration(shared_data):
    from mmsr.data import thermal

    files = thermal.vt_files(shared_data)
    table = thermal.registration_table()
    assert {e["name"] for e in files} == set(table), "the committed registration table covers every pair"
    test = thermal.load_visible_thermal("test", shared_data)
    val, train = thermal.vt_pairs("val", shared_data)[0], thermal.vt_pairs("train", shared_data)[0]
    assert (len(test), len(val), len(train)) == (8, 3, 24)
    assert not {p.name for p in test} & {p.name for p in train + val}
    assert {p.meta["subset"] for p in test} == {"cats", "flir_adas", "flir_one"}
    assert {p.meta["subset"] for p in train + val} == {"flir_one"}
    p = test[2]
    assert p.target.ndim == 2 and p.guide.shape == p.target.shape + (3,) and p.bit_depth == 8
    raw = thermal.load_visible_thermal("test", shared_data, registered=False)[2]
    assert np.array_equal(raw.target, p.target) and not np.array_equal(raw.guide, p.guide)
    # the committed table is what the registration computes (one pair recomputed)
    e = [e for e in files if e["name"] == "flir_adas/FLIR_09730"][0]
    again = thermal.register_visible(*thermal._read_pair(e))
    assert np.allclose(again["theta"], table[e["name"]]["theta"], atol=1e-4)
