import numpy as np
import pytest
import torch

from mmsr.degrade import (cubic, decimate, degrade, gaussian_blur, gaussian_kernel, imresize, modcrop,
                          resize_matrix, upsample_bicubic)


def test_cubic_kernel_values():
    # Keys (a=-0.5) at hand-computed points: k(0)=1, k(1)=k(2)=0, k(0.5)=0.5625, k(1.5)=-0.0625
    t = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, -0.5])
    assert np.allclose(cubic(t), [1.0, 0.5625, 0.0, -0.0625, 0.0, 0.0, 0.5625])


def test_x2_downscale_weights_table():
    # MATLAB imresize(..., 0.5): kernel 0.5*k(t/2) at offsets +-0.5, +-1.5, +-2.5, +-3.5, derived by hand:
    # k(0.25)=0.8671875, k(0.75)=0.2265625, k(1.25)=-0.0703125, k(1.75)=-0.0234375, halved.
    expected = np.array([-0.01171875, -0.03515625, 0.11328125, 0.43359375,
                         0.43359375, 0.11328125, -0.03515625, -0.01171875])
    m = resize_matrix(16, 8)
    assert np.allclose(m[3, 3:11], expected, atol=0, rtol=1e-12)
    assert np.allclose(m.sum(1), 1.0)


def test_x2_upscale_of_ramp_matches_matlab():
    # MATLAB: imresize(1:8, [1 16]) -- interior samples lie on the line u = x/2 + 1/4; borders mirror.
    out = imresize(np.arange(1, 9, dtype=np.float64)[None].repeat(3, 0), output_shape=(3, 16))[0]
    expected = [0.90625, 1.1796875, 1.7265625, 2.25, 2.75, 3.25, 3.75, 4.25, 4.75, 5.25, 5.75, 6.25, 6.75,
                7.2734375, 7.8203125, 8.09375]
    assert np.allclose(out, expected, atol=1e-12)


def test_downscale_of_ramp_interior_is_linear():
    x = np.arange(1, 33, dtype=np.float64)[None].repeat(4, 0)
    out = imresize(x, output_shape=(4, 16))[0]
    # output sample j (1-based) sits at u = 2j - 1/2; the kernel reproduces linear functions away from borders
    j = np.arange(1, 17)
    assert np.allclose(out[3:-3], (2 * j - 0.5)[3:-3], atol=1e-12)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_constant_survives_down_and_up(scale):
    x = np.full((24, 36), 117.0)
    lr = degrade(x, scale)
    assert lr.shape == (24 // scale, 36 // scale)
    assert np.allclose(lr, 117.0)
    assert np.allclose(upsample_bicubic(lr, scale), 117.0)


def test_torch_matches_numpy_and_is_differentiable(rng):
    x = rng.random((3, 37, 29))  # odd sizes on purpose
    t = torch.tensor(x, requires_grad=True)
    out_t = imresize(t, output_shape=(20, 15))
    out_n = np.stack([imresize(x[c], output_shape=(20, 15)) for c in range(3)])
    assert np.allclose(out_t.detach().numpy(), out_n, atol=1e-12)
    out_t.sum().backward()
    assert t.grad is not None and torch.isfinite(t.grad).all()


def test_uint8_rounds_and_clips_like_matlab():
    x = np.zeros((8, 8), np.uint8)
    x[:, 4:] = 255
    y = imresize(x, output_shape=(8, 16))
    assert y.dtype == np.uint8
    ref = np.clip(np.round(imresize(x.astype(np.float64), output_shape=(8, 16))), 0, 255)
    assert np.array_equal(y, ref)


def test_rgb_channels_resized_independently(rng):
    x = rng.random((20, 30, 3))
    y = imresize(x, 0.5)
    for c in range(3):
        assert np.allclose(y[..., c], imresize(x[..., c], 0.5))


def test_modcrop_and_errors():
    x = np.zeros((37, 29))
    assert modcrop(x, 4).shape == (36, 28)
    assert modcrop(torch.zeros(1, 37, 29), 3).shape == (1, 36, 27)
    with pytest.raises(ValueError, match="not divisible by scale 4"):
        degrade(x, 4)
    with pytest.raises(ValueError, match="positive integer"):
        degrade(np.zeros((8, 8)), 0)
    with pytest.raises(ValueError, match="positive integer"):
        modcrop(x, 2.5)
    bad = np.zeros((8, 8))
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        imresize(bad, 0.5)
    with pytest.raises(TypeError, match="dtype"):
        imresize(np.zeros((8, 8), dtype=bool), 0.5)
    with pytest.raises(ValueError, match="exactly one"):
        imresize(np.zeros((8, 8)))


def test_gaussian_blur_and_decimate():
    k = gaussian_kernel(1.0)
    assert k.shape == (7, 7) and torch.isclose(k.sum(), torch.tensor(1.0, dtype=k.dtype))
    x = torch.full((1, 16, 16), 3.0)
    assert torch.allclose(gaussian_blur(x, 1.2), x)
    y = degrade(torch.rand(2, 16, 20), 4, kind="gaussian")
    assert y.shape == (2, 4, 5)
    assert torch.equal(decimate(torch.arange(16.0).reshape(4, 4), 2), torch.tensor([[0.0, 2.0], [8.0, 10.0]]))
    with pytest.raises(ValueError, match="unknown degradation"):
        degrade(np.zeros((8, 8)), 2, kind="box")


def test_gaussian_degradation_of_numpy_images_matches_the_tensor_path_and_rounds_integers():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (24, 32)).astype(np.uint8)
    ref = degrade(torch.from_numpy(img.astype(np.float64)), 4, kind="gaussian", sigma=1.5).numpy()
    out = degrade(img, 4, kind="gaussian", sigma=1.5)
    assert out.dtype == np.uint8 and np.array_equal(out, np.clip(np.round(ref), 0, 255).astype(np.uint8))
    f = degrade(img.astype(np.float32), 4, kind="gaussian", sigma=1.5)
    assert f.dtype == np.float32 and np.allclose(f, ref, atol=1e-4)
    rgb = rng.uniform(0, 1, (24, 32, 3))
    col = degrade(rgb, 4, kind="gaussian")
    assert col.shape == (6, 8, 3)
    assert np.allclose(col[..., 1], degrade(rgb[..., 1], 4, kind="gaussian"))
