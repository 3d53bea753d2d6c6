import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from mmsr.metrics import psnr, quantize, rgb_to_y, ssim


@pytest.fixture
def noisy(rng):
    ref = rng.integers(0, 256, (41, 53)).astype(np.float64)  # odd sizes
    est = np.clip(ref + rng.normal(0, 7, ref.shape), 0, 255)
    return est, ref


def test_psnr_matches_skimage(noisy):
    est, ref = noisy
    assert psnr(est, ref) == pytest.approx(peak_signal_noise_ratio(ref, est, data_range=255), abs=1e-10)


def test_psnr_known_value():
    ref = np.zeros((10, 10))
    est = np.full((10, 10), 255.0 / 10)  # MSE = 25.5^2 -> PSNR = 20 dB
    assert psnr(est, ref) == pytest.approx(20.0, abs=1e-12)


def test_ssim_matches_skimage(noisy):
    est, ref = noisy
    expected = structural_similarity(est, ref, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                     data_range=255)
    assert ssim(est, ref) == pytest.approx(expected, abs=1e-10)


def test_identical_images():
    x = np.random.default_rng(0).random((20, 20)) * 255
    assert psnr(x, x) == float("inf")
    assert ssim(x, x) == pytest.approx(1.0)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="does not match"):
        psnr(np.zeros((10, 10)), np.zeros((10, 11)))


def test_crop_border_and_16bit_peak(noisy):
    est, ref = noisy
    cropped = psnr(est[4:-4, 4:-4], ref[4:-4, 4:-4])
    assert psnr(est, ref, crop_border=4) == pytest.approx(cropped)
    big = 10 * np.log10(65535.0**2 / np.mean((est - ref) ** 2))
    assert psnr(est, ref, peak=65535) == pytest.approx(big)


def test_y_channel_and_torch_input():
    rgb = np.zeros((12, 12, 3))
    assert np.allclose(rgb_to_y(rgb), 16.0)
    assert np.allclose(rgb_to_y(np.full((2, 2, 3), 255.0)), 235.0)
    t = torch.rand(1, 1, 16, 16) * 255
    assert psnr(t, t.numpy()[0, 0]) == float("inf")


def test_quantize_clips_and_rounds():
    assert np.array_equal(quantize(np.array([[-3.2, 0.4, 254.6, 300.0]])), [[0, 0, 255, 255]])
    assert quantize(np.array([[70000.0]]), bit_depth=16)[0, 0] == 65535


def test_nan_rejected():
    x = np.zeros((12, 12))
    y = x.copy()
    y[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        psnr(y, x)


def test_uniform_window_ssim_matches_skimage_default_and_data_range_is_separate(noisy):
    est, ref = noisy
    assert ssim(est, ref, window="uniform") == pytest.approx(structural_similarity(est, ref, data_range=255),
                                                             abs=1e-10)
    # the slip the papers' 0.99+ values hint at: data range 255 on images scaled to [0, 1]
    slip = ssim(est / 255, ref / 255, peak=1.0, data_range=255)
    assert slip == pytest.approx(structural_similarity(est / 255, ref / 255, data_range=255, gaussian_weights=True,
                                                       sigma=1.5, use_sample_covariance=False), abs=1e-10)
    assert slip > 0.9999 and slip > ssim(est, ref)
    with pytest.raises(ValueError, match="unknown SSIM window"):
        ssim(est, ref, window="box")


def test_bicubic_without_antialiasing_samples_the_interpolant():
    """At x2 without antialiasing each LR pixel sits halfway between two HR pixels: the cubic kernel's weights
    at distances 0.5 and 1.5 are 0.5625 and -0.0625 (Keys, a = -0.5), computed by hand."""
    from mmsr.degrade import degrade

    row = np.array([[0.0, 0.0, 0.0, 8.0, 16.0, 0.0, 0.0, 0.0]] * 4)
    out = degrade(row, 2, kind="bicubic-noaa")
    # LR pixel 1 covers HR 2..3: -0.0625*0 + 0.5625*0 + 0.5625*8 - 0.0625*16; LR pixel 2 covers HR 4..5
    assert out[0, 1] == pytest.approx(0.5625 * 8 - 0.0625 * 16)
    assert out[0, 2] == pytest.approx(-0.0625 * 8 + 0.5625 * 16)
    assert not np.allclose(out, degrade(row, 2, kind="bicubic"))  # antialiasing really differs
