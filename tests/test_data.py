import shutil

import numpy as np
import pytest

from mmsr.checks import DataNotFoundError
from mmsr.data import (EPFL_NIR_TEST, GuidedPair, PatchSampler, embedded_pairs, load_cave, load_epfl_nir,
                       load_middlebury2005, load_pairs, nir_pairs)
from mmsr.data.embedded import pseudo_nir
from mmsr.degrade import degrade, modcrop


def test_embedded_default_needs_no_data():
    train, source = nir_pairs("train")
    test, _ = nir_pairs("test")
    assert source == "embedded"
    assert {p.name for p in train}.isdisjoint({p.name for p in test})
    moto = [p for p in test if p.name == "motorcycle"][0]
    assert moto.target.dtype == np.uint8 and moto.guide.shape == moto.target.shape + (3,)
    assert moto.meta["filled"] > 0  # the non-finite disparities were filled


def test_pseudo_nir_is_documented_formula():
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[..., 1] = 255  # pure green: 0.25 + 0.9 + 0.4 -> clipped to 1
    out = pseudo_nir(rgb)
    assert out.dtype == np.uint8 and out.max() <= 255 and out[0, 0] == 255


def test_pair_rejects_bad_input():
    with pytest.raises(ValueError, match="does not match"):
        GuidedPair("x", np.zeros((10, 10), np.uint8), np.zeros((10, 12, 3), np.uint8))
    with pytest.raises(ValueError, match="channel"):
        GuidedPair("x", np.zeros((10, 10, 3), np.uint8), np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(ValueError, match="channel"):
        GuidedPair("x", np.zeros((10, 10), np.uint8), np.zeros((10, 10, 2), np.uint8))
    bad = np.zeros((10, 10))
    bad[2, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        GuidedPair("x", bad, np.zeros((10, 10, 3)))
    with pytest.raises(TypeError, match="dtype"):
        GuidedPair("x", np.zeros((10, 10), dtype=complex), np.zeros((10, 10, 3)))


def test_unknown_dataset_and_missing_root(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'nope'"):
        load_pairs("nope")
    with pytest.raises(DataNotFoundError, match="MMSR_DATA"):
        load_epfl_nir("test")
    with pytest.raises(DataNotFoundError, match="nirscene1"):
        load_epfl_nir("test", tmp_path)
    with pytest.raises(DataNotFoundError, match="not a directory"):
        load_epfl_nir("test", tmp_path / "absent")


def test_missing_file_is_named(tmp_path):
    (tmp_path / "nirscene1" / "urban").mkdir(parents=True)
    with pytest.raises(DataNotFoundError, match=r"0004_nir\.tiff.*nirscene1"):
        load_epfl_nir("test", tmp_path)


def test_patches_are_aligned_and_deterministic():
    pairs = embedded_pairs("train")[:2]
    s = PatchSampler(pairs, 4, 32, guide="gray", augment=False)
    a, b = s.sample(6, seed=3), s.sample(6, seed=3)
    assert np.array_equal(a.hr.numpy(), b.hr.numpy()) and np.array_equal(a.source, b.source)
    assert a.lr.shape == (6, 1, 8, 8) and a.guide.shape == (6, 1, 32, 32) and a.hr.shape == (6, 1, 32, 32)
    for k in range(6):
        i, y, x = a.source[k]
        hr = modcrop(pairs[i].target, 4)
        assert np.allclose(a.hr[k, 0].numpy() * 255, hr[y:y + 32, x:x + 32])
        lr_full = degrade(hr, 4)
        assert np.allclose(a.lr[k, 0].numpy() * 255, lr_full[y // 4:y // 4 + 8, x // 4:x // 4 + 8], atol=1e-4)
    with pytest.raises(ValueError, match="not divisible"):
        PatchSampler(pairs, 3, 32)


@pytest.mark.shared_data
def test_epfl_splits_on_shared_layout(shared_data):
    test = load_epfl_nir("test", shared_data)
    assert [p.name for p in test] == list(EPFL_NIR_TEST)
    train = load_epfl_nir("train", shared_data)
    assert len(train) == 20  # 21 CDLSR training images less the duplicate of urban_0017
    val = load_epfl_nir("val", shared_data)
    rest = load_epfl_nir("train-minus-val", shared_data)
    assert {p.name for p in val}.isdisjoint({p.name for p in rest}) and len(val) + len(rest) == len(train)
    half = load_epfl_nir("train-half", shared_data)   # the data-quantity question: half, validation still held out
    assert [p.name for p in half] == [p.name for p in rest][::2] and len(half) == 9
    test_prints = {p.fingerprint() for p in test}
    for split in ("train", "val", "train-minus-val"):
        assert not test_prints & {p.fingerprint() for p in load_epfl_nir(split, shared_data)}


@pytest.mark.shared_data
def test_no_test_image_can_enter_training_in_publisher_layout(shared_data, tmp_path):
    """Build a publisher-layout tree in which a test image also appears under another training name."""
    src = shared_data / "epfl_rgbnir" / "Test_RGB_NIR"
    for name in EPFL_NIR_TEST:
        cat, idx = name.rsplit("_", 1)
        (tmp_path / "nirscene1" / cat).mkdir(parents=True, exist_ok=True)
        for m in ("rgb", "nir"):
            shutil.copy(src / f"{idx}_{m}.tiff", tmp_path / "nirscene1" / cat / f"{idx}_{m}.tiff")
    (tmp_path / "nirscene1" / "street").mkdir()
    for m in ("rgb", "nir"):  # the test image urban_0006 disguised as street_0099
        shutil.copy(src / f"0006_{m}.tiff", tmp_path / "nirscene1" / "street" / f"0099_{m}.tiff")
        shutil.copy(shared_data / "epfl_rgbnir" / "Train_RGB_NIR" / f"0003_{m}.tiff",
                    tmp_path / "nirscene1" / "street" / f"0100_{m}.tiff")
    assert [p.name for p in load_epfl_nir("test", tmp_path)] == list(EPFL_NIR_TEST)
    assert [p.name for p in load_epfl_nir("train", tmp_path)] == ["street_0100"]


def test_cave_training_splits_never_hold_a_test_scene(monkeypatch, tmp_path):
    from mmsr.data import datasets as ds

    names = ["balloons", "beads", "cd", "fake_and_real_peppers", "stuffed_toys", "feathers", "cloth"]
    fake = [GuidedPair(n, np.zeros((8, 8), np.uint16), np.zeros((8, 8, 3), np.uint8), 16, "cave", "train")
            for n in names]   # a test scene slipped into the training folder must still be dropped
    monkeypatch.setattr(ds, "load_cave", lambda split, root=None: fake)
    got = {split: [p.name for p in ds.cave_pairs(split, tmp_path)[0]] for split in ("train", "train-minus-val", "val")}
    assert got["val"] == sorted(ds.CAVE_VAL_SCENES)
    assert got["train-minus-val"] == ["balloons", "cd"]
    assert set(got["train"]) == set(got["val"]) | set(got["train-minus-val"])
    assert not set(got["train"]) & set(ds.CAVE_TEST)
    assert ds.cave_pairs("val", tmp_path)[1] == "cave"
    with pytest.raises(ValueError, match="unknown CAVE training split"):
        ds.cave_pairs("test", tmp_path)


@pytest.mark.shared_data
def test_cave_training_splits_on_the_real_data(shared_data):
    from mmsr.data.datasets import CAVE_TEST, CAVE_VAL_SCENES, cave_pairs

    train, _ = cave_pairs("train-minus-val", shared_data)
    val, _ = cave_pairs("val", shared_data)
    assert len(train) == 17 and sorted(p.name for p in val) == sorted(CAVE_VAL_SCENES)
    assert not {p.name for p in train} & ({p.name for p in val} | set(CAVE_TEST))
    assert all(p.bit_depth == 16 and p.guide.ndim == 3 for p in train + val)


@pytest.mark.shared_data
def test_other_real_loaders(shared_data):
    cave = load_cave("test", shared_data)
    assert len(cave) == 8 and all(p.bit_depth == 16 and p.target.dtype == np.uint16 for p in cave)
    assert len(load_cave("train", shared_data)) == 20
    mb = load_middlebury2005("test", shared_data)
    assert [p.name for p in mb] == ["art", "books", "dolls", "laundry", "moebius", "reindeer"]
    art = mb[0]
    assert art.target.shape == (1088, 1376) and art.guide.shape == (1088, 1376, 3)
    country = load_epfl_nir("country", shared_data)
    assert len(country) == 52


@pytest.mark.shared_data
def test_depth_training_pairs_are_disjoint_from_the_2005_test_scenes(shared_data):
    from mmsr.data.datasets import DEPTH_TRAIN, MIDDLEBURY_SCENES, load_depth_training

    train = load_depth_training("train", shared_data)
    val = load_depth_training("val", shared_data)
    assert [p.name for p in train] == list(DEPTH_TRAIN["train"]) and [p.name for p in val] == list(DEPTH_TRAIN["val"])
    assert not {p.name for p in train + val} & set(MIDDLEBURY_SCENES)
    for p in train + val:
        assert p.target.dtype == np.uint8 and p.target.shape == p.guide.shape[:2]
    with pytest.raises(ValueError, match="unknown split"):
        load_depth_training("test", shared_data)


def test_depth_training_reports_missing_data(tmp_path):
    from mmsr.checks import DataNotFoundError
    from mmsr.data.datasets import load_depth_training

    with pytest.raises(DataNotFoundError, match="no depth training pairs"):
        load_depth_training("train", tmp_path)


def test_guide_augmentation_changes_only_guides_and_only_when_asked():
    pairs = embedded_pairs("train")[:2]
    plain = PatchSampler(pairs, 4, 32, guide="rgb", augment=False).sample(40, seed=5)
    # probability 0 draws nothing extra: the same patches as a sampler without the option (committed runs stay
    # reproducible)
    zero = PatchSampler(pairs, 4, 32, guide="rgb", augment=False, guide_augment=0.0).sample(40, seed=5)
    assert np.array_equal(plain.guide.numpy(), zero.guide.numpy())
    aug = PatchSampler(pairs, 4, 32, guide="rgb", augment=False, guide_augment=1.0)
    a, b = aug.sample(40, seed=5), aug.sample(40, seed=5)
    assert np.array_equal(a.guide.numpy(), b.guide.numpy())   # deterministic per seed
    altered = 0
    for k in range(40):   # the target and LR patches are the crops at their recorded place; only guides change
        i, y, x = a.source[k]
        hr = modcrop(pairs[i].target, 4)
        assert np.allclose(a.hr[k, 0].numpy() * 255, hr[y:y + 32, x:x + 32])
        assert np.allclose(a.lr[k, 0].numpy() * 255, degrade(hr, 4)[y // 4:y // 4 + 8, x // 4:x // 4 + 8], atol=1e-4)
        crop = np.moveaxis(modcrop(pairs[i].guide, 4)[y:y + 32, x:x + 32], -1, 0) / 255.0
        altered += not np.allclose(a.guide[k].numpy(), crop, atol=1e-6)
        assert a.guide[k].min() >= 0 and a.guide[k].max() <= 1
    assert altered >= 36   # every guide altered at probability 1 (a permutation may leave a grey patch as it was)
    with pytest.raises(ValueError, match="probability"):
        PatchSampler(pairs, 4, 32, guide_augment=1.5)


def test_disagreeing_guide_kinds():
    from mmsr.data.patches import disagreeing_guide

    g = np.random.default_rng(0).uniform(0, 1, (3, 16, 16))
    seen = set()
    for seed in range(60):
        out = disagreeing_guide(g, np.random.default_rng(seed))
        assert out.shape == g.shape and out.min() >= 0 and out.max() <= 1
        if np.allclose(out, 1 - g):
            seen.add("invert")
        elif np.allclose(np.sort(out, axis=0), np.sort(g, axis=0)) and not np.allclose(out, g):
            seen.add("permute")
        elif np.any(np.isclose(out, 1 - g).all(0)) and np.any(np.isclose(out, g).all(0)):
            seen.add("invert half")
        else:   # a monotone map of every pixel: the order of values is kept
            order = np.argsort(g.ravel())
            assert np.all(np.diff(out.ravel()[order]) >= -1e-12)
            seen.add("gamma")
    assert seen == {"invert", "permute", "invert half", "gamma"}
    grey = disagreeing_guide(g[:1], np.random.default_rng(3))
    assert grey.shape == (1, 16, 16)


def test_country_split_is_fixed_and_trains_on_at_most_half():
    """The issue's rule: at most half of ``country`` trained on, the split fixed by id, unknown ids held out."""
    from mmsr.data.datasets import EPFL_COUNTRY_TRAIN_IDS, EPFL_COUNTRY_VAL_IDS, country_part

    ids = [f"{i:04d}" for i in range(52)]
    parts = [country_part(f"country_{i}") for i in ids]
    assert (parts.count("train"), parts.count("val"), parts.count("heldout")) == (20, 6, 26)
    assert parts.count("train") + parts.count("val") <= len(ids) // 2
    assert not set(EPFL_COUNTRY_TRAIN_IDS) & set(EPFL_COUNTRY_VAL_IDS)
    assert country_part("country_0007") == "heldout" and country_part("country_0070") == "heldout"
    assert country_part("country_0002") == "train" and country_part("country_0010") == "val"


@pytest.mark.shared_data
def test_country_parts_on_the_real_data(shared_data):
    from mmsr.data.datasets import country_part

    country = load_epfl_nir("country", shared_data)
    parts = {s: load_epfl_nir(f"country-{s}", shared_data) for s in ("train", "val", "heldout")}
    assert sum(len(v) for v in parts.values()) == len(country) == 52
    assert len(parts["heldout"]) >= len(country) // 2
    for s, pairs in parts.items():
        assert all(country_part(p.name) == s and p.split == f"country-{s}" for p in pairs)
    mixed = load_epfl_nir("train+country", shared_data)
    assert [p.name for p in mixed] == ([p.name for p in load_epfl_nir("train-minus-val", shared_data)]
                                       + [p.name for p in parts["train"]])
    val = {p.name for p in load_epfl_nir("val+country", shared_data)}
    assert val == {p.name for p in load_epfl_nir("val", shared_data) + parts["val"]}
    assert not val & {p.name for p in mixed}


def test_patch_sampler_share_gives_a_group_its_probability():
    from dataclasses import replace

    from mmsr.data import embedded_pairs
    from mmsr.data.patches import PatchSampler

    pairs = embedded_pairs("train")[:3]
    pairs = [replace(pairs[0], name="country_0002")] + pairs[1:]
    plain = PatchSampler(pairs, 2, 16)
    shared = PatchSampler(pairs, 2, 16, share=("country_", 0.25))
    assert shared.weights[0] == pytest.approx(0.25) and shared.weights.sum() == pytest.approx(1.0)
    assert shared.weights[1] / shared.weights[2] == pytest.approx(plain.weights[1] / plain.weights[2])
    drawn = shared.sample(2000, seed=0).source[:, 0]
    assert abs((drawn == 0).mean() - 0.25) < 0.04
    for bad in (("country_", 0.0), ("country_", 1.0), ("nowhere_", 0.5)):
        with pytest.raises(ValueError, match="share"):
            PatchSampler(pairs, 2, 16, share=bad)


def test_rescale_adds_shrunk_pairs_whose_patches_are_their_own_crops():
    from mmsr.data.patches import shrunk_pair
    from mmsr.degrade import imresize

    pairs = embedded_pairs("train")[:2]
    plain = PatchSampler(pairs, 2, 16, guide="rgb", augment=False)
    s = PatchSampler(pairs, 2, 16, guide="rgb", augment=False, rescale=(0.5, 0.75))
    assert s.names == [pairs[0].name, f"{pairs[0].name}@0.75", f"{pairs[0].name}@0.5",
                       pairs[1].name, f"{pairs[1].name}@0.75", f"{pairs[1].name}@0.5"]
    assert s.weights.sum() == pytest.approx(1.0)
    # a shrunk image is drawn in proportion to its area: (0.75)^2 of its original's share, up to the mod-crop
    assert s.weights[1] / s.weights[0] == pytest.approx(0.75 ** 2, rel=0.05)
    small = shrunk_pair(pairs[0], 0.5)
    h, w = pairs[0].target.shape
    assert small.target.shape == (round(h * 0.5), round(w * 0.5)) and small.target.dtype == pairs[0].target.dtype
    assert np.array_equal(small.guide, imresize(pairs[0].guide, output_shape=small.target.shape))
    # a patch of a shrunk image is that image's crop, and its LR input is made from the shrunk target
    a = s.sample(60, seed=1)
    seen = set()
    for k in range(60):
        i, y, x = a.source[k]
        seen.add(int(i))
        hr = modcrop(shrunk_pair(pairs[i // 3], (1.0, 0.75, 0.5)[i % 3]).target if i % 3 else pairs[i // 3].target, 2)
        assert np.allclose(a.hr[k, 0].numpy() * 255, hr[y:y + 16, x:x + 16])
        assert np.allclose(a.lr[k, 0].numpy() * 255, degrade(hr, 2)[y // 2:y // 2 + 8, x // 2:x // 2 + 8], atol=1e-4)
    assert seen & {1, 2, 4, 5}   # shrunk images are drawn
    assert len(plain.images) == 2   # without the option: the pairs as they are
    for bad in ((1.0,), (0.0,), (-0.5,), ("x",)):
        with pytest.raises(ValueError, match="rescale"):
            PatchSampler(pairs, 2, 16, rescale=bad)


def test_train_refuses_bad_rescale_before_any_work(tmp_path):
    from mmsr.recipes import train_model

    with pytest.raises(ValueError, match="rescale"):
        train_model("recurrent", 2, "smoke", out_dir=tmp_path / "run", rescale=(1.5,))
    assert not (tmp_path / "run").exists()
