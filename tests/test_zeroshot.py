"""ZSSR / CMSR networks, the zero-shot training loop, inference refinements, the user-pair CLI and Table 1 of 003."""
import json

import numpy as np
import pytest
import torch

from mmsr.degrade import imresize, upsample_bicubic
from mmsr.models.cmsr import CMSRNet, ZSSRNet
from mmsr.recipes import zeroshot_config
from mmsr.reproduce import TABLE1_003, table1_003
from mmsr.super_resolve import UnusableInputError, main as cli_main, prepare_pair
from mmsr.zeroshot import (ZeroShotConfig, ZeroShotMethod, back_project, predict,
                           random_patch_points, stage_scales, training_batch, zero_shot_sr)
from mmsr.records import has_record, read_records
from mmsr.zeroshot_experiments import summarise
from mmsr.ops.warps import DeformationStack


def smooth_pair(h=21, w=27, scale=4, seed=0):
    """A smooth odd-sized target and a guide that shares its edges (a 3-channel copy plus texture)."""
    g = torch.Generator().manual_seed(seed)
    hr = torch.nn.functional.interpolate(torch.rand(1, 1, h // 3 + 1, w // 3 + 1, generator=g), size=(h * scale, w * scale),
                                         mode="bicubic", align_corners=False).clamp(0, 1)
    guide = torch.cat((hr, 1 - hr, 0.5 * hr + 0.25 * torch.rand(1, 1, h * scale, w * scale, generator=g)), 1)
    lr = imresize(hr, output_shape=(h, w))
    return lr, guide, hr


SMOKE = zeroshot_config("cmsr", "smoke")


def test_untrained_networks_start_near_bicubic():
    lr, guide, _ = smooth_pair()
    up = upsample_bicubic(lr, 4)
    torch.manual_seed(0)
    assert (ZSSRNet(4, 8, 3)(lr) - up).abs().max() < 0.02
    assert (CMSRNet(4, 3, 8, 3, 8, 2)(lr, guide) - up).abs().max() < 0.02


def test_zssr_does_not_use_alternating_scales():
    assert zeroshot_config("zssr", "default", alternating_p=0.3).alternating_p == 0.3  # explicit wins
    assert zeroshot_config("zssr", "default").alternating_p == 0.0
    assert zeroshot_config("zssr", "default").gradual and not zeroshot_config("cmsr", "default").gradual



def test_cmsr_checks_the_guide():
    lr, guide, _ = smooth_pair()
    net = CMSRNet(4, 3, 8, 3, 8, 2)
    with pytest.raises(ValueError, match="3 channels"):
        net(lr, guide[:, :1])
    with pytest.raises(ValueError, match="not 4 x the target"):
        net(lr, guide[..., :-4])


def test_cmsr_branches_sum_to_the_output():
    lr, guide, _ = smooth_pair()
    net = CMSRNet(4, 3, 8, 3, 8, 2)
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.1)
    up, r1, r2 = net.branches(lr, guide)
    assert torch.allclose(up + r1 + r2, net(lr, guide), atol=1e-6)


@pytest.mark.parametrize("upsampling", [False, True])
def test_training_batch_shapes_and_gradient_to_the_deformation(upsampling):
    lr, guide, _ = smooth_pair(33, 41)
    cfg = ZeroShotConfig(patch=16, batch=3)
    deform = DeformationStack(("affine",))
    gen = torch.Generator().manual_seed(0)
    son, g, gt = training_batch(lr, guide, deform, 4, cfg, upsampling, gen)
    assert gt.shape == (3, 1, 16, 16) and g.shape == (3, 3, 16, 16) and son.shape == (3, 1, 4, 4)
    net = CMSRNet(4, 3, 8, 3, 8, 2)
    torch.nn.init.normal_(net.fe2[-1].weight, std=0.1)
    (net(son, g) - gt).abs().mean().backward()
    assert deform.affine.theta.grad is not None and deform.affine.theta.grad.abs().sum() > 0


@pytest.mark.parametrize("upsampling", [False, True])
def test_training_batch_target_and_guide_patches_line_up(upsampling):
    """Channel 0 of the guide is the HR target itself: every guide patch must show the same content as its
    ground-truth patch (also under rotation, shear and magnification), and a shifted guide must not."""
    lr, guide, _ = smooth_pair(40, 48)
    cfg = ZeroShotConfig(patch=16, batch=6, max_rotation=20)
    gen = torch.Generator().manual_seed(3)
    _, g, gt = training_batch(lr, guide, DeformationStack(()), 4, cfg, upsampling, gen)
    err = (g[:, :1] - gt).abs().mean()
    spread = (gt - gt.mean()).abs().mean()
    assert err < 0.25 * spread, (float(err), float(spread))
    shifted = torch.roll(guide, shifts=(12, 12), dims=(-2, -1))
    _, g2, gt2 = training_batch(lr, shifted, DeformationStack(()), 4, cfg, upsampling,
                                torch.Generator().manual_seed(3))
    assert (g2[:, :1] - gt2).abs().mean() > 2 * err


def test_patch_points_stay_inside_the_frame():
    cfg = ZeroShotConfig(max_rotation=10, scale_range=(0.8, 1.0))
    pts = random_patch_points(64, 24, 1.0, (60, 80), cfg, torch.Generator().manual_seed(1), "cpu")
    assert pts.shape == (64, 24, 24, 2)
    assert pts.abs().max() <= 1.0


def test_unaugmented_patch_is_an_exact_crop():
    """With no continuous augmentation the sampled target patch is a crop of the image (possibly flipped/rotated)."""
    lr = torch.arange(40 * 48, dtype=torch.float32).reshape(1, 1, 40, 48)
    cfg = ZeroShotConfig(patch=8, batch=4, max_rotation=0.0, max_shear=0.0, scale_range=(1.0, 1.0), alternating_p=0)
    _, _, gt = training_batch(lr, None, None, 2, cfg, False, torch.Generator().manual_seed(3))
    values = set(lr.flatten().tolist())
    assert all(abs(v - round(v)) < 1e-3 and round(v) in values for v in gt.flatten().tolist())


def test_back_projection_makes_the_estimate_consistent():
    lr, _, hr = smooth_pair()
    est = upsample_bicubic(lr, 4) + 0.05 * torch.rand_like(hr)
    err = lambda e: float((imresize(e, output_shape=lr.shape[-2:]) - lr).abs().mean())  # noqa: E731
    assert err(back_project(est, lr, 10)) < 0.2 * err(est)


def test_self_ensemble_of_an_equivariant_model_changes_nothing():
    lr, guide, _ = smooth_pair()

    def net(x, g, s):  # bicubic + a pointwise guide term: equivariant iff the guide turns with the target
        return upsample_bicubic(x, s) + 0.3 * g[:, :1] - 0.1 * g[:, 2:]

    plain = predict(net, lr, guide, 4, self_ensemble=False)
    assert torch.allclose(predict(net, lr, guide, 4, self_ensemble=True), plain, atol=1e-5)

    def careless(x, g, s):  # what a self-ensemble that forgot to turn the guide would compute
        return net(x, guide if g.shape[-2:] == guide.shape[-2:] else guide.transpose(-1, -2), s)

    assert not torch.allclose(predict(careless, lr, guide, 4, self_ensemble=True), plain, atol=1e-3)


def test_stage_scales():
    assert stage_scales(4, False) == [4]
    assert stage_scales(4, True) == [2, 2]
    assert stage_scales(8, True) == [2, 2, 2]
    assert stage_scales(3, True) == [3]


def test_zero_shot_runs_are_deterministic_and_seeded():
    lr, guide, _ = smooth_pair()
    a = zero_shot_sr(lr, guide, 4, SMOKE).output
    b = zero_shot_sr(lr, guide, 4, SMOKE).output
    c = zero_shot_sr(lr, guide, 4, SMOKE, seed=5).output
    assert a.shape == (1, 1, 84, 108) and torch.isfinite(a).all()
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_cmsr_learns_from_a_guide_on_a_toy_pair():
    """On a pair whose guide carries the target's detail, a short CMSR run beats bicubic and ZSSR."""
    lr, guide, hr = smooth_pair(24, 24, 2, seed=3)
    # add fine detail to both the target and the guide that the LR cannot show
    g = torch.Generator().manual_seed(9)
    detail = (torch.rand(1, 1, 48, 48, generator=g) > 0.5).float() * 0.2
    hr = (hr + detail).clamp(0, 1)
    guide = torch.cat((hr, hr, hr), 1)
    lr = imresize(hr, output_shape=(24, 24))
    cfg = ZeroShotConfig(width=16, depth=3, fe2_width=16, fe2_depth=2, batch=4, patch=16, steps=300, lr=3e-3,
                         deformation=(), register=False, self_ensemble=False, bp_iters=0, alternating_p=0.0,
                         max_rotation=0.0)
    mse = lambda x: float(((x - hr) ** 2).mean())  # noqa: E731
    cm = zero_shot_sr(lr, guide, 2, cfg).output
    zs = zero_shot_sr(lr, None, 2, cfg, method="zssr").output
    assert mse(cm) < 0.7 * mse(upsample_bicubic(lr, 2))
    assert mse(cm) < 0.7 * mse(zs)


@pytest.mark.parametrize("kwargs,match", [
    ({"guide": None}, "needs a guide"),
    ({"guide_crop": True}, "must be scale x the target"),
    ({"patch": 10}, "divisible"),
])
def test_zero_shot_refuses_bad_input(kwargs, match):
    lr, guide, _ = smooth_pair()
    if kwargs.get("guide_crop"):
        guide = guide[..., :-1]
    if "guide" in kwargs:
        guide = kwargs["guide"]
    with pytest.raises(ValueError, match=match):
        zero_shot_sr(lr, guide, 4, SMOKE, patch=kwargs.get("patch", SMOKE.patch))


def test_config_validation():
    with pytest.raises(ValueError, match="unknown zero-shot method"):
        ZeroShotConfig(method="edsr")
    with pytest.raises(ValueError, match="alternating_p"):
        ZeroShotConfig(alternating_p=1.5)


def test_zero_shot_method_plugs_into_evaluate():
    from mmsr.data.embedded import embedded_pairs
    from mmsr.evaluate import evaluate

    pair = embedded_pairs("test")[0]
    rows = evaluate(ZeroShotMethod(SMOKE, 4), [pair], 4, guide_mode="rgb")
    assert np.isfinite(rows[0]["psnr"]) and rows[0]["psnr"] > 20


# ------------------------------------------------------------------------------------------------ user pairs
def write(path, arr):
    from skimage.io import imsave

    imsave(path, arr, check_contrast=False)
    return path


def test_cli_writes_the_super_resolved_target(tmp_path):
    rng = np.random.default_rng(0)
    t = write(tmp_path / "t.png", (rng.random((20, 24)) * 255).astype(np.uint8))
    g = write(tmp_path / "g.png", (rng.random((80, 96, 3)) * 255).astype(np.uint8))
    out = tmp_path / "out.png"
    assert cli_main([str(t), str(g), "--scale", "4", "-o", str(out), "--mode", "smoke", "--device", "cpu"]) == 0
    from skimage.io import imread

    res = imread(out)
    assert res.shape == (80, 96) and res.dtype == np.uint8


def test_cli_reports_unusable_inputs(tmp_path, capsys):
    rng = np.random.default_rng(0)
    t = write(tmp_path / "t.png", (rng.random((20, 24)) * 255).astype(np.uint8))
    g = write(tmp_path / "g.png", (rng.random((60, 72, 3)) * 255).astype(np.uint8))
    assert cli_main([str(t), str(g), "--scale", "4", "-o", str(tmp_path / "o.png"), "--mode", "smoke"]) == 2
    assert "must be 4 x the target" in capsys.readouterr().err
    assert cli_main([str(tmp_path / "missing.png"), str(g), "--scale", "4", "-o", "o.png"]) == 2
    assert "missing file" in capsys.readouterr().err


def test_prepare_pair_conversions():
    rng = np.random.default_rng(0)
    grey3 = np.repeat((rng.random((20, 24, 1)) * 255).astype(np.uint8), 3, 2)
    guide = (rng.random((60, 72, 3)) * 255).astype(np.uint8)
    lr, g, peak, dtype = prepare_pair(grey3, guide, 3)
    assert lr.shape == (1, 1, 20, 24) and g.shape == (1, 3, 60, 72) and peak == 255 and dtype == np.uint8
    lr16, _, peak16, _ = prepare_pair((rng.random((20, 24)) * 65535).astype(np.uint16), guide, 3)
    assert peak16 == 65535 and float(lr16.max()) <= 1
    _, g2, _, _ = prepare_pair(grey3[..., 0], guide[:59, :71], 3, fit_guide=True)
    assert g2.shape == (1, 3, 60, 72)
    with pytest.raises(UnusableInputError, match="single-channel"):
        prepare_pair(guide[:20, :24], guide, 3)
    with pytest.raises(UnusableInputError, match="too small"):
        prepare_pair(grey3[:8, :8, 0], guide[:24, :24], 3)


# ---------------------------------------------------------------------------------------------- Table 1 of 003
def test_table1_003_labels_reported_values_and_missing_datasets():
    text = table1_003({"CMSR": {"NIR": {"mean": 33.0, "std": 0.2}}})
    reported_block, ours_block = text.split("**Computed here")
    assert "| CMSR | 29.928 | 28.652 | 31.201 |" in reported_block and "NIR (reported)" in reported_block
    assert "| CMSR | not available | not available | not available | 33.00 ± 0.20 |" in ours_block
    assert "NIR (ours)" in ours_block and "VT (ours; substitute for U-VT)" in ours_block
    assert "| VT (reported)" not in reported_block  # the substitute has no reported column
    assert text.count("not available") == 3  # U-VT, VT and SMB
    assert TABLE1_003["psnr"]["NIR"][0] == 28.807


def test_summarise_averages_images_then_seeds(tmp_path):
    recs = [{"method": "cmsr", "dataset": "NIR", "seed": s, "image": i, "psnr": 30 + s + i}
            for s in (0, 1) for i in (0, 2)]
    out = summarise(recs)["cmsr"]["NIR"]
    assert out["mean"] == pytest.approx(31.5) and out["std"] == pytest.approx(np.std([31, 32], ddof=1))
    assert out["n_seeds"] == 2 and out["n_images"] == 2
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    back = read_records(path)
    assert has_record(back, method="cmsr", seed=1, image=2) and not has_record(back, method="zssr")


def test_table1_methods_and_deepjf_weights(tmp_path):
    from mmsr.models import DJF
    from mmsr.recipes import pretrained_guide_mode, pretrained_path
    from mmsr.zeroshot_experiments import TABLE1_METHODS, deepjf_for, run_table1

    assert TABLE1_METHODS["zssr-8x64"] == ("zssr", {"width": 64, "depth": 8})
    with pytest.raises(ValueError, match="unknown Table-1 method"):
        run_table1(tmp_path, "smoke", [0], methods=("nope",))
    assert deepjf_for("U-VT") is None  # no DeepJF for ULB17-VT (not available here)
    from mmsr.recipes import TRAINABLE
    from mmsr.zeroshot_experiments import LEARNED_WEIGHTS, learned_for

    for method, per_set in LEARNED_WEIGHTS.items():
        for dataset, name in per_set.items():
            assert name in TRAINABLE, name
            got = learned_for(method, dataset)
            assert (got is None) == (not pretrained_path(name, 4).is_file())
            if got is not None:  # the guide the model was trained with (its record's)
                assert got[1] == pretrained_guide_mode(name, 4)
    assert learned_for("vtsrcnn", "U-VT") is None
    for dataset, name, gm in (("NIR", "djf", "rgb"), ("SMB", "djf_depth", "gray")):
        got = deepjf_for(dataset)
        if not pretrained_path(name, 4).is_file():
            assert got is None
            continue
        model, guide_mode, extra = got
        assert isinstance(model, DJF) and guide_mode == gm
        assert extra["weights"]["file"] == f"mmsr/weights/{name}_x4.safetensors" and extra["weights"]["steps"] > 0


def test_ablation_summary_averages_images_within_a_run_then_runs():
    from mmsr.zeroshot_experiments import ablation_summary

    recs = [{"variant": v, "seed": seed, "image": im, "psnr": base + seed + k}
            for v, base in (("p=0.3", 30.0), ("p=0", 31.0), ("p=1", 29.0))
            for seed in (0, 2) for k, im in enumerate(("a", "b"))]
    out = ablation_summary(recs)
    assert list(out) == ["p=0", "p=0.3", "p=1"]                       # numeric order, not string order
    assert out["p=0"] == {"mean": 32.5, "spread": 1.0, "runs": 2, "images": 2}   # runs 31.5 and 33.5
    kept = ablation_summary(recs, order=["p=1", "missing", "p=0"])
    assert list(kept) == ["p=1", "p=0"]
