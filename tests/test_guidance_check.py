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


def test_bar_rows_compare_each_gate_with_its_ungated_model_and_skip_what_is_not_scored():
    from mmsr.guidance_check import BAR_HEADER, bar_rows

    land = {"gain_over_srcnn": 0.6, "share_above_bicubic": 1.0}
    summ = {"djf": {"test": {"mean": 34.3}}, "lmcsc": {"test": {"mean": 34.5}},
            "djf+learned-gate, consistency": {"test": {"mean": 34.4}, "country-heldout": land},
            "lmcsc+learned-gate": {"test": {"mean": 34.2}, "country-heldout": {**land, "share_above_bicubic": 0.88}},
            "lmcsc+gate": {"test": {"mean": 34.0}, "country": land}}
    rows = bar_rows(summ, ["djf+learned-gate, consistency", "lmcsc+learned-gate", "lmcsc+gate", "absent"])
    assert len(BAR_HEADER) == len(rows[0]) and [r[0] for r in rows] == ["djf+learned-gate, consistency",
                                                                          "lmcsc+learned-gate"]
    assert rows[0][1:] == ["+0.10", "+0.60", "100%", "met"]
    assert rows[1][1] == "-0.30" and rows[1][4] == "not met"


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
    # the committed weights replaced: without a source the newest weights' records decide, never a pool of both
    # (the old weights' scores, appended first, would have kept setting a)
    old = [{**r, "source": "old", "psnr": r["psnr"] + (20 if r["gate"].startswith("window=5,") else 0)} for r in recs]
    new = [{**r, "source": "new"} for r in recs]
    assert choose_gate(old + new, "djf", 4) == {"window": 9, "power": 2.0, "signed": False}
    assert choose_gate(old + new, "djf", 4, source="old") == {"window": 5, "power": 1.0, "signed": True}
    with pytest.raises(ValueError, match="from gone"):
        choose_gate(old + new, "djf", 4, source="gone")


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


def test_seed_spread_pools_the_committed_model_with_its_seed_runs_only():
    from mmsr.guidance_check import seed_spread

    summ = {"djf": {"test": {"mean": 34.0}}, "djf seed 1": {"test": {"mean": 34.2}},
            "djf seed 2": {"test": {"mean": 33.8}, "country": {"mean": 30.0}},
            "djf seedling": {"test": {"mean": 99.0}}, "djf+gate": {"test": {"mean": 99.0}}}
    s = seed_spread(summ, "djf")
    assert s["seeds"] == [0, 1, 2] and s["mean"] == pytest.approx(34.0)
    assert s["std"] == pytest.approx(0.2)   # sample std of 34.0, 34.2, 33.8
    assert seed_spread(summ, "djf", "country") is None   # one seed scored there
    assert seed_spread(summ, "srcnn") is None


def test_spread_text_says_seeds_and_spread_or_one_seed():
    from mmsr.guidance_check import spread_text

    summ = {"m": {"test": {"mean": 34.0}, "country-heldout": {"mean": 28.0}}, "m seed 1": {"test": {"mean": 34.2}},
            "m seed 2": {"test": {"mean": 33.8}}, "one": {"test": {"mean": 34.94}, "country-heldout": {"mean": 28.68}}}
    # the landscapes have one seed of "m": left out of its line rather than shown as a spread of one
    assert spread_text(summ, "m") == "test 34.00 ± 0.20 dB over 3 seeds"
    assert spread_text(summ, "one") == "one seed: test 34.94 dB; country-heldout 28.68 dB"
    assert spread_text(summ, "one", ("country-heldout",)) == "one seed: country-heldout 28.68 dB"


def test_seed_means_take_committed_weights_of_another_seed_once():
    from mmsr.guidance_check import seed_means

    # the committed weights are seed 2 of their recipe (LMCSC x2): scored as "m" and as "m seed 2"
    summ = {"m": {"test": {"mean": 39.0}}, "m seed 0": {"test": {"mean": 38.7}},
            "m seed 1": {"test": {"mean": 38.8}}, "m seed 2": {"test": {"mean": 39.0}}}
    assert seed_means(summ, "m") == {0: 38.7, 1: 38.8, 2: 39.0}
    summ["m seed 2"] = {"test": {"mean": 38.6}}   # stale: the committed weights not scored under their number
    with pytest.raises(ValueError, match="seed number"):
        seed_means(summ, "m")
    del summ["m seed 0"]   # without a seed 0 the committed weights are seed 0
    assert seed_means(summ, "m") == {0: 39.0, 1: 38.8, 2: 38.6}


class Const(torch.nn.Module):
    """Bicubic plus a constant: a stand-in for a model whose error is known."""

    def __init__(self, scale, offset):
        super().__init__()
        self.b, self.offset = Bicubic(scale), offset

    def forward(self, lr, guide=None):
        return self.b(lr) + self.offset


def _pairs(n=2, seed=0):
    import numpy as np

    from mmsr.data.pairs import GuidedPair

    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        t = (rng.random((24, 30)) * 255).astype(np.uint8)
        g = t.copy()
        g[:, 15:] = 255 - g[:, 15:]   # the guide agrees on the left half and is reversed on the right
        out.append(GuidedPair(f"p{k}", t, g))
    return out


def test_loss_by_trust_adds_up_to_the_gates_change_in_mse_and_puts_it_where_trust_is_low():
    import numpy as np

    from mmsr.evaluate import prepare_inputs
    from mmsr.guidance_check import loss_by_trust
    from mmsr.models.gated import GuideGatedSR

    s, pairs = 2, _pairs()
    gate = GuideGatedSR(Const(s, 0.0), Const(s, 0.05), s)   # the single model is worse everywhere
    rows = loss_by_trust(gate, pairs, s, "gray")
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)
    # the change in MSE computed directly, pooled over every pixel of both images
    se_g, se_a, n = 0.0, 0.0, 0
    for p in pairs:
        lr, g, hr = prepare_inputs(p, s, "gray")
        t = torch.from_numpy(hr / p.peak)[None, None].double()
        se_g += ((gate(lr, g).double() - t) ** 2).sum().item()
        se_a += ((gate.guided(lr, g).double() - t) ** 2).sum().item()
        n += t.numel()
    assert sum(r["d_mse"] for r in rows) == pytest.approx((se_g - se_a) / n, rel=1e-4)
    assert sum(r["d_mse"] for r in rows) > 0.2 * 0.05 ** 2   # about half of the pixels fall back, at 0.05 each
    # (almost) full trust changes (almost) nothing; the loss sits where the guide is reversed
    assert abs(rows[-1]["d_mse"]) < 1e-6 and rows[0]["d_mse"] > 0.9 * sum(r["d_mse"] for r in rows)
    # a reversed guide: no trust anywhere, so all pixels and all of the loss sit in the first bin
    flipped = [type(p)(p.name, p.target, 255 - p.target) for p in pairs]
    rows = loss_by_trust(gate, flipped, s, "gray")
    assert rows[0]["share"] > 0.95 and rows[0]["d_mse"] == pytest.approx(0.05 ** 2, rel=0.1)
    with pytest.raises(ValueError, match="bins"):
        loss_by_trust(gate, pairs, s, "gray", bins=(0.0, 0.5, 0.4, 1.0))
    with pytest.raises(ValueError, match="no image pairs"):
        loss_by_trust(gate, [], s, "gray")


def test_loss_by_trust_psnr_rows_add_up_to_the_change_in_mean_psnr():
    import numpy as np

    from mmsr.evaluate import prepare_inputs
    from mmsr.guidance_check import loss_by_trust
    from mmsr.models.gated import GuideGatedSR

    s, pairs = 2, _pairs(3, seed=1)
    gate = GuideGatedSR(Const(s, 0.0), Const(s, 0.004), s)   # a small change: first order is close

    def psnr(y, t):
        return -10 * np.log10(((y.double() - t) ** 2).mean().item())

    d = []
    for p in pairs:
        lr, g, hr = prepare_inputs(p, s, "gray")
        t = torch.from_numpy(hr / p.peak)[None, None].double()
        d.append(psnr(gate(lr, g), t) - psnr(gate.guided(lr, g), t))
    rows = loss_by_trust(gate, pairs, s, "gray")
    assert np.mean(d) < 0   # the single model is worse: the gate costs PSNR here
    assert sum(r["d_psnr"] for r in rows) == pytest.approx(np.mean(d), rel=0.02)


def test_run_scores_only_the_sets_asked_for_and_refuses_unknown_ones(tmp_path):
    from test_portability import embedded_pack

    embedded_pack(tmp_path / "data")
    methods = {"bicubic": (Bicubic(2), "gray", "formula")}
    recs = run(2, tmp_path / "data", tmp_path / "out", methods, sets=("test",))
    assert recs and {r["set"] for r in recs} == {"test"}
    from mmsr.data.datasets import country_part

    held = run(2, tmp_path / "data", tmp_path / "held", methods, sets=("country-heldout",))
    assert held and {r["set"] for r in held} == {"country-heldout"}
    assert {country_part(r["image"]) for r in held} == {"heldout"}
    for bad in (("tests",), ()):
        with pytest.raises(ValueError, match="sets"):
            run(2, tmp_path / "data", tmp_path / "out", methods, sets=bad)


def test_ensemble_cli_refuses_unknown_methods_first_and_scores_the_ensemble_beside_the_method(tmp_path):
    from test_portability import embedded_pack

    from mmsr.guidance_check import main
    from mmsr.records import read_records

    with pytest.raises(SystemExit, match="--ensemble: unknown method"):
        main(["--scale", "2", "--ensemble", "recurrent+gate"])   # a gate not asked for with --gate
    embedded_pack(tmp_path / "data")
    main(["--scale", "2", "--root", str(tmp_path / "data"), "--out", str(tmp_path / "out"), "--only-runs",
          "--ensemble", "bicubic", "--sets", "test"])
    recs = read_records(tmp_path / "out" / "guidance_x2.jsonl")
    by = {}
    for r in recs:
        by.setdefault(r["method"], {})[r["image"]] = r["psnr"]
    assert set(by) >= {"bicubic", "bicubic+self-ensemble"}
    assert by["bicubic"].keys() == by["bicubic+self-ensemble"].keys()
    # bicubic interpolation with a symmetric kernel commutes with flips and quarter turns: the same estimate
    assert all(abs(by["bicubic"][k] - v) < 0.01 for k, v in by["bicubic+self-ensemble"].items())


def test_sets_to_score_never_scores_a_landscape_twice_or_one_a_model_trained_on():
    from mmsr.guidance_check import sets_to_score

    assert sets_to_score(("test", "country"), False) == ("test", "country")
    assert sets_to_score(("test", "country"), True) == ("test", "country-heldout")
    assert sets_to_score(("country-heldout",), False) == ("country-heldout",)
    assert sets_to_score(("test", "country", "country-heldout"), False) == ("test", "country")
    assert sets_to_score(("test",), True) == ("test",)
    assert sets_to_score(("val", "country-heldout"), False) == ("val", "country-heldout")


def test_order_over_seeds_tells_every_seed_from_the_means_and_reversals():
    from mmsr.guidance_check import order_over_seeds, order_rows

    t = lambda m: {"test": {"mean": m}}
    summ = {"a": t(39.0), "a seed 1": t(39.2), "b": t(38.9), "b seed 1": t(38.5),   # a's worst above b's best
            "c": t(38.0), "c seed 1": t(39.0),                                       # b's mean above c's, overlap
            "d": t(39.5), "e": t(33.0)}                                              # one seed each
    checks = order_over_seeds(summ, ["a", "b", "c", "d", "e", "f"])
    assert [c["verdict"] for c in checks] == ["holds on every seed", "holds on the means",
                                             "reversed on every seed", "holds on every seed", "not scored"]
    assert checks[0]["gap"] == pytest.approx(39.1 - 38.7) and checks[0]["seeds"] == ([0, 1], [0, 1])
    assert checks[2]["gap"] < 0 and checks[4]["gap"] is None
    summ["c seed 2"] = t(37.0)     # c: 38.0 / 39.0 / 37.0, all below d's one seed (39.5)
    assert order_over_seeds(summ, ["d", "c"])[0]["verdict"] == "holds on every seed"
    summ["d seed 1"] = t(36.0)     # d's mean 37.75 < c's 38.0, and c's best (39.0) above d's worst
    assert order_over_seeds(summ, ["d", "c"])[0]["verdict"] == "reversed on the means"
    rows = order_rows(checks)
    assert rows[0][:2] == ["a > b", "2 / 2"] and rows[0][3] == "+0.40" and rows[4][2:] == ["-", "-", "not scored"]


def test_pair_standing_follows_the_reported_sign_and_keeps_the_pair_order():
    from mmsr.guidance_check import pair_standing, standing_rows

    t = lambda m: {"test": {"mean": m}}
    summ = {"co": t(38.3), "co seed 1": t(38.4), "dj": t(38.9), "dj seed 1": t(38.7), "dj seed 2": t(38.8)}
    # the paper puts the first above the second; ours has it below on every seed
    c = pair_standing(summ, ("co", "dj"), (37.30, 36.03))
    assert c["reported_gap"] == pytest.approx(1.27) and c["gap"] == pytest.approx(38.35 - 38.8)
    assert c["verdict"] == "reversed on every seed" and (c["better"], c["worse"]) == ("co", "dj")
    assert c["shift"] == pytest.approx((38.35 - 37.30, 38.8 - 36.03))
    # the paper puts the second above the first (a negative reported gap): the check follows the paper's order,
    # the gaps stay first-minus-second
    c2 = pair_standing(summ, ("co", "dj"), (38.67, 39.28))
    assert (c2["better"], c2["worse"]) == ("dj", "co") and c2["verdict"] == "holds on every seed"
    assert c2["gap"] == pytest.approx(-0.45) and c2["reported_gap"] == pytest.approx(-0.61)
    rows = standing_rows([c, c2, pair_standing(summ, ("co", "missing"), (1.0, 0.0))])
    assert rows[0] == ["co vs dj", "+1.27", "2 / 3", "-0.45", "reversed on every seed", "+1.05 / +2.77"]
    assert rows[1][2:4] == ["2 / 3", "-0.45"] and rows[2][3:] == ["-", "not scored", "-"]
    with pytest.raises(ValueError, match="two methods"):
        pair_standing(summ, ("co",), (1.0,))


def test_run_method_scores_committed_weights_under_another_name_with_their_source(tmp_path):
    """``--run "lmcsc seed 0=mmsr/weights/lmcsc_x2.safetensors"``: committed weights given as a run load exactly as
    the committed method does (same tensors, same source, so a re-run skips them); a weights file that is neither in
    a run folder nor committed is refused."""
    import shutil

    from mmsr.guidance_check import committed_method, run_method
    from mmsr.recipes import pretrained_path

    path = pretrained_path("srcnn", 2)
    model, mode, source = run_method(path)
    ref, ref_mode, ref_source = committed_method("srcnn", 2)
    assert (mode, source) == (ref_mode, ref_source) and source.startswith("mmsr/weights/srcnn_x2.safetensors@")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), ref.state_dict().values()))
    stray = tmp_path / "srcnn_x2.safetensors"
    shutil.copy(path, stray)
    shutil.copy(path.with_suffix(".json"), stray.with_suffix(".json"))
    with pytest.raises(ValueError, match="neither in a run folder"):
        run_method(stray)
    plain = tmp_path / "weights_of_mine.safetensors"   # no '_x<scale>' in the name at all
    shutil.copy(path, plain)
    shutil.copy(path.with_suffix(".json"), plain.with_suffix(".json"))
    with pytest.raises(ValueError, match="neither in a run folder"):
        run_method(plain)


def test_mean_of_cli_refuses_bad_forms_first_and_scores_the_mean_of_its_members(tmp_path):
    from test_portability import embedded_pack

    from mmsr.guidance_check import MEAN_OF, main, mean_of_methods, trained_on_country
    from mmsr.records import read_records

    for bad in ("three=bicubic", "=bicubic,srcnn", "two=bicubic,bicubic"):
        with pytest.raises(SystemExit, match="--mean-of expects NAME=A,B"):
            main(["--scale", "2", "--mean-of", bad])
    with pytest.raises(SystemExit, match="--mean-of: unknown method"):
        main(["--scale", "2", "--mean-of", "m=bicubic,recurrent seed 9"])   # neither a method nor a folder
    with pytest.raises(ValueError, match="read the guide one way"):
        mean_of_methods({"a": (Bicubic(2), "gray", "x"), "b": (Bicubic(2), "rgb", "y")})
    embedded_pack(tmp_path / "data")
    main(["--scale", "2", "--root", str(tmp_path / "data"), "--out", str(tmp_path / "out"), "--only-runs",
          "--mean-of", "bic+guided=bicubic,guided_filter", "--ensemble", "bic+guided", "--sets", "test"])
    recs = read_records(tmp_path / "out" / "guidance_x2.jsonl")
    by = {}
    for r in recs:
        by.setdefault(r["method"], {})[r["image"]] = r
    assert set(by) >= {"bic+guided", "bic+guided+self-ensemble"} and "guided_filter" not in by
    src = next(iter(by["bic+guided"].values()))["source"]
    assert src.startswith(MEAN_OF) and src.count(" + ") == 1
    assert not trained_on_country(src)
    # a member given as a run folder is loaded (its source in the mean's) but not scored on its own
    from mmsr.recipes import WEIGHTS_DIR

    folder = str(WEIGHTS_DIR / "experiments" / "srcnn_x2_seed1")
    main(["--scale", "2", "--root", str(tmp_path / "data"), "--out", str(tmp_path / "out"), "--only-runs",
          "--mean-of", f"bic+srcnn1=bicubic,{folder}", "--sets", "val"])
    recs = read_records(tmp_path / "out" / "guidance_x2.jsonl")
    mean = [r for r in recs if r["method"] == "bic+srcnn1"]
    assert mean and all(folder in r["source"] for r in mean)
    assert not any(folder == r["source"] for r in recs)
    # bicubic and the guided filter differ, so their mean differs from bicubic on every image
    assert all(abs(by["bicubic"][k]["psnr"] - r["psnr"]) > 1e-3 for k, r in by["bic+guided"].items())


def test_a_mean_trained_on_landscapes_if_any_member_did(tmp_path):
    import json

    from mmsr.guidance_check import MEAN_OF, MEAN_SEP, trained_on_country

    run = tmp_path / "run"
    run.mkdir()
    (run / "record.json").write_text(json.dumps({"meta": {"train_split": "train+country"}}))
    assert trained_on_country(str(run))
    assert trained_on_country(MEAN_OF + MEAN_SEP.join(["formula", str(run)]))
    assert not trained_on_country(MEAN_OF + MEAN_SEP.join(["formula", "mmsr/weights/x.safetensors@0"]))


def test_run_cli_refuses_a_missing_folder_in_one_line_before_any_work(tmp_path):
    from mmsr.guidance_check import main

    with pytest.raises(SystemExit, match="--run expects NAME=DIR"):
        main(["--scale", "4", "--run", "no folder"])
    # a name with "=" in it moves the folder's start: refused with the reason, not a traceback
    folder = tmp_path / "run"
    folder.mkdir()
    with pytest.raises(SystemExit, match="--run: no run folder ' 5="):
        main(["--scale", "4", "--run", f"recurrent T = 5={folder}"])
