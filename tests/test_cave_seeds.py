"""mmsr.cave_seeds: CAVE-trained runs scored on the CAVE test scenes, resumable, pooled over seeds."""
import json

import numpy as np
import pytest

from mmsr import cave_seeds
from mmsr.records import latest
from mmsr.data import GuidedPair
from mmsr.evaluate import Bicubic
from mmsr.guidance_check import seed_spread, summary
from mmsr.reproduce import PROTOCOL_HERE_CAVE


def _fake_scenes(names=("balloons", "cloth", "feathers")):
    """Smooth 16-bit targets (bicubic nearly exact on them, so scaling its output only loses) and RGB guides."""
    yy, xx = np.mgrid[0:33, 0:41] / 40.0
    rng = np.random.default_rng(0)
    return [GuidedPair(n, (20000 + 30000 * np.sin(1 + k + xx + yy) ** 2).astype(np.uint16),
                       rng.integers(0, 256, (33, 41, 3)).astype(np.uint8), 16, "cave", "test")
            for k, n in enumerate(names)]


class _Scaled(Bicubic):
    """Bicubic times a constant: a second 'method' whose PSNR differs from bicubic's."""

    def __init__(self, scale, factor):
        super().__init__(scale)
        self.factor = factor

    def forward(self, lr, guide=None):
        return super().forward(lr, guide) * self.factor


def test_run_scores_each_scene_once_under_the_cave_protocol_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setattr(cave_seeds, "load_cave", lambda split, root=None: _fake_scenes())
    methods = {"bicubic": (Bicubic(4), "gray", "formula"), "m seed 1": (_Scaled(4, 0.9), "gray", "run/a")}
    recs = cave_seeds.run(4, None, tmp_path, methods)
    assert len(recs) == 6 and {r["protocol"] for r in recs} == {PROTOCOL_HERE_CAVE}
    assert {r["image"] for r in recs if r["method"] == "m seed 1"} == {"balloons", "cloth", "feathers"}
    lines = (tmp_path / "seeds_x4.jsonl").read_text().splitlines()
    assert len(lines) == 6
    again = cave_seeds.run(4, None, tmp_path, methods)   # nothing new to score
    assert len(again) == 6 and len((tmp_path / "seeds_x4.jsonl").read_text().splitlines()) == 6
    # new weights (another source) under the same name are scored again; latest() keeps only the new rows
    methods["m seed 1"] = (_Scaled(4, 0.8), "gray", "run/b")
    recs = latest(cave_seeds.run(4, None, tmp_path, methods))
    assert {r["source"] for r in recs if r["method"] == "m seed 1"} == {"run/b"}


def test_the_records_pool_a_committed_model_with_its_seed_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(cave_seeds, "load_cave", lambda split, root=None: _fake_scenes())
    methods = {"bicubic": (Bicubic(4), "gray", "formula"), "m": (_Scaled(4, 0.95), "gray", "w"),
               "m seed 1": (_Scaled(4, 0.9), "gray", "run/a"), "other": (_Scaled(4, 0.5), "gray", "x")}
    summ = summary(latest(cave_seeds.run(4, None, tmp_path, methods)), 4)
    spread = seed_spread(summ, "m")
    assert spread["seeds"] == [0, 1]
    assert spread["mean"] == pytest.approx((summ["m"]["test"]["mean"] + summ["m seed 1"]["test"]["mean"]) / 2)
    assert summ["m"]["test"]["mean"] > summ["m seed 1"]["test"]["mean"]   # the closer to bicubic, the higher
    assert summ["m seed 1"]["test"]["gain_over_bicubic"] < 0


def test_cli_refuses_bad_runs_before_any_scoring(tmp_path, monkeypatch):
    def no_scoring(*a, **k):
        raise AssertionError("scored before the arguments were checked")

    monkeypatch.setattr(cave_seeds, "run", no_scoring)
    nir = tmp_path / "nir_run"
    nir.mkdir()
    (nir / "record.json").write_text(json.dumps({"meta": {"data": "epfl_nir", "scale": 4}}))
    cave8 = tmp_path / "cave8"
    cave8.mkdir()
    (cave8 / "record.json").write_text(json.dumps({"meta": {"data": "cave", "scale": 8}}))
    for arg, msg in ((f"a={nir}", "trained on epfl_nir x4, expected cave x4"),
                     (f"a={cave8}", "trained on cave x8, expected cave x4"),
                     (f"a={tmp_path / 'absent'}", "no record.json"), ("a", "NAME=DIR"), (f"={nir}", "NAME=DIR")):
        with pytest.raises(SystemExit, match=msg):
            cave_seeds.main(["--scale", "4", "--only-runs", "--run", arg])


def test_the_committed_cave_models_are_the_recipes_trained_on_cave():
    from mmsr.recipes import TRAINABLE

    assert {"lmcsc_cave", "recurrent_cave", "djf_cave"} <= set(cave_seeds.CAVE_MODELS)
    assert all(TRAINABLE[n][3] == "cave" for n in cave_seeds.CAVE_MODELS) and "lmcsc" not in cave_seeds.CAVE_MODELS


def test_detail_transfer_is_fitted_on_the_training_split_only(monkeypatch):
    import mmsr.data.datasets as datasets

    asked = []

    def fake_pairs(split, root=None):
        asked.append(split)
        return _fake_scenes(("balloons", "cd", "clay")), "fake"

    monkeypatch.setattr(datasets, "cave_pairs", fake_pairs)
    methods = cave_seeds.detail_transfer_methods(4)
    assert asked == ["train-minus-val"] and list(methods) == list(cave_seeds.DETAIL_TRANSFER)
    fixed, colour = (methods[n][0] for n in cave_seeds.DETAIL_TRANSFER)
    assert fixed.coef.numel() == 3 and colour.coef.numel() == 12 and fixed.coef.abs().sum() > 0
    assert all(gm == "rgb" and "train-minus-val (3 scenes): coef=[" in src for _, gm, src in methods.values())


def test_scene_rows_keep_the_latest_record_and_leave_out_incomplete_methods():
    rec = lambda m, im, v: {"method": m, "set": "test", "image": im, "psnr": v}
    recs = [rec("a", "x", 30.0), rec("a", "y", 32.0), rec("a", "x", 31.0),   # a re-scored on x: 31 counts
            rec("b", "x", 40.0)]                                              # b misses y
    rows = cave_seeds.scene_rows(recs, {"a": "A", "b": "B"}, scenes=("x", "y"))
    assert rows == [["A", "31.00", "32.00", "31.50"]]
    assert len(cave_seeds.scene_rows(recs, {"a": "A"})) == 0   # the default scenes are the paper's 7
