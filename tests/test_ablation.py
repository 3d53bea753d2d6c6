"""Chapter 7's ablation of the recurrent network: every variant is a known setting that differs from the base in
one place, the commands say what runs, the table is read from records and refuses a mislabelled one."""
import copy
import json

import pytest

from mmsr import ablation
from mmsr.recipes import RECURRENT_SETTINGS
from mmsr.train import parse_overrides


def test_every_variant_changes_one_known_setting_or_the_seed():
    known = set(RECURRENT_SETTINGS["default"])
    assert set(ablation.BASE) <= known
    for name, (seed, change, what) in ablation.VARIANTS.items():
        assert set(change) <= known, name
        assert all(ablation.BASE[k] != v for k, v in change.items()), name
        assert (len(change) == 1) != (name == "base" or seed != 0), name   # one change, or the seed only
        assert what


def test_commands_set_what_the_variant_needs():
    for name, (seed, change, _) in ablation.VARIANTS.items():
        cmd = ablation.train_command(name, "runs/x", "/data")
        args = cmd.split()
        sets = parse_overrides([a.strip("'") for i, a in enumerate(args) if i and args[i - 1] == "--set"])
        assert sets == {**ablation.BASE, **change}, name
        assert f"--seed {seed} " in cmd and f"runs/x/recurrent_x4_{name} " in cmd and "--data-root /data" in cmd


def _record(name, final, history=(33.0,)):
    seed, change, _ = ablation.VARIANTS[name]
    s = {**ablation.BASE, **change}
    s["milestones"] = list(s["milestones"])   # as JSON writes it
    return {"meta": {"settings": s}, "config": {"seed": seed}, "parameters": 100,
            "history": [{"step": 250 * (i + 1), "val_psnr": v} for i, v in enumerate(list(history) + [final])],
            "final_validation": {"val_psnr": final}, "train_seconds": 600.0}


def test_rows_are_read_from_records_and_a_mislabelled_record_is_refused(tmp_path):
    for name, final in (("base", 34.0), ("nofusion", 33.25), ("base_s1", 34.2), ("gray", 34.5)):
        d = tmp_path / f"recurrent_x4_{name}"
        d.mkdir()
        (d / "record.json").write_text(json.dumps(_record(name, final)))
    recs = ablation.read_runs(tmp_path)
    assert list(recs) == ["base", "nofusion", "gray", "base_s1"]          # in the order of VARIANTS
    assert ablation.base_reference(recs) == pytest.approx((34.1, 34.0, 34.2))
    header, rows = ablation.ablation_rows(recs)
    by = {r[0]: dict(zip(header, r)) for r in rows}
    col = "final - base mean (dB)"
    assert by["base"][col] == "-0.10" and by["base_s1"][col] == "+0.10" and by["nofusion"][col] == "-0.85"
    assert by["gray"][col] == "+0.40" and by["gray"]["val PSNR by step (dB)"] == "33.00, 34.50"
    assert by["gray"]["minutes"] == "10"
    wrong = copy.deepcopy(recs)
    wrong["gray"]["meta"]["settings"]["guide"] = "rgb"      # a base run filed under "gray"
    with pytest.raises(ValueError, match="other settings"):
        ablation.ablation_rows(wrong)
    wrong = copy.deepcopy(recs)
    wrong["base"]["config"]["seed"] = 1
    with pytest.raises(ValueError, match="seed"):
        ablation.ablation_rows(wrong)


def test_bad_variants_are_refused_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="unknown ablation variants"):
        ablation.run_variants(None, tmp_path, ["base", "deeper"])
    assert not any(tmp_path.iterdir())
    with pytest.raises(SystemExit):
        ablation.main(["--only", "deeper", "--out", str(tmp_path)])


def test_a_smoke_sized_variant_trains_and_lands_in_the_table(tmp_path, monkeypatch):
    monkeypatch.setattr(ablation, "BASE", {**ablation.BASE, "atoms": 4, "patches": 32, "steps": 2,
                                           "milestones": (), "val_every": 0, "ckpt_every": 0})
    folders = ablation.run_variants(None, tmp_path, ["nofusion"])
    assert (folders[0] / "record.json").is_file()
    header, rows = ablation.ablation_rows(ablation.read_runs(tmp_path))
    assert [r[0] for r in rows] == ["nofusion"] and rows[0][4] == "-"   # no base run: no difference to show


def test_plot_shows_one_bar_per_variant_against_the_base_mean_and_needs_a_base_run():
    import matplotlib

    matplotlib.use("Agg")
    recs = {n: _record(n, v) for n, v in (("base", 34.0), ("nofusion", 33.25), ("base_s1", 34.1), ("gray", 34.5),
                                          ("base_s2", 34.2))}
    ax = ablation.plot_ablation(recs)
    bars = [p for p in ax.patches if p.get_height() < 1]    # the bars, not the band
    assert [p.get_width() for p in bars] == pytest.approx([-0.85, 0.4])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["nofusion", "gray"]
    band = [p for p in ax.patches if p not in bars][0]     # from the lowest to the highest base run
    assert band.get_x() == pytest.approx(-0.1) and band.get_x() + band.get_width() == pytest.approx(0.1)
    with pytest.raises(ValueError, match="base setting"):
        ablation.plot_ablation({"gray": recs["gray"]})


def test_committed_ablation_runs_load_and_are_the_variants_they_are_filed_as():
    from mmsr.guidance_check import run_method
    from mmsr.recipes import WEIGHTS_DIR

    folder = WEIGHTS_DIR / "experiments" / "recurrent_x4_ablation"
    recs = ablation.read_runs(folder)
    assert set(ablation.REPLICATES) <= set(recs) and len(recs) >= 5
    ablation.ablation_rows(recs)            # refuses a run whose settings or seed are not its variant's
    for name, rec in recs.items():
        model, guide_mode, _ = run_method(folder / f"recurrent_x{ablation.SCALE}_{name}")
        change = ablation.VARIANTS[name][1]
        assert guide_mode == change.get("guide", "rgb") and model.steps == change.get("rnn_steps", 3), name
        assert model.shared == change.get("shared", True) and model.fusion == change.get("fusion", "lesita"), name
        assert model.updown == change.get("updown", "learned"), name
        assert rec["meta"]["train_split"] == "train-minus-val" and rec["meta"]["val_images"], name


def test_forms_are_compared_only_when_they_differ_in_the_one_setting():
    """compare_forms (chapter 7's x8 question): two runs that differ only in ``cascade`` give one row each; a record
    without the setting counts as the default; a second difference or a lone record is refused."""
    def rec(cascade=None, seed=0, steps=1600, final=39.6):
        s = {"atoms": 32, "rnn_steps": 3, "patches": 12000, "patch_size": 64, "steps": steps,
             "milestones": [1100, 1400]}
        if cascade is not None:
            s["cascade"] = cascade
        return {"meta": {"settings": s, "scale": 8}, "config": {"seed": seed}, "parameters": 10,
                "history": [{"step": 400, "val_psnr": 35.0}, {"step": 1600, "val_psnr": final}],
                "final_validation": {"val_psnr": final}, "train_seconds": 2520.0}

    header, rows = ablation.compare_forms({"one": rec(), "cascade": rec(True, final=39.9)})
    assert [r[0] for r in rows] == ["one", "cascade"] and rows[1][3] == "39.90" and rows[0][4] == "42"
    assert rows[0][2] == "35.00, 39.60" and header[3] == "final (dB)"
    with pytest.raises(ValueError, match="more than 'cascade'"):
        ablation.compare_forms({"one": rec(), "cascade": rec(True, steps=800)})
    with pytest.raises(ValueError, match="more than 'cascade'"):
        ablation.compare_forms({"one": rec(), "cascade": rec(True, seed=1)})
    with pytest.raises(ValueError, match="at least two"):
        ablation.compare_forms({"one": rec()})


def test_committed_x8_forms_differ_only_in_the_form_and_load_as_what_they_are():
    from mmsr.guidance_check import run_method
    from mmsr.models.recurrent import RecurrentCascade, RecurrentCoupledNet
    from mmsr.recipes import WEIGHTS_DIR

    recs = {k: json.loads((WEIGHTS_DIR / "experiments" / f / "record.json").read_text())
            for k, f in ablation.X8_FORMS.items()}
    header, rows = ablation.compare_forms(recs)
    assert len(rows) == 2
    for (label, folder), kind in zip(ablation.X8_FORMS.items(), (RecurrentCoupledNet, RecurrentCascade)):
        assert recs[label]["meta"]["scale"] == 8 and recs[label]["meta"]["data"].startswith("cave"), label
        assert type(run_method(WEIGHTS_DIR / "experiments" / folder)[0]) is kind, label


def test_the_x2_recipe_ablation_changes_one_training_choice_and_reads_the_committed_records():
    """Chapter 7's x2 ablation: each run differs from the committed x2 recipe in one setting (the loss counts),
    in two that each also ran alone, or only in its seed; the committed records present pass the table's check,
    and a run filed under the wrong variant -- an MSE run under "l1" -- is refused."""
    from mmsr.recipes import TRAINING_SETTINGS

    import inspect

    from mmsr.recipes import train_model

    params = inspect.signature(train_model).parameters   # a run option is train_model's, with its default
    assert all(params[k].default == v for k, v in ablation.RUN_OPTIONS.items())
    known = set(RECURRENT_SETTINGS["default"]) | set(TRAINING_SETTINGS) | set(ablation.RUN_OPTIONS)
    assert set(ablation.X2_BASE) <= known
    def norm(v):   # hashable, and a tuple equal to the list a record keeps
        return tuple(v) if isinstance(v, (tuple, list)) else v

    alone = {(k, norm(v)) for _, change, *_ in ablation.X2_RECIPE.values() if len(change) == 1
             for k, v in change.items()}
    for name, (seed, change, what, rel) in ablation.X2_RECIPE.items():
        assert set(change) <= known and all(ablation.X2_BASE[k] != v for k, v in change.items()), name
        # one setting per run; the schedule may follow it where the steps were refitted to the recipe's time; two
        # settings only where the run combines two changes each of which also ran alone
        n = len(set(change) - {"steps", "milestones"})
        assert n == 0 if name in ablation.X2_REPLICATES else n in (1, 2), name
        if n == 2:
            assert "steps" not in change and all((k, norm(v)) in alone for k, v in change.items()), name
        assert ("milestones" in change) == ("steps" in change), name
        assert what and rel.endswith(".json")
    recs = ablation.read_x2_runs()
    assert set(recs) == set(ablation.X2_RECIPE)   # every run the chapter names is committed
    committed = recs["recipe"]["meta"]["settings"]
    assert all(norm(committed[k]) == norm(v) for k, v in ablation.X2_BASE.items() if k in committed)
    header, rows = ablation.ablation_rows(recs, ablation.X2_RECIPE, ablation.X2_BASE, ablation.X2_REPLICATES)
    assert [r[0] for r in rows] == list(recs)
    wrong = copy.deepcopy(recs)
    wrong["l1"]["config"]["loss"] = "mse"
    with pytest.raises(ValueError, match="other settings"):
        ablation.ablation_rows(wrong, ablation.X2_RECIPE, ablation.X2_BASE, ablation.X2_REPLICATES)
    augmented = copy.deepcopy(recs)   # a run trained with guide augmentation is not the recipe
    augmented["recipe"]["meta"]["guide_augment"] = 0.2
    with pytest.raises(ValueError, match="guide_augment"):
        ablation.ablation_rows(augmented, ablation.X2_RECIPE, ablation.X2_BASE, ablation.X2_REPLICATES)
    rescaled = copy.deepcopy(recs)   # nor one trained on shrunk copies of its pairs as well
    rescaled["recipe"]["meta"]["rescale"] = [0.8]
    with pytest.raises(ValueError, match="rescale"):
        ablation.ablation_rows(rescaled, ablation.X2_RECIPE, ablation.X2_BASE, ablation.X2_REPLICATES)
    # the refit on all 20 training images: the recipe but for its split, trained on the validation images and on no
    # test image (so the chapter shows no validation score for it)
    from mmsr.data.datasets import EPFL_NIR_TEST

    data = ablation.read_variant_runs(ablation.X2_DATA)
    assert set(data) == set(ablation.X2_DATA)
    ablation.ablation_rows(data, ablation.X2_DATA, ablation.X2_BASE, ())
    meta = data["train_all"]["meta"]
    assert set(meta["val_images"]) < set(meta["train_images"]) and len(meta["train_images"]) == 20
    assert not set(meta["train_images"]) & set(EPFL_NIR_TEST)
    assert recs["rescale4_s1"]["meta"]["rescale"] == [0.9, 0.8, 0.7, 0.6]
    assert recs["rescale08"]["meta"]["rescale"] == [0.8]
    half = recs["train_half"]["meta"]
    assert len(half["train_images"]) == 9 and not set(half["val_images"]) & set(half["train_images"])


def test_seed_arms_are_compared_seed_by_seed_with_means_and_spread_and_a_missing_seed_is_refused():
    def rec(seed, val):
        return {"config": {"seed": seed}, "final_validation": {"val_psnr": val}}

    records = {"a0": rec(0, 39.0), "a1": rec(1, 39.2), "b0": rec(0, 40.0), "b1": rec(1, 39.6)}
    summ = {"A": {"test": {"mean": 30.0}}, "A seed 1": {"test": {"mean": 31.0}},
            "B": {"test": {"mean": 32.0}, "country-heldout": {"mean": 28.0}},
            "B seed 1": {"test": {"mean": 33.0}, "country-heldout": {"mean": 27.0}}}
    arms = {"plain": [("a0", "A"), ("a1", "A seed 1")], "changed": [("b0", "B"), ("b1", "B seed 1")]}
    header, rows = ablation.seed_arm_rows(records, arms, summ)
    assert header == ["arm", "seed", "validation", "test", "country-heldout"]
    assert rows[0] == ["plain", 0, "39.00", "30.00", "-"]
    assert rows[2] == ["**plain: mean**", "2 seeds", "39.10 +- 0.14", "30.50 +- 0.71", "-"]   # unscored: no mean
    assert rows[4] == ["changed", 1, "39.60", "33.00", "27.00"]
    assert rows[5][2:] == ["39.80 +- 0.28", "32.50 +- 0.71", "27.50 +- 0.71"]
    with pytest.raises(ValueError, match="no training record for \\['c2'\\]"):
        ablation.seed_arm_rows(records, {**arms, "other": [("c2", "C")]}, summ)
    # a run that trained on its validation images shows no validation number, nor a mean over it
    records["c0"] = {**rec(0, 41.0), "meta": {"train_images": ["x", "v"], "val_images": ["v"]}}
    _, rows = ablation.seed_arm_rows(records, {"all": [("c0", "A")]}, summ)
    assert rows == [["all", 0, "-", "30.00", "-"], ["**all: mean**", "1 seed", "-", "30.00", "-"]]


@pytest.mark.parametrize("table", ["X4", "X2", "X4_RGB", "X2_SCHEDULE"])
def test_the_lmcsc_ablation_changes_one_choice_and_reads_the_committed_records(table):
    """Chapter 5's LMCSC runs at x4 and x2 (at x4 also on the colour recipe, at x2 also with the schedule fitted to
    its 3,300 steps): each differs from its recipe in one setting or only in its seed; the committed records present
    pass the table's check (the committed weights among them, at their scale), and a run filed under a recipe whose
    guide it does not read is refused."""
    from mmsr.recipes import LMCSC_SETTINGS, TRAINING_SETTINGS

    scale = int(table[1])
    variants, base, replicates = (getattr(ablation, f"LMCSC_{table}{part}") for part in ("", "_BASE", "_REPLICATES"))
    known = set(LMCSC_SETTINGS["default"]) | set(TRAINING_SETTINGS)
    assert set(base) <= known
    for name, (seed, change, what, rel) in variants.items():
        assert set(change) <= known and all(base[k] != v for k, v in change.items()), name
        assert (len(change) == 1) != (name in replicates), name
    recs = ablation.read_variant_runs(variants)
    assert set(replicates) <= set(recs)
    assert all(r["meta"]["scale"] == scale and r["meta"]["model"] == "lmcsc" for r in recs.values())
    args = (variants, base, replicates)
    header, rows = ablation.ablation_rows(recs, *args)
    assert [r[0] for r in rows] == list(recs)
    wrong = copy.deepcopy(recs)
    wrong[replicates[1]]["meta"]["settings"]["guide"] = "gray" if base["guide"] == "rgb" else "rgb"
    with pytest.raises(ValueError, match="other settings"):
        ablation.ablation_rows(wrong, *args)


def test_the_lmcsc_size_sweep_gives_every_size_the_same_time_and_one_size_change():
    """Chapter 5's x2 size sweep: each run changes one size setting (none for the recipe's seeds) and its steps are
    the budget at its own timed seconds per step, halvings and checks at the same fractions of its steps; so two
    sizes whose steps cost the same get the same steps, and a slower size gets fewer."""
    from mmsr.budget import fitted_schedule

    sizes = {"atoms", "stages", "patch_size", "batch_size"}
    budget = ablation.LMCSC_X2_SIZE_BUDGET_SECONDS
    for name, (seed, change, what, rel) in ablation.LMCSC_X2_SIZES.items():
        size = ablation.size_of(name)
        changed = set(change) & sizes
        if name in ablation.LMCSC_X2_SIZES_REPLICATES:
            assert not changed, name
        elif size == "maps32_patch32":   # the two leaders together
            assert changed == {"atoms", "patch_size"}, name
        else:
            assert len(changed) == 1, name
        assert set(change) - sizes == {"steps", "milestones", "val_every"}, name
        assert all(ablation.LMCSC_X2_SIZES_BASE[k] != change[k] for k in changed), name
        sps = ablation.LMCSC_X2_SIZE_STEP_SECONDS[size]
        assert change["steps"] * sps <= budget < (change["steps"] + 1) * sps, name
        assert change == {**{k: change[k] for k in changed},
                          **fitted_schedule(budget, sps, 3300, (2100, 2900), validations=4)}, name
        m1, m2 = change["milestones"]
        assert abs(m1 / change["steps"] - 2100 / 3300) < 0.01 and abs(m2 / change["steps"] - 2900 / 3300) < 0.01
    steps = {ablation.size_of(n): c["steps"] for n, (_, c, *_r) in ablation.LMCSC_X2_SIZES.items()}
    assert steps["maps32"] > steps["recipe"] > steps["maps96"] and steps["batch32"] < steps["recipe"] // 2 + 1
    assert [ablation.size_of(n) for n in ("recipe_s1", "maps32_patch32", "stages5", "patch32_s1")] == [
        "recipe", "maps32_patch32", "stages5", "patch32"]
    with pytest.raises(ValueError, match="unknown size"):
        ablation.size_sweep_schedule("maps48")


def test_the_lmcsc_size_sweep_reads_its_committed_records_and_plots_them_at_equal_minutes():
    """Every run of the sweep is committed with the settings it is filed under (the table's check refuses a record
    of another size), and the figure ends every run near the same minute."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    args = (ablation.LMCSC_X2_SIZES, ablation.LMCSC_X2_SIZES_BASE, ablation.LMCSC_X2_SIZES_REPLICATES)
    recs = ablation.read_variant_runs(ablation.LMCSC_X2_SIZES)
    assert list(recs) == list(ablation.LMCSC_X2_SIZES)
    assert all(r["meta"]["scale"] == 2 and r["meta"]["model"] == "lmcsc" for r in recs.values())
    header, rows = ablation.ablation_rows(recs, *args)
    assert [r[0] for r in rows] == list(recs)
    wrong = copy.deepcopy(recs)
    wrong["maps32"]["meta"]["settings"]["atoms"] = 64
    with pytest.raises(ValueError, match="other settings"):
        ablation.ablation_rows(wrong, *args)
    header, rows = ablation.size_sweep_rows(recs, {**ablation.LMCSC_X2_SIZE_STEP_SECONDS, "maps32": 0.86})
    by = {r[0]: r for r in rows}
    assert by["maps32"][4] == "0.86" and by["maps32"][5] == f"{by['maps32'][3] * 0.86 / 60:.0f}"   # its own speed
    assert by["recipe"][5] == f"{1200 * 0.902 / 60:.0f}"
    ax = ablation.plot_size_sweep(recs)
    ends = [line.get_xdata()[-1] for line in ax.get_lines()]
    assert len(ends) == len(recs)
    assert max(ends) - min(ends) < 0.05 * max(ends)
    assert abs(max(ends) - ablation.LMCSC_X2_SIZE_BUDGET_SECONDS / 60) < 0.05 * max(ends)
    plt.close("all")


def test_x4_full_length_runs_change_one_setting_of_the_committed_x4_recipe():
    """chapter 7's x4 question at full length: every run of X4_RECIPE is the committed x4 recipe with one setting
    changed (the replicates none), its records at scale 4, and the replicates' records are the committed x4 weights
    and its seeds."""
    from mmsr.recipes import TRAINING_SETTINGS

    known = set(RECURRENT_SETTINGS["default"]) | set(TRAINING_SETTINGS) | set(ablation.RUN_OPTIONS)
    for name, (seed, change, what, rel) in ablation.X4_RECIPE.items():
        assert set(change) <= known and all(ablation.X4_BASE[k] != v for k, v in change.items()), name
        assert len(change) == (0 if name in ablation.X4_REPLICATES else 1), name
        assert what and rel.endswith(".json")
    recs = ablation.read_x4_runs()
    assert set(ablation.X4_REPLICATES) <= set(recs)
    assert all(r["meta"]["scale"] == 4 for r in recs.values())
    assert [recs[n]["config"]["seed"] for n in ablation.X4_REPLICATES] == [0, 1, 2]
    header, rows = ablation.ablation_rows(recs, ablation.X4_RECIPE, ablation.X4_BASE, ablation.X4_REPLICATES)
    assert [r[0] for r in rows] == list(recs)


def test_cave_x4_runs_change_one_setting_of_the_committed_cave_recipe():
    """the CAVE transfer question: every run of CAVE_X4_UPDOWN is the committed CAVE x4 recipe with sub-pixel Up /
    Down or nothing changed, each change seed paired with a recipe seed, the replicates' records CAVE x4 seeds 0-2."""
    from mmsr.recipes import TRAINING_SETTINGS

    known = set(RECURRENT_SETTINGS["default"]) | set(TRAINING_SETTINGS) | set(ablation.RUN_OPTIONS)
    seeds = {}
    for name, (seed, change, what, rel) in ablation.CAVE_X4_UPDOWN.items():
        assert set(change) <= known and all(ablation.CAVE_X4_BASE[k] != v for k, v in change.items()), name
        assert len(change) == (0 if name in ablation.CAVE_X4_REPLICATES else 1), name
        assert what and rel.endswith(".json") and "cave" in rel
        seeds.setdefault(bool(change), []).append(seed)
    assert seeds[False] == seeds[True] == [0, 1, 2]
    recs = ablation.read_cave_x4_runs()
    assert set(ablation.CAVE_X4_REPLICATES) <= set(recs)
    assert all(r["meta"]["scale"] == 4 and r["meta"]["data"] == "cave" for r in recs.values())
    header, rows = ablation.ablation_rows(recs, ablation.CAVE_X4_UPDOWN, ablation.CAVE_X4_BASE,
                                          ablation.CAVE_X4_REPLICATES)
    assert [r[0] for r in rows] == list(recs)


def test_paired_wins_needs_every_seed_above_its_pair():
    def rec(v):
        return {"final_validation": {"val_psnr": v}}

    pairs = [("c0", "r0"), ("c1", "r1"), ("c2", "r2")]
    base = {"r0": rec(30.0), "r1": rec(30.1), "r2": rec(30.5)}
    assert ablation.paired_wins({**base, "c0": rec(30.2), "c1": rec(30.2), "c2": rec(30.6)}, pairs) is True
    # above the recipe's mean is not enough: c2 is under its own pair
    assert ablation.paired_wins({**base, "c0": rec(30.2), "c1": rec(30.2), "c2": rec(30.4)}, pairs) is False
    assert ablation.paired_wins({**base, "c0": rec(30.2), "c1": rec(30.1)}, pairs) is False   # a tie is no win
    assert ablation.paired_wins({**base, "c0": rec(30.2), "c1": rec(30.2)}, pairs) is None    # c2 unfinished


def test_paired_rows_compare_each_seed_with_itself():
    def rec(seed, v):
        return {"config": {"seed": seed}, "final_validation": {"val_psnr": v}}

    recs = {"recipe": rec(0, 30.0), "recipe_s1": rec(1, 30.5), "updown_subpixel": rec(0, 30.3),
            "updown_subpixel_s1": rec(1, 30.4), "recipe_s2": rec(2, 31.0)}
    header, rows = ablation.paired_rows(recs, ablation.SUBPIXEL_PAIRS)
    assert len(header) == 4
    assert rows[:2] == [[0, "30.00", "30.30", "+0.30"], [1, "30.50", "30.40", "-0.10"]]
    assert rows[2][-1] == "+0.10 (1 of 2 above)"                 # seed 2 unfinished: left out, not counted
    recs["updown_subpixel_s1"] = rec(2, 30.4)
    with pytest.raises(ValueError, match="different seeds"):
        ablation.paired_rows(recs, ablation.SUBPIXEL_PAIRS)


def test_plot_pairs_draws_one_line_per_finished_pair():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def rec(seed, v):
        return {"config": {"seed": seed}, "final_validation": {"val_psnr": v}}

    recs = {"recipe": rec(0, 30.0), "updown_subpixel": rec(0, 30.3), "recipe_s1": rec(1, 30.5)}
    ax = ablation.plot_pairs(recs, ablation.SUBPIXEL_PAIRS)
    (line,) = ax.get_lines()
    assert list(line.get_ydata()) == [30.0, 30.3]
    plt.close("all")
