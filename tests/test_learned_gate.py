"""The learned gate (mmsr.models.gated.GateHead, mmsr.learned_gate): a convex blend, aligned crops, gradients,
learning where the guide lies, run folders that rebuild the model, bad inputs."""
import json

import numpy as np
import pytest
import torch

from mmsr.data.pairs import GuidedPair
from mmsr.evaluate import Bicubic
from mmsr.learned_gate import GateSettings, crop_batches, gate_crops, load_run, train_gate
from mmsr.models.gated import GateHead, LearnedGateSR
from mmsr.training import TrainConfig


class GuideCopy(torch.nn.Module):
    """A 'guided model' that returns the guide's luminance: perfect where the guide is the target, wrong where
    its contrast is reversed."""

    def forward(self, lr, guide):
        return guide.mean(1, keepdim=True)


def _pairs(n=3, h=64, w=80, seed=0, reversed_right=True):
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        t = rng.random((h + 6, w + 6))
        t = np.stack([t[i:i + h, j:j + w] for i in range(7) for j in range(7)]).mean(0)  # smooth texture
        t = (255 * (t - t.min()) / (t.max() - t.min())).astype(np.uint8)
        g = t.copy()
        if reversed_right:
            g[:, w // 2:] = 255 - g[:, w // 2:]
        out.append(GuidedPair(f"urban_{k:04d}", t, g))
    return out


SMALL = GateSettings(width=8, crop=32, margin=4, per_image=6)


def test_head_is_a_convex_blend_with_nonzero_gradients_for_every_parameter():
    torch.manual_seed(0)
    head = GateHead(2, width=4)
    lr, guide = torch.rand(2, 1, 9, 7), torch.rand(2, 3, 18, 14)   # odd sizes, RGB guide
    yg, ys = torch.rand(2, 1, 18, 14), torch.rand(2, 1, 18, 14)
    y = head(lr, guide, yg, ys)
    assert y.shape == yg.shape
    assert torch.all(y >= torch.minimum(yg, ys) - 1e-6) and torch.all(y <= torch.maximum(yg, ys) + 1e-6)
    ((y - torch.rand_like(y)) ** 2).mean().backward()
    for name, p in head.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("bad", ["guided", "single", "channels"])
def test_head_refuses_estimates_of_the_wrong_shape(bad):
    head = GateHead(2, width=4)
    lr, guide = torch.rand(1, 1, 8, 8), torch.rand(1, 1, 16, 16)
    yg, ys = torch.rand(1, 1, 16, 16), torch.rand(1, 1, 16, 16)
    if bad == "guided":
        yg = torch.rand(1, 1, 16, 14)
    elif bad == "single":
        ys = torch.rand(1, 1, 14, 16)
    else:
        yg, ys = torch.rand(1, 2, 16, 16), torch.rand(1, 2, 16, 16)
    with pytest.raises(ValueError, match="must both be"):
        head(lr, guide, yg, ys)


def test_crops_line_up_target_guide_and_estimates():
    # the guide is the target everywhere, so GuideCopy's estimate must equal the HR crop at the centre
    pairs = _pairs(2, reversed_right=False)
    crops = gate_crops(pairs, GuideCopy(), Bicubic(2), "gray", 2, SMALL, seed=3)
    m = SMALL.margin * 2
    assert crops["hr"].shape == (12, 1, 32, 32) and crops["guided"].shape == (12, 1, 48, 48)
    assert crops["lr"].shape == (12, 1, 24, 24)
    assert torch.allclose(crops["guided"][..., m:-m, m:-m], crops["hr"], atol=1e-6)
    (inputs, target) = crop_batches(crops, 4, seed=0)(5)
    assert [t.shape[0] for t in inputs] == [4, 4, 4, 4] and target.shape == (4, 1, 32, 32)
    with pytest.raises(ValueError, match="multiple of the scale"):
        gate_crops(pairs, GuideCopy(), Bicubic(2), "gray", 2, GateSettings(crop=33), seed=0)
    with pytest.raises(ValueError, match="smaller than one crop"):
        gate_crops(pairs, GuideCopy(), Bicubic(2), "gray", 2, GateSettings(crop=96, margin=4), seed=0)
    with pytest.raises(ValueError, match="exceeds the number of crops"):
        crop_batches(crops, 13, seed=0)


def _stand_ins(monkeypatch):
    import mmsr.guidance_check as gc

    monkeypatch.setattr(gc, "committed_methods", lambda scale: {
        "lmcsc": (GuideCopy(), "gray", "guided@abc"), "srcnn": (Bicubic(scale), "gray", "single@def")})


def test_the_gate_learns_to_trust_the_guide_where_it_agrees_and_not_where_it_is_reversed(tmp_path, monkeypatch):
    _stand_ins(monkeypatch)
    cfg = TrainConfig(steps=150, batch_size=6, lr=1e-2, val_every=50, ckpt_every=50, seed=0, progress=False)
    res = train_gate("lmcsc", 2, out=tmp_path / "run", settings=SMALL, config=cfg,
                     train_pairs=_pairs(3, seed=0), val_pairs=_pairs(1, seed=1))
    rec = json.loads((tmp_path / "run" / "record.json").read_text())
    assert rec["meta"]["train_split"] == "pairs given by the caller" and rec["steps"] == 150
    assert rec["meta"]["guided_source"] == "guided@abc" and rec["meta"]["crops"] == 18
    first, last = rec["history"][0]["val_psnr"], rec["history"][-1]["val_psnr"]
    assert last > first
    model, mode, source = load_run(tmp_path / "run")
    assert isinstance(model, LearnedGateSR) and mode == "gray" and source == str(tmp_path / "run")
    p = _pairs(1, seed=7)[0]   # an unseen pair
    lr = torch.from_numpy(np.asarray(p.low_resolution(2), np.float32) / 255)[None, None]
    g = torch.from_numpy(p.guide.astype(np.float32) / 255)[None, None]
    with torch.no_grad():
        w = model.trust(lr, g)[0, 0]
        y = model(lr, g)
    t = torch.from_numpy(p.target.astype(np.float32) / 255)
    left, right = w[:, 4:36].mean(), w[:, 44:76].mean()   # away from the seam
    assert left > 0.8 and right < 0.2, (left, right)
    mse = lambda a: float(((a[0, 0] - t) ** 2).mean())
    # the ideal blend is exact on the left and bicubic on the right: about half of bicubic's error
    assert mse(y) < 0.7 * min(mse(GuideCopy()(lr, g)), mse(Bicubic(2)(lr)))
    # the guidance check reads the run folder as a method
    from mmsr.guidance_check import run_method

    assert isinstance(run_method(tmp_path / "run")[0], LearnedGateSR)
    # a finished run re-entered does not train again
    again = train_gate("lmcsc", 2, out=tmp_path / "run", settings=SMALL, config=cfg,
                       train_pairs=_pairs(3, seed=0), val_pairs=_pairs(1, seed=1))
    assert again.record["steps"] == 150 and res.record["steps"] == 150


def test_load_run_refuses_a_gate_whose_frozen_models_changed(tmp_path, monkeypatch):
    _stand_ins(monkeypatch)
    cfg = TrainConfig(steps=2, batch_size=6, seed=0, progress=False)
    train_gate("lmcsc", 2, out=tmp_path / "run", settings=SMALL, config=cfg, train_pairs=_pairs(2),
               val_pairs=_pairs(1, seed=1))
    import mmsr.guidance_check as gc

    monkeypatch.setattr(gc, "committed_methods", lambda scale: {
        "lmcsc": (GuideCopy(), "gray", "guided@NEW"), "srcnn": (Bicubic(scale), "gray", "single@def")})
    with pytest.raises(ValueError, match="they are now"):
        load_run(tmp_path / "run")


def test_train_gate_refuses_bad_inputs_before_any_work(tmp_path, monkeypatch):
    _stand_ins(monkeypatch)
    with pytest.raises(ValueError, match="unknown guided model"):
        train_gate("srcnn", 2, out=tmp_path / "a", train_pairs=[], val_pairs=[])
    with pytest.raises(ValueError, match="multiple of the scale"):
        train_gate("lmcsc", 4, out=tmp_path / "b", settings=GateSettings(crop=30), train_pairs=[], val_pairs=[])
    with pytest.raises(FileNotFoundError, match="no committed x3"):
        import mmsr.guidance_check as gc

        monkeypatch.setattr(gc, "committed_methods", lambda scale: {})
        train_gate("lmcsc", 3, out=tmp_path / "c", settings=GateSettings(crop=30), train_pairs=[], val_pairs=[])
    with pytest.raises(ValueError, match="width, crop, per_image"):
        GateSettings(width=0)
    with pytest.raises(SystemExit):
        from mmsr.learned_gate import main

        main(["srcnn", "--scale", "2", "--out", str(tmp_path / "d")])
    assert not any((tmp_path / d).exists() for d in "abcd")


def test_committed_learned_gates_never_saw_a_test_image_or_a_held_out_landscape():
    """Every committed learned gate's record lists its training and validation images: none is one of the 8 test
    images or a held-out landscape (mmsr.data.datasets.country_part), and its frozen models are named."""
    from mmsr.data.datasets import EPFL_NIR_TEST, country_part
    from mmsr.recipes import WEIGHTS_DIR

    dirs = sorted((WEIGHTS_DIR / "experiments").glob("*_learned_gate*"))
    assert dirs, "no committed learned gate"
    for d in dirs:
        meta = json.loads((d / "record.json").read_text())["meta"]
        seen = meta["train_images"] + meta["val_images"]
        assert not set(seen) & set(EPFL_NIR_TEST), d.name
        assert not [n for n in seen if n.startswith("country") and country_part(n) == "heldout"], d.name
        assert [n for n in meta["train_images"] if n.startswith("country")], d.name   # the training half is used
        assert meta["train_split"] == "train+country" and "@" in meta["guided_source"] and "@" in meta["single_source"]


def test_the_rule_for_another_gate_loss_reads_validation_only_and_can_go_either_way():
    from mmsr.learned_gate import compare_on_validation

    def rec(val, land, guided="lmcsc", scale=4, source="mmsr/weights/lmcsc_x4.safetensors@aaaa"):
        return {"meta": {"model": "learned_gate", "guided": guided, "scale": scale, "guided_source": source,
                         "single_source": "mmsr/weights/srcnn_x4.safetensors@bbbb"},
                "final_validation": {"val_psnr": val, "val_land_psnr": land}}

    ref = rec(30.0, 27.6)
    assert compare_on_validation(rec(29.96, 27.7), ref) == pytest.approx({"d_val_land": 0.1, "d_val": -0.04,
                                                                         "adopt": True})
    assert not compare_on_validation(rec(29.9, 27.7), ref)["adopt"]      # costs more than 0.05 dB overall
    assert not compare_on_validation(rec(30.2, 27.59), ref)["adopt"]     # no better on the landscapes
    with pytest.raises(ValueError, match="same guided model"):
        compare_on_validation(rec(30, 27.7, guided="djf"), ref)
    with pytest.raises(ValueError, match="learned-gate runs"):
        compare_on_validation({"meta": {"model": "recurrent"}, "final_validation": {"val_psnr": 30}}, ref)
    with pytest.raises(ValueError, match="different frozen models"):   # trained before the weights were replaced
        compare_on_validation(rec(30, 27.7, source="mmsr/weights/lmcsc_x4.safetensors@cccc"), ref)


def test_one_seed_gives_one_gate(tmp_path, monkeypatch):
    """The head's initial draw belongs to the seed (it was once drawn before the seed was set)."""
    from mmsr.storage import read_weights, tensors_digest

    _stand_ins(monkeypatch)
    digests = []
    for k, seed in enumerate((0, 0, 1)):
        torch.manual_seed(500 + k)
        cfg = TrainConfig(steps=3, batch_size=6, lr=1e-2, seed=seed, progress=False)
        train_gate("lmcsc", 2, out=tmp_path / f"g{k}", seed=seed, settings=SMALL, config=cfg,
                   train_pairs=_pairs(3, seed=0), val_pairs=_pairs(1, seed=1))
        digests.append(tensors_digest(read_weights(tmp_path / f"g{k}" / "weights.safetensors")[0]))
    assert digests[0] == digests[1] != digests[2]


def test_back_projection_error_is_zero_for_a_consistent_estimate_and_the_offset_for_a_shifted_one():
    """``back_projection_error``: an HR image whose downscaling *is* the LR target has error 0; the same image
    plus a constant c has error |c| everywhere (bicubic downscaling keeps constants); bad shapes are refused."""
    from mmsr.degrade import imresize
    from mmsr.models.gated import back_projection_error

    torch.manual_seed(0)
    hr = torch.rand(2, 1, 24, 30, dtype=torch.float64)
    lr = imresize(hr, 1 / 3)
    assert torch.allclose(back_projection_error(lr, hr, 3), torch.zeros(2, 1, 8, 10, dtype=torch.float64),
                          atol=1e-7)
    e = back_projection_error(lr, hr + 0.05, 3, window=3)
    assert e.shape == (2, 1, 8, 10) and torch.allclose(e, torch.full_like(e, 0.05), atol=1e-6)
    with pytest.raises(ValueError, match="estimate"):
        back_projection_error(lr, hr[..., :-1], 3)
    with pytest.raises(ValueError, match="odd positive"):
        back_projection_error(lr, hr, 3, window=4)


def test_a_consistency_head_sees_the_estimates_errors_and_its_run_rebuilds(tmp_path, monkeypatch):
    """``consistency=True`` adds two feature maps (each estimate's back-projection error): the head stays a convex
    blend whose every parameter learns; the setting is recorded and load_run rebuilds the same head."""
    from mmsr.storage import read_weights

    torch.manual_seed(0)
    head = GateHead(2, width=4, consistency=True)
    lr, guide = torch.rand(1, 1, 9, 7), torch.rand(1, 3, 18, 14)
    yg, ys = torch.rand(1, 1, 18, 14), torch.rand(1, 1, 18, 14)
    feats = head.features(lr, guide, yg, ys)
    assert feats.shape[1] == GateHead(2, width=4).features(lr, guide, yg, ys).shape[1] + 2
    y = head(lr, guide, yg, ys)
    assert torch.all(y >= torch.minimum(yg, ys) - 1e-6) and torch.all(y <= torch.maximum(yg, ys) + 1e-6)
    ((y - torch.rand_like(y)) ** 2).mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in head.parameters())
    _stand_ins(monkeypatch)
    cfg = TrainConfig(steps=3, batch_size=6, seed=0, progress=False)
    s = GateSettings(width=8, crop=32, margin=4, per_image=6, consistency=True)
    train_gate("lmcsc", 2, out=tmp_path / "run", settings=s, config=cfg, train_pairs=_pairs(2),
               val_pairs=_pairs(1, seed=1))
    assert json.loads((tmp_path / "run" / "record.json").read_text())["meta"]["settings"]["consistency"] is True
    model, _, _ = load_run(tmp_path / "run")
    assert model.head.consistency
    saved = read_weights(tmp_path / "run" / "weights.safetensors")[0]
    assert all(torch.equal(saved["head." + k], v) for k, v in model.head.state_dict().items())


def _recurrent_run(folder, scale=2, seed=0):
    """A finished run folder of a small recurrent network, written as the Trainer writes one."""
    from mmsr.recipes import RECURRENT_SETTINGS, TRAINABLE
    from mmsr.storage import save_weights
    from mmsr.training import model_signature

    settings = dict(RECURRENT_SETTINGS["smoke"])
    torch.manual_seed(seed)
    model = TRAINABLE["recurrent"][1](scale, settings)
    folder.mkdir(parents=True)
    save_weights(folder / "weights.safetensors", model.state_dict(), model_signature(model))
    (folder / "record.json").write_text(json.dumps({"meta": {"model": "recurrent", "scale": scale,
                                                               "settings": settings}}))
    return folder


def test_a_gate_on_a_training_run_records_its_digest_and_refuses_it_once_replaced(tmp_path, monkeypatch):
    """``guided_run``: the gate freezes a run folder's network instead of the committed one; the record keeps the
    folder with its weights' digest, load_run rebuilds that network, and refuses the gate once the weights in the
    folder are replaced. A folder of another model or scale is refused before any work."""
    from mmsr.storage import read_weights, save_weights

    _stand_ins(monkeypatch)
    run = _recurrent_run(tmp_path / "candidate")
    cfg = TrainConfig(steps=3, batch_size=6, seed=0, progress=False)
    rgb = [GuidedPair(p.name, p.target, np.repeat(p.guide[..., None], 3, -1)) for p in _pairs(3)]
    train_gate("recurrent", 2, out=tmp_path / "gate", settings=SMALL, config=cfg, train_pairs=rgb[:2],
               val_pairs=rgb[2:], guided_run=run)
    meta = json.loads((tmp_path / "gate" / "record.json").read_text())["meta"]
    assert meta["guided_run"] == run.as_posix() and meta["guided_source"].startswith(run.as_posix() + "@")
    model, mode, _ = load_run(tmp_path / "gate")
    assert mode == "rgb" and type(model.guided).__name__ == "RecurrentCoupledNet"
    state, signature = read_weights(run / "weights.safetensors")
    assert all(torch.equal(model.guided.state_dict()[k], v) for k, v in state.items())
    save_weights(run / "weights.safetensors", {k: v + 1e-3 for k, v in state.items()}, signature)
    with pytest.raises(ValueError, match="they are now"):
        load_run(tmp_path / "gate")
    other = _recurrent_run(tmp_path / "x4", scale=4)
    with pytest.raises(ValueError, match="not 'recurrent' at x2"):
        train_gate("recurrent", 2, out=tmp_path / "g2", settings=SMALL, config=cfg, train_pairs=rgb[:2],
                   val_pairs=rgb[2:], guided_run=other)
    with pytest.raises(FileNotFoundError, match="not a finished training run"):
        train_gate("recurrent", 2, out=tmp_path / "g3", settings=SMALL, config=cfg, train_pairs=rgb[:2],
                   val_pairs=rgb[2:], guided_run=tmp_path / "nothing")
    assert not (tmp_path / "g2").exists() and not (tmp_path / "g3").exists()
