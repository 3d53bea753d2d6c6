"""The guidance check: per-image records and the summary the goal is stated in (gain over bicubic and SRCNN,
share of images above bicubic), on a data pack of the embedded default."""
import pytest
import torch

from mmsr.evaluate import Bicubic
from mmsr.guidance_check import run, summary


class Worse(torch.nn.Module):
    """Bicubic minus a constant: below bicubic on every image, by construction."""

    def __init__(self):
        super().__init__()
        self.b = Bicubic(2)

    def forward(self, lr, guide=None):
        return self.b(lr) - 0.02


def test_summary_counts_images_above_bicubic_and_gains(tmp_path):
    from test_portability import embedded_pack

    embedded_pack(tmp_path / "data")
    methods = {"bicubic": (Bicubic(2), "gray", "formula"), "srcnn": (Bicubic(2), "gray", "alias"),
               "worse": (Worse(), "gray", "test")}
    recs = run(2, tmp_path / "data", tmp_path / "out", methods)
    s = summary(recs, 2)
    for split in ("test", "country"):
        assert s["bicubic"][split]["gain_over_bicubic"] == 0 and s["bicubic"][split]["share_above_bicubic"] == 0
        assert s["worse"][split]["gain_over_bicubic"] < 0 and s["worse"][split]["share_above_bicubic"] == 0
        assert s["worse"][split]["gain_over_srcnn"] == s["worse"][split]["gain_over_bicubic"]
    # resumable: a second call adds nothing
    assert len(run(2, tmp_path / "data", tmp_path / "out", methods)) == len(recs)


def test_summary_rows_format_every_set_of_the_methods_asked_for():
    from mmsr.guidance_check import SUMMARY_HEADER, summary_rows

    summ = {"bicubic": {"test": {"n": 2, "mean": 30.0, "gain_over_bicubic": 0.0, "share_above_bicubic": 0.0}},
            "djf": {"country": {"n": 3, "mean": 31.234, "gain_over_bicubic": -0.5, "gain_over_srcnn": 0.25,
                                "share_above_bicubic": 2 / 3}}}
    rows = summary_rows(summ, ["djf", "missing", "bicubic"])
    assert rows == [["djf", "country", 3, "31.23", "-0.50", "+0.25", "67%"],
                    ["bicubic", "test", 2, "30.00", "+0.00", "+nan", "0%"]]
    assert len(SUMMARY_HEADER) == len(rows[0])


def test_held_out_landscapes_are_read_off_the_country_records_and_never_include_trained_ones(tmp_path):
    import json

    from mmsr.guidance_check import trained_on_country

    recs = [{"method": m, "set": "country", "scale": 2, "image": f"country_{i:04d}", "psnr": 30.0 + d}
            for m, d in (("bicubic", 0.0), ("srcnn", 0.5)) for i in range(6)]
    # a model trained on the landscape half is scored on the held-out images only (here 0001, 0003, 0005)
    recs += [{"method": "mixed", "set": "country-heldout", "scale": 2, "image": f"country_{i:04d}",
              "psnr": 31.0} for i in (1, 3, 5)]
    s = summary(recs, 2)
    assert s["bicubic"]["country"]["n"] == 6 and s["bicubic"]["country-heldout"]["n"] == 3
    assert "country" not in s["mixed"] and s["mixed"]["country-heldout"]["n"] == 3
    assert s["mixed"]["country-heldout"]["gain_over_srcnn"] == 0.5
    from mmsr.guidance_check import with_heldout
    derived = [r for r in with_heldout(recs) if r["set"] == "country-heldout" and r["method"] == "bicubic"]
    assert sorted(r["image"] for r in derived) == ["country_0001", "country_0003", "country_0005"]
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "record.json").write_text(json.dumps({"meta": {"train_split": "train+country"}}))
    assert trained_on_country(str(run_dir)) and not trained_on_country("mmsr/weights/djf_x2.safetensors@abc")


def test_bar_check_fails_on_each_of_its_three_conditions():
    from mmsr.guidance_check import bar_check

    def summ(gain, share, test):
        return {"ref": {"test": {"mean": 35.0}},
                "m": {"test": {"mean": test}, "country": {"gain_over_srcnn": gain, "share_above_bicubic": share}}}

    assert bar_check(summ(0.1, 0.95, 34.9), "m", "ref")["met"]
    assert not bar_check(summ(-0.01, 0.95, 34.9), "m", "ref")["met"]      # below SRCNN on landscapes
    assert not bar_check(summ(0.1, 0.85, 34.9), "m", "ref")["met"]        # below bicubic too often
    assert not bar_check(summ(0.1, 0.95, 34.7), "m", "ref")["met"]        # lost 0.3 dB on the test images
    assert bar_check(summ(0.1, 0.95, 34.7), "m", "ref")["d_test"] == pytest.approx(-0.3)


def _gate_rec(gate, image, st, psnr, single):
    w, p, sg = gate
    return {"method": "djf", "scale": 4, "source": "s", "gate": f"window={w},power={p:g},signed={sg}", "window": w,
            "power": p, "signed": sg, "image": image, "set": st, "psnr": psnr, "psnr_single": single}


def test_choose_gate_prefers_the_best_mean_among_settings_not_below_srcnn_on_landscapes():
    from mmsr.guidance_check import choose_gate

    a, b, c = (5, 1.0, True), (9, 2.0, False), (15, 4.0, True)
    recs = []
    # a: best overall mean but below SRCNN (30.0) on the landscape image; b: not below; c: not below, lower mean
    for gate, urban, land in ((a, 40.0, 29.9), (b, 36.0, 30.1), (c, 35.0, 30.5)):
        recs += [_gate_rec(gate, "train_1", "val", urban, 33.0), _gate_rec(gate, "country_0000", "country-val", land, 30.0)]
    assert choose_gate(recs, "djf", 4) == {"window": 9, "power": 2.0, "signed": False}
    # none reaches SRCNN on landscapes: the best landscape mean
    low = [{**r, "psnr": r["psnr"] - 1} if r["set"] == "country-val" else r for r in recs]
    assert choose_gate(low, "djf", 4) == {"window": 15, "power": 4.0, "signed": True}
    with pytest.raises(ValueError, match="no gate-selection records"):
        choose_gate(recs, "lmcsc", 4)


def test_select_gate_scores_every_setting_on_validation_images_only_and_resumes(tmp_path, monkeypatch):
    import mmsr.guidance_check as gc
    from test_portability import embedded_pack

    embedded_pack(tmp_path / "data")
    monkeypatch.setattr(gc, "committed_methods", lambda scale: {
        "djf": (Worse(), "rgb", "guided"), "srcnn": (Bicubic(2), "gray", "single")})
    setting, recs = gc.select_gate("djf", 2, tmp_path / "data", tmp_path / "out")
    images = {r["image"] for r in recs}
    test_names = {p.name for p in gc.load_epfl_nir("test", tmp_path / "data")}
    assert images and not images & test_names and {r["set"] for r in recs} <= {"val", "country-val"}
    assert len(recs) == len(gc.GATE_GRID) * len(images)
    # the gated blend lies between its two estimates (Worse is bicubic minus a constant)
    assert all(min(r["psnr_guided"], r["psnr_single"]) - 1e-6 <= r["psnr"] <= max(r["psnr_guided"], r["psnr_single"]) + 1e-6
               for r in recs)
    assert setting in [dict(g) for g in gc.GATE_GRID]
    assert len(gc.select_gate("djf", 2, tmp_path / "data", tmp_path / "out")[1]) == len(recs)


def test_gate_cli_refuses_unknown_models_before_any_work():
    from mmsr.guidance_check import main

    with pytest.raises(SystemExit, match="unknown guided model"):
        main(["--scale", "4", "--gate", "srcnn"])
