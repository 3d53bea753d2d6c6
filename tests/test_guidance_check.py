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
