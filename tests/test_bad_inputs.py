"""Bad input, library and command line, each answered at once with one clear line (no traceback, no long work
first). Machine faults (read-only folder, full disk, a busy run folder, unsafe weights) are in
``test_run_safety.py``."""
import time

import numpy as np
import pytest
import torch

from mmsr.checks import DataNotFoundError, UnreadableImageError


def one_line(excinfo) -> str:
    msg = str(excinfo.value)
    assert msg and "\n" not in msg and "Traceback" not in msg, msg
    return msg


# ------------------------------------------------------------------------------------------- library calls
def _cases():
    from mmsr.checks import check_image, check_pair, check_scale
    from mmsr.data import GuidedPair, load_epfl_nir, load_pairs
    from mmsr.degrade import degrade
    from mmsr.models import DJF
    from mmsr.models.lmcsc import LMCSCNet
    from mmsr.ops import lesita
    from mmsr.recipes import load_pretrained, train_model
    from mmsr.runtime import get_mode
    from mmsr.zeroshot import ZeroShotConfig, zero_shot_sr

    nan = np.zeros((8, 8))
    nan[3, 3] = np.nan
    inf = torch.zeros(1, 1, 8, 8)
    inf[..., 2, 2] = float("inf")
    lm = LMCSCNet(2, atoms=4, stages=1, guide_layers=1)
    return {
        "NaN in a NumPy image": (lambda: check_image(nan), ValueError, "NaN"),
        "Inf in a tensor": (lambda: check_image(inf), ValueError, "infinite"),
        "complex dtype": (lambda: check_image(np.zeros((4, 4), complex)), TypeError, "dtype"),
        "boolean tensor": (lambda: check_image(torch.zeros(4, 4, dtype=torch.bool)), TypeError, "dtype"),
        "1-D image": (lambda: check_image(np.zeros(5)), ValueError, "HxW"),
        "guide of another size": (lambda: check_pair(np.zeros((8, 8)), np.zeros((8, 9, 3))), ValueError,
                                  "does not match"),
        "scale not dividing the image": (lambda: degrade(np.zeros((10, 10)), 4), ValueError, "not divisible by"),
        "scale not an integer": (lambda: check_scale(2.5), ValueError, "positive integer"),
        "unknown degradation": (lambda: degrade(np.zeros((8, 8)), 2, kind="box"), ValueError, "unknown degradation"),
        "target with 3 channels in a pair": (lambda: GuidedPair("x", np.zeros((4, 4, 3)), np.zeros((4, 4, 3))),
                                             ValueError, "channel"),
        "LMCSC given an RGB guide": (lambda: lm(torch.rand(1, 1, 4, 4), torch.rand(1, 3, 8, 8)), ValueError,
                                     "luminance"),
        "LMCSC guide of the wrong size": (lambda: lm(torch.rand(1, 1, 4, 4), torch.rand(1, 1, 9, 8)), ValueError,
                                          "does not match"),
        "DJF guide with the wrong channels": (lambda: DJF(2, guide_channels=3)(torch.rand(1, 1, 4, 4),
                                                                                torch.rand(1, 1, 8, 8)),
                                              ValueError, "3-channel"),
        "negative threshold": (lambda: lesita(torch.ones(2), torch.zeros(2), -0.1), ValueError, "non-negative"),
        "unknown run mode": (lambda: get_mode("fast"), ValueError, "unknown run mode"),
        "unknown trainable model": (lambda: train_model("vdsr", 2, "smoke"), ValueError, "unknown trainable"),
        "unknown training setting": (lambda: train_model("srcnn", 2, "smoke", learning_rate=1), ValueError,
                                     "unknown settings"),
        "missing committed weights": (lambda: load_pretrained("djf_depth", 2), FileNotFoundError, "no committed"),
        "unknown dataset": (lambda: load_pairs("imagenet"), ValueError, "unknown dataset"),
        "unknown split": (lambda: load_epfl_nir("holdout", "."), ValueError, "unknown split"),
        "data root that is not a folder": (lambda: load_epfl_nir("test", "/no/such/folder"), DataNotFoundError,
                                           "not a directory"),
        "unknown zero-shot method": (lambda: ZeroShotConfig(method="srgan"), ValueError, "unknown zero-shot"),
        "CMSR without a guide": (lambda: zero_shot_sr(torch.rand(1, 1, 16, 16), None, 2,
                                                      ZeroShotConfig(method="cmsr", steps=1)), ValueError,
                                 "needs a guide"),
    }


CASES = list(_cases())


@pytest.mark.parametrize("case", CASES)
def test_library_refuses_bad_input_in_one_line(case):
    fn, exc, match = _cases()[case]
    t0 = time.perf_counter()
    with pytest.raises(exc, match=match) as e:
        fn()
    one_line(e)
    assert time.perf_counter() - t0 < 1.0


# ----------------------------------------------------------------------------------------------- files
@pytest.mark.parametrize("content,match", [(b"", "is empty"), (b"not an image at all", "not a readable image"),
                                           (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a readable image")])
def test_empty_or_corrupt_image_file(tmp_path, content, match):
    from mmsr.data import read_image

    f = tmp_path / "x.png"
    f.write_bytes(content)
    with pytest.raises(UnreadableImageError, match=match) as e:
        read_image(f)
    one_line(e)


# ------------------------------------------------------------------------------------------------- CLIs
def _pair(tmp_path, target_shape=(16, 20), guide_shape=(32, 40, 3)):
    from skimage.io import imsave

    rng = np.random.default_rng(0)
    imsave(tmp_path / "t.png", rng.integers(0, 255, target_shape, dtype=np.uint8), check_contrast=False)
    imsave(tmp_path / "g.png", rng.integers(0, 255, guide_shape, dtype=np.uint8), check_contrast=False)
    return str(tmp_path / "t.png"), str(tmp_path / "g.png")


@pytest.mark.parametrize("setup,args,match", [
    ("corrupt", ["--scale", "2"], "not a readable image"),
    ("rgb-target", ["--scale", "2"], "single-channel"),
    ("small-guide", ["--scale", "2"], "guide"),
    ("ok", ["--scale", "3"], "guide"),
    ("missing", ["--scale", "2"], "missing file"),
])
def test_super_resolve_cli_refuses_in_one_line_before_training(tmp_path, capsys, monkeypatch, setup, args, match):
    from mmsr import super_resolve

    monkeypatch.setattr(super_resolve, "zero_shot_sr", lambda *a, **k: pytest.fail("training started"))
    if setup == "rgb-target":
        t, g = _pair(tmp_path, (16, 20, 3))
    elif setup == "small-guide":
        t, g = _pair(tmp_path, guide_shape=(20, 20, 3))
    else:
        t, g = _pair(tmp_path)
    if setup == "corrupt":
        (tmp_path / "t.png").write_bytes(b"junk")
    if setup == "missing":
        t = str(tmp_path / "absent.png")
    rc = super_resolve.main([t, g, *args, "-o", str(tmp_path / "out.png")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("error:") and "\n" not in err and match in err, err


@pytest.mark.parametrize("argv,match", [
    (["vdsr", "--scale", "2", "--out", "x"], "invalid choice"),
    (["srcnn", "--scale", "2", "--out", "x", "--time-budget", "0"], "must be positive"),
    (["srcnn", "--scale", "2", "--out", "x", "--set", "novalue"], "KEY=VALUE"),
    (["srcnn", "--scale", "2", "--out", "x", "--mode", "fast"], "invalid choice"),
])
def test_train_cli_refuses_bad_arguments(argv, match, capsys):
    from mmsr.train import main

    with pytest.raises(SystemExit) as e:
        main(argv)
    out = str(e.value.code) + capsys.readouterr().err
    assert match in out


def test_archive_and_pack_refuse_bad_arguments(tmp_path):
    from mmsr.archive import pack, unpack
    from mmsr.data.pack import write_pack

    with pytest.raises(FileNotFoundError, match="no run folder") as e:
        pack(tmp_path / "none", tmp_path / "a.tar.gz")
    one_line(e)
    (tmp_path / "run").mkdir()
    with pytest.raises(ValueError, match=r"must end in \.tar\.gz") as e:
        pack(tmp_path / "run", tmp_path / "a.zip")
    one_line(e)
    (tmp_path / "junk.tar.gz").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a usable archive") as e:
        unpack(tmp_path / "junk.tar.gz", tmp_path / "d")
    one_line(e)
    with pytest.raises(ValueError, match="unknown pack") as e:
        write_pack("imagenet", tmp_path)
    one_line(e)


def test_experiments_refuse_unknown_table_methods_before_loading_data(tmp_path):
    from mmsr.zeroshot_experiments import run_table1

    with pytest.raises(ValueError, match="unknown Table-1 method") as e:
        run_table1(tmp_path, "smoke", [0], root="/no/such/root", methods=("srgan",))
    one_line(e)
