"""The protocol options: each against a value computed by hand or by scikit-image, and the sweep's bookkeeping."""
import numpy as np
import pytest
import torch

from mmsr import protocols as P
from mmsr.data import embedded_pairs
from mmsr.evaluate import Bicubic, prepare_inputs
from mmsr.metrics import psnr


def _pair():
    return embedded_pairs("test")[0]


def test_our_degradation_is_the_one_every_chapter_uses():
    pair = _pair()
    lr_ours = P.low_resolution(pair, 4, P.DEGRADATIONS_COMPARED[0])
    lr_lib, _, _ = prepare_inputs(pair, 4)
    assert np.allclose(lr_ours / pair.peak, lr_lib.numpy()[0, 0], atol=1e-6)
    assert np.array_equal(lr_ours, np.round(lr_ours))


def test_the_float_lr_differs_from_the_rounded_one_by_at_most_half_a_level():
    pair = _pair()
    rounded = P.low_resolution(pair, 4, P.DEGRADATIONS_COMPARED[0])
    floating = P.low_resolution(pair, 4, P.DEGRADATIONS_COMPARED[1])
    d = np.abs(rounded - np.clip(floating, 0, pair.peak))
    assert d.max() <= 0.5 + 1e-9 and d.max() > 0.01


def test_gaussian_degradation_is_blur_then_every_rth_pixel():
    from mmsr.degrade import gaussian_blur

    pair = _pair()
    deg = P.Degradation("g", "gaussian", round_lr=False, sigma=1.3)
    lr = P.low_resolution(pair, 2, deg)
    hr = torch.from_numpy(pair.target[: pair.target.shape[0] // 2 * 2, : pair.target.shape[1] // 2 * 2]
                          .astype(np.float64))[None, None]
    assert np.allclose(lr, gaussian_blur(hr, 1.3).numpy()[0, 0, ::2, ::2])


def test_measures_against_hand_values():
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 256, (40, 48)).astype(np.float64)
    est = np.clip(ref + rng.normal(0, 5, ref.shape), 0, 255)
    by = {m.name: m for m in P.MEASURES}
    q = np.clip(np.round(est), 0, 255)
    mse = lambda a, b: np.mean((a - b) ** 2)
    assert P.measure(est, ref, 4, 255.0, by["PSNR (ours)"]) == pytest.approx(10 * np.log10(255**2 / mse(q, ref)))
    assert P.measure(est, ref, 4, 255.0, by["PSNR, float output"]) == pytest.approx(
        10 * np.log10(255**2 / mse(est, ref)))
    assert P.measure(est, ref, 4, 255.0, by["PSNR, border crop r"]) == pytest.approx(
        10 * np.log10(255**2 / mse(q[4:-4, 4:-4], ref[4:-4, 4:-4])))
    assert P.measure(est, ref, 4, 255.0, by["PSNR, border crop 8 px"]) == pytest.approx(
        10 * np.log10(255**2 / mse(q[8:-8, 8:-8], ref[8:-8, 8:-8])))
    slip = P.measure(est, ref, 4, 255.0, by["PSNR, [0,1] data with peak 255"])
    assert slip - P.measure(est, ref, 4, 255.0, by["PSNR (ours)"]) == pytest.approx(20 * np.log10(255), abs=1e-9)


def test_ssim_measures_against_scikit_image():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(1)
    ref = rng.integers(0, 256, (40, 48)).astype(np.float64)
    est = np.clip(np.round(ref + rng.normal(0, 12, ref.shape)), 0, 255)
    by = {m.name: m for m in P.MEASURES}
    ours = P.measure(est, ref, 4, 255.0, by["SSIM (ours)"])
    assert ours == pytest.approx(structural_similarity(est, ref, data_range=255, gaussian_weights=True, sigma=1.5,
                                                       use_sample_covariance=False), abs=1e-6)
    assert P.measure(est, ref, 4, 255.0, by["SSIM, uniform 7x7 window"]) == pytest.approx(
        structural_similarity(est, ref, data_range=255), abs=1e-6)
    assert P.measure(est, ref, 4, 255.0, by["SSIM, [0,1] data with range 2"]) == pytest.approx(
        structural_similarity(est / 255, ref / 255, data_range=2, gaussian_weights=True, sigma=1.5,
                              use_sample_covariance=False), abs=1e-6)
    assert P.measure(est, ref, 4, 255.0, by["SSIM, [0,1] data with range 255"]) > 0.999 > ours


def test_sweep_is_resumable_and_shifts_are_relative_to_ours(tmp_path):
    pairs = embedded_pairs("test")[:2]
    methods = {"bicubic": (Bicubic(2), "gray", "formula")}
    recs = P.sweep(methods, pairs, 2, tmp_path)
    assert len(recs) == len(P.DEGRADATIONS_COMPARED) * len(pairs)
    again = P.sweep(methods, pairs, 2, tmp_path)
    assert len(again) == len(recs)                                      # nothing recomputed
    assert (tmp_path / "protocols_x2.jsonl").read_text().count("\n") == len(recs)
    sh = P.shifts(recs, 2)["bicubic"]
    assert sh[P.OURS_DEGRADATION][1] == 0.0
    ours = np.mean([r["values"]["PSNR (ours)"] for r in recs if r["degradation"] == P.OURS_DEGRADATION])
    assert sh[P.OURS_DEGRADATION][0] == pytest.approx(ours)
    assert sh["PSNR, [0,1] data with peak 255"][1] == pytest.approx(20 * np.log10(255), abs=1e-6)
    assert sh["bicubic without antialiasing"][1] != 0.0
    for pair in pairs:                                                   # the bicubic record is chapter 1's number
        rec = next(r for r in recs if r["image"] == pair.name and r["degradation"] == P.OURS_DEGRADATION)
        from mmsr.evaluate import evaluate
        assert rec["values"]["PSNR (ours)"] == pytest.approx(evaluate(Bicubic(2), [pair], 2, with_ssim=False)[0]["psnr"])


def test_cli_refuses_unknown_methods_before_loading_data(tmp_path, capsys):
    with pytest.raises(SystemExit):
        P.main(["--scale", "4", "--methods", "nope", "--out", str(tmp_path), "--root", str(tmp_path / "none")])
    assert "unknown or uncommitted methods" in capsys.readouterr().err


def test_depth_conventions_on_a_synthetic_disparity_map():
    from mmsr.data.pairs import GuidedPair

    yy, xx = np.mgrid[0:64, 0:80]
    disp = np.clip(40 + 30 * (xx > 40) + 0.3 * yy, 0, 255).astype(np.uint8)
    disp[:6, :6] = 0                                            # a hole
    pair = GuidedPair("synthetic", disp, np.zeros((64, 80, 3), np.uint8), 8, "test", "test", {})
    out = P.depth_conventions([pair], 4)
    ours = out["disparity, full image, peak 255 (ours)"][0]
    assert out["disparity, peak = largest disparity"][0] == pytest.approx(
        ours + 20 * np.log10(disp.max() / 255.0), abs=1e-9)
    assert out["disparity, holes left out"][0] != ours
    assert set(out) == {"disparity, full image, peak 255 (ours)", "disparity, holes left out",
                        "disparity, peak = largest disparity", "depth (1/disparity) scaled to 0..255"}


def test_cli_scores_a_run_folder_under_chosen_degradations_only(tmp_path):
    from mmsr.recipes import train_model

    train_model("srcnn", 2, "smoke", out_dir=tmp_path / "run", progress=False, degradation="gaussian", steps=2)
    out = tmp_path / "rec"
    assert P.main(["--scale", "2", "--methods", "", "--run", f"srcnn_gauss={tmp_path / 'run'}",
                   "--degradations", "gaussian", "--out", str(out)]) == 0
    from mmsr.records import read_records
    recs = read_records(out / "protocols_x2.jsonl")
    assert {r["method"] for r in recs} == {"srcnn_gauss"}
    assert {r["degradation"] for r in recs} == {"Gaussian blur (sigma r/2) + decimation"}
    with pytest.raises(SystemExit):
        P.main(["--scale", "2", "--degradations", "box", "--out", str(out)])
    with pytest.raises(SystemExit):
        P.main(["--scale", "2", "--run", f"x={tmp_path / 'nothing'}", "--out", str(out)])


def test_rank_agreement_is_spearman_and_tells_matching_ids_from_shuffled_ones():
    from mmsr.protocols import rank_agreement, ranks

    assert list(ranks([3.0, 1.0, 2.0, 2.0])) == [3.0, 0.0, 1.5, 1.5]
    x = [30.1, 35.2, 33.0, 31.5, 38.0, 29.0, 34.1, 36.6]
    shifted = [v + 2.5 + 0.1 * i % 0.3 for i, v in enumerate(x)]   # another protocol: offset, same order
    rho, p = rank_agreement(x, shifted, permutations=4000)
    assert rho == 1.0 and p < 0.001
    rho_rev, p_rev = rank_agreement(x, [-v for v in x], permutations=4000)
    assert rho_rev == -1.0 and p_rev > 0.99
    # against a hand-computed Spearman rho (no ties): 1 - 6 sum d^2 / (n (n^2 - 1))
    y = [1.0, 3.0, 2.0, 5.0, 4.0]
    d = ranks([1, 2, 3, 4, 5]) - ranks(y)
    assert rank_agreement([1, 2, 3, 4, 5], y, permutations=10)[0] == pytest.approx(1 - 6 * (d ** 2).sum() / (5 * 24))
    with pytest.raises(ValueError, match="same length"):
        rank_agreement([1, 2, 3], [1, 2])
