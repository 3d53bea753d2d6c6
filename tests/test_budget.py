"""Training cost read from records: the init_from chain, its digest check, costs at the fastest recorded speed."""
import json

import matplotlib
import pytest

matplotlib.use("Agg")

from mmsr import budget, plot
from mmsr.recipes import WEIGHTS_DIR


def _record(model="lmcsc", steps=100, seconds=200.0, digest="a" * 64, init_from=None, parameters=10):
    meta = {"model": model, "scale": 2, "name": f"{model}_x2", "settings": {"batch_size": 16, "patch_size": 48}}
    if init_from:
        meta["init_from"] = init_from
    return {"meta": meta, "steps": steps, "train_seconds": seconds, "parameters": parameters,
            "config": {"batch_size": 16}, "weights_file": {"file": "weights.safetensors", "tensors_sha256": digest}}


def _write(path, rec):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rec))
    return path


def test_chain_follows_init_from_to_committed_and_run_folder_records(tmp_path):
    # committed weights (X.json beside X.safetensors) -> a continuation in a run folder -> a second continuation
    _write(tmp_path / "w" / "lmcsc_x2.json", _record(steps=3300, seconds=3300 * 3.0, digest="p" * 64))
    mid = _write(tmp_path / "e" / "cont" / "record.json",
                 _record(steps=700, seconds=700 * 2.0, digest="m" * 64,
                         init_from={"file": "w/lmcsc_x2.safetensors", "tensors_sha256": "p" * 64}))
    last = _write(tmp_path / "e" / "cont2" / "record.json",
                  _record(steps=100, seconds=500.0, init_from={"file": "e/cont/weights.safetensors"}))
    chain = budget.training_chain(last, root=tmp_path)
    assert [r["steps"] for r in chain] == [3300, 700, 100]
    cost = budget.run_cost(chain)
    assert cost["steps"] == 4100 and cost["runs"] == 3
    assert cost["minutes"] == pytest.approx((9900 + 1400 + 500) / 60)
    # all three are one configuration: every step at the fastest recorded 2.0 s
    assert cost["minutes_at_fastest"] == pytest.approx(4100 * 2.0 / 60)
    assert len(budget.training_chain(mid, root=tmp_path)) == 2


def test_chain_refuses_a_parent_retrained_since_and_a_missing_parent(tmp_path):
    _write(tmp_path / "w" / "lmcsc_x2.json", _record(digest="new" + "0" * 61))
    child = _write(tmp_path / "c" / "record.json",
                   _record(init_from={"file": "w/lmcsc_x2.safetensors", "tensors_sha256": "old" + "0" * 61}))
    with pytest.raises(ValueError, match="retrained since"):
        budget.training_chain(child, root=tmp_path)
    orphan = _write(tmp_path / "o" / "record.json", _record(init_from={"file": "gone/weights.safetensors"}))
    with pytest.raises(FileNotFoundError, match="training record"):
        budget.training_chain(orphan, root=tmp_path)
    with pytest.raises(FileNotFoundError, match="no training record"):
        budget.training_chain(tmp_path / "nothing.json", root=tmp_path)


def test_best_validation_weights_are_a_valid_parent(tmp_path):
    rec = _record(digest="f" * 64)
    rec["best_weights_file"] = {"file": "best.safetensors", "step": 50, "tensors_sha256": "b" * 64}
    _write(tmp_path / "p" / "record.json", rec)
    child = _write(tmp_path / "c" / "record.json",
                   _record(init_from={"file": "p/best.safetensors", "tensors_sha256": "b" * 64}))
    assert len(budget.training_chain(child, root=tmp_path)) == 2


def test_fastest_speed_is_per_configuration_and_prices_every_run_alike():
    slow, fast = _record(steps=100, seconds=300.0), _record(steps=100, seconds=150.0)
    other = _record(model="djf", steps=100, seconds=100.0, parameters=99)
    speeds = budget.fastest_seconds_per_step([slow, fast, other])
    assert speeds[budget.speed_key(slow)] == pytest.approx(1.5)
    assert speeds[budget.speed_key(other)] == pytest.approx(1.0)
    # the slow run costs what the fast one does at the pooled speed; recorded minutes still differ
    assert budget.run_cost([slow], speeds)["minutes_at_fastest"] == pytest.approx(2.5)
    assert budget.run_cost([slow], speeds)["minutes"] == pytest.approx(5.0)
    with pytest.raises(KeyError, match="no recorded speed"):
        budget.run_cost([other], {budget.speed_key(slow): 1.0})
    with pytest.raises(ValueError, match="no steps"):
        budget.seconds_per_step({**slow, "train_seconds": 0})


def test_budget_rows_and_the_plot_put_each_scored_run_at_its_cost(tmp_path):
    a0 = _write(tmp_path / "a0" / "record.json", _record(steps=100, seconds=120.0))
    a1 = _write(tmp_path / "a1" / "record.json", _record(steps=100, seconds=240.0))
    b0 = _write(tmp_path / "b0" / "record.json", _record(model="djf", steps=200, seconds=60.0, parameters=50))
    summ = {"a": {"test": {"mean": 30.0}, "country-heldout": {"mean": 28.0}}, "a seed 1": {"test": {"mean": 31.0}},
            "b": {"test": {"mean": 29.0}}}
    runs = {"A": [("a", a0), ("a seed 1", a1)], "B": [("b", b0), ("b seed 1", b0)]}   # b seed 1: not scored
    rows = budget.budget_rows(runs, summ, root=tmp_path)
    assert [(r["group"], r["name"]) for r in rows] == [("A", "a"), ("A", "a seed 1"), ("B", "b")]
    assert rows[1]["minutes_at_fastest"] == pytest.approx(2.0) and rows[1]["minutes"] == pytest.approx(4.0)
    assert rows[0]["psnr"] == {"test": 30.0, "country-heldout": 28.0} and rows[1]["psnr"]["country-heldout"] is None
    table = budget.cost_table(rows, 2)
    assert "| A | a seed 1 | 100 | 4 | 2 | 31.00 | - |" in table
    from mmsr.tables import unlabelled_columns
    assert unlabelled_columns(table) == []
    ax = plot.psnr_against_budget(rows, "test")
    # A: two seeds and their mean marker; B: one seed, no mean marker
    offsets = [c.get_offsets().tolist() for c in ax.collections]
    assert offsets == [[[2.0, 30.0], [2.0, 31.0]], [[2.0, 30.5]], [[1.0, 29.0]]]
    assert "2 seeds, 10 parameters" in ax.get_legend().get_texts()[0].get_text()
    ax = plot.psnr_against_budget(rows, "country-heldout", cost="steps")
    assert [c.get_offsets().tolist() for c in ax.collections] == [[[100.0, 28.0]]]
    # a hidden group keeps its colour: B stays C1 when A is not drawn
    ax = plot.psnr_against_budget(rows, "test", hide=("A",))
    assert [c.get_offsets().tolist() for c in ax.collections] == [[[1.0, 29.0]]]
    assert matplotlib.colors.same_color(ax.collections[0].get_facecolor()[0], "C1")
    ax = plot.psnr_against_budget(rows, "test", colors={"B": "k"})
    assert matplotlib.colors.same_color(ax.collections[-1].get_facecolor()[0], "k")
    matplotlib.pyplot.close("all")


def test_every_committed_continuation_chains_back_to_a_run_from_scratch():
    # the records in the repository: every init_from resolves, digests agree, and the chain starts from scratch
    records = sorted(WEIGHTS_DIR.glob("experiments/*/record.json"))
    continued = [p for p in records if json.loads(p.read_text())["meta"].get("init_from")]
    assert continued, "no committed continuation to check"
    for p in continued:
        chain = budget.training_chain(p)
        assert len(chain) >= 2 and not chain[0]["meta"].get("init_from"), p


def test_seed_runs_follow_the_naming_of_the_seed_runs(tmp_path):
    committed = _write(tmp_path / "m_x2.json", _record())
    _write(tmp_path / "exp" / "m_x2_seed2" / "record.json", _record())
    _write(tmp_path / "exp" / "v_x2_seed0" / "record.json", _record())
    assert budget.seed_runs("m", "m_x2", committed, experiments=tmp_path / "exp") == [
        ("m", committed), ("m seed 2", tmp_path / "exp" / "m_x2_seed2" / "record.json")]   # seed 1: no record
    assert budget.seed_runs("m v", "v_x2", experiments=tmp_path / "exp") == [
        ("m v", tmp_path / "exp" / "v_x2_seed0" / "record.json")]
    # committed weights of another seed take that seed's place
    assert budget.seed_runs("m", "m_x2", committed, experiments=tmp_path / "exp", committed_seed=2) == [
        ("m seed 2", committed)]
    # the repository's own: LMCSC x2's committed weights are seed 0 of the 32-map, 32-px runs
    runs = budget.nir_seed_runs(2)
    assert [(n, p.relative_to(WEIGHTS_DIR).as_posix()) for n, p in runs["LMCSC, 32 maps, 32-px patches"]] == [
        ("lmcsc 32 maps 32px", "lmcsc_x2.json"),
        ("lmcsc 32 maps 32px seed 1", "experiments/lmcsc_x2_maps32_patch32_14533steps_seed1/record.json"),
        ("lmcsc 32 maps 32px seed 2", "experiments/lmcsc_x2_maps32_patch32_14533steps_seed2/record.json")]
    assert [n for n, _ in runs["LMCSC, 4,000 steps"]] == [
        "lmcsc 4000 steps", "lmcsc 4000 steps seed 1", "lmcsc 4000 steps seed 2"]
    assert [n for n, _ in runs["LMCSC, 3,300 steps"]] == [
        "lmcsc 3300 steps", "lmcsc 3300 steps seed 1", "lmcsc 3300 steps seed 2"]


def test_nir_seed_runs_name_existing_records_and_the_panels_draw_them(tmp_path):
    runs = budget.nir_seed_runs(4)
    assert set(runs) == set(budget.NIR_SEED_RUNS[4])
    assert all(set(budget.NIR_SEED_RUNS[s]) <= set(budget.NIR_COLORS) for s in budget.NIR_SEED_RUNS)
    assert [n for n, _ in runs["recurrent"]] == ["recurrent", "recurrent seed 1", "recurrent seed 2"]
    assert all(p.is_file() for seeds in runs.values() for _, p in seeds)
    with pytest.raises(ValueError, match="no NIR seed runs at x3"):
        budget.nir_seed_runs(3)
    rows = [{"group": "SRCNN", "name": "srcnn", "minutes_at_fastest": 10.0, "parameters": 5,
             "psnr": {"test": 28.0, "country-heldout": 29.0}},
            {"group": "LMCSC", "name": "lmcsc", "minutes_at_fastest": 60.0, "parameters": 7,
             "psnr": {"test": 34.0, "country-heldout": 28.5}}]
    fig = plot.equal_cost_panels(rows, 4, budget.NIR_COLORS)
    test_ax, land_ax = fig.axes
    assert [c.get_offsets().tolist() for c in test_ax.collections] == [[[60.0, 34.0]]]   # SRCNN hidden on test
    assert len(land_ax.collections) == 2 and "SRCNN" in test_ax.get_title()
    assert [t.get_text()[:5] for t in fig.legends[0].get_texts()] == ["SRCNN", "LMCSC"]
    assert matplotlib.colors.same_color(land_ax.collections[1].get_facecolor()[0], budget.NIR_COLORS["LMCSC"])
    for s, groups in budget.NIR_SEED_RUNS.items():   # one figure's groups never share a colour
        assert len({budget.NIR_COLORS[g] for g in groups}) == len(groups), s
    # twelve groups (x2): the legend takes three columns, and every group is in it
    many = [{**rows[1], "group": g, "name": g} for g in budget.NIR_SEED_RUNS[2]]
    fig = plot.equal_cost_panels(many, 2, budget.NIR_COLORS)
    assert len(fig.legends[0].get_texts()) == len(budget.NIR_SEED_RUNS[2]) == 12 and fig.legends[0]._ncols == 3
    matplotlib.pyplot.close("all")


def test_fitted_schedule_scales_steps_and_milestones_to_the_seconds():
    from mmsr.budget import fitted_schedule

    s = fitted_schedule(120, 0.04, 20000, (12000, 16000))
    assert s == {"steps": 3000, "milestones": (1800, 2400), "val_every": 750}
    # milestones at or past the recipe's end, or collapsing to step 0, are dropped
    assert fitted_schedule(3, 1.0, 100, (0, 1, 50, 100))["milestones"] == (2,)
    assert fitted_schedule(0.5, 1.0, 100)["steps"] == 1
    for bad in [(0, 1.0, 100), (10, 0, 100), (10, 1.0, 0), (float("nan"), 1.0, 100)]:
        with pytest.raises(ValueError, match="must be"):
            fitted_schedule(*bad)


def test_budget_fit_cli_reads_the_recipe_of_the_calibrated_run(tmp_path, capsys):
    from mmsr.budget import main
    from mmsr.recipes import TRAINABLE

    rec = {"meta": {"model": "recurrent", "mode": "full"}, "steps": 60, "train_seconds": 3.0}
    (tmp_path / "record.json").write_text(json.dumps(rec))
    assert main(["fit", str(tmp_path / "record.json"), "100"]) == 0
    full = TRAINABLE["recurrent"][0]["full"]
    m = [round(x * 2000 / full["steps"]) for x in full["milestones"]]
    import shlex

    assert shlex.split(capsys.readouterr().out) == ["--set", "steps=2000", "--set", f"milestones=({m[0]}, {m[1]})",
                                               "--set", "val_every=500"]


def test_device_rows_read_throughput_and_scores_and_skip_missing_records(tmp_path):
    from mmsr.budget import device_rows, device_table, patches_per_second

    rec = {"device": "cuda:X", "parameters": 1000, "steps": 300, "train_seconds": 60.0,
           "config": {"batch_size": 32}, "meta": {"settings": {"batch_size": 32}},
           "final_validation": {"val_psnr": 35.5}}
    (tmp_path / "a.json").write_text(json.dumps(rec))
    assert patches_per_second(rec) == 160.0
    summ = {"gpu run": {"test": {"mean": 36.25}}}
    rows = device_rows({"A": ("gpu run", "a.json"), "B": ("absent", "b.json")}, summ, root=tmp_path)
    assert [r["label"] for r in rows] == ["A"]
    assert rows[0]["minutes"] == 1.0 and rows[0]["psnr"] == {"test": 36.25, "country-heldout": None}
    table = device_table(rows, 4)
    assert "| A | cuda:X | 1,000 | 300 | 1.0 | 160 | 35.50 | 36.25 | - |" in table
    # a 4,000-step LMCSC x2 continues a 3,300-step run: the row counts both
    lmcsc = device_rows({"L": ("lmcsc", "experiments/lmcsc_x2_4000steps_seed2/record.json")}, summ)[0]
    assert lmcsc["chain"] == [3300, 700] and lmcsc["steps"] == 4000 and lmcsc["minutes"] > 100


def test_device_runs_name_records_that_exist():
    from mmsr.budget import DEVICE_RUNS

    for scale, runs in DEVICE_RUNS.items():
        for label, (name, rel) in runs.items():
            rec = json.loads((WEIGHTS_DIR / rel).read_text())
            assert rec["meta"]["scale"] == scale, label


def _smoke_record(guide, seconds=30.0):
    from mmsr.recipes import LMCSC_SETTINGS

    settings = {**LMCSC_SETTINGS["smoke"], "guide": guide}
    return {"meta": {"model": "lmcsc", "scale": 2, "settings": settings}, "steps": 10, "train_seconds": seconds,
            "config": {"batch_size": settings["batch_size"]}}


def test_step_seconds_times_each_configuration_in_turn_on_its_own_guide(tmp_path, capsys):
    import torch

    recs = {"gray": _smoke_record("gray"), "rgb": _smoke_record("rgb", seconds=50.0)}
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    out = budget.step_seconds(recs, steps=3, warmup=1)
    assert torch.equal(torch.rand(3), expected)   # the global random state untouched
    assert list(out) == ["gray", "rgb"]
    assert all(len(m["seconds_each"]) == 3 and m["seconds"] > 0 for m in out.values())
    assert out["gray"]["seconds"] == sorted(out["gray"]["seconds_each"])[1]   # the median
    assert 0 < out["gray"]["gflop"] < out["rgb"]["gflop"]   # the colour guide's filters read three channels
    assert (out["gray"]["recorded_seconds"], out["rgb"]["recorded_seconds"]) == (3.0, 5.0)
    # refused before anything is built or timed
    with pytest.raises(ValueError, match="steps must be >= 1"):
        budget.step_seconds(recs, steps=0)
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        budget.step_seconds({**recs, "bad": {"meta": {"model": "nope", "scale": 2, "settings": {}}}})
    # the command line appends one line per label, with the machine's conditions
    paths = [_write(tmp_path / f"{k}.json", r) for k, r in recs.items()]
    target = tmp_path / "steps.jsonl"
    assert budget.main(["steps", f"gray={paths[0]}", f"rgb={paths[1]}", "--steps", "1", "--out", str(target)]) == 0
    lines = [json.loads(x) for x in target.read_text().splitlines()]
    assert [x["label"] for x in lines] == ["gray", "rgb"] and all(x["threads"] == 1 for x in lines)
    assert "s per step" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="LABEL=RECORD"):
        budget.main(["steps", f"x={tmp_path / 'missing.json'}", "--out", str(target)])


def test_side_by_side_speeds_price_every_run_with_the_latest_session_of_timings(tmp_path):
    a0 = _write(tmp_path / "a0" / "record.json", _record(steps=100, seconds=120.0))
    b0 = _write(tmp_path / "b0" / "record.json", _record(model="djf", steps=200, seconds=60.0, parameters=50))
    lines = [{"record": "a0/record.json", "seconds": 9.0, "time_utc": "2026-12-01T10:00:00+00:00"},   # older day
             {"record": "a0/record.json", "seconds": 3.0, "time_utc": "2026-12-06T10:00:00+00:00"},
             {"record": "b0/record.json", "seconds": 1.5, "time_utc": "2026-12-06T10:02:00+00:00"}]
    steps = tmp_path / "results" / "speed" / "train_steps.jsonl"
    steps.parent.mkdir(parents=True)
    steps.write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert budget.read_step_times(root=tmp_path / "missing") == {}
    speeds = budget.read_step_times(root=tmp_path)
    assert sorted(speeds.values()) == [1.5, 3.0]   # the old day's 9 s left out
    summ = {"a": {"test": {"mean": 30.0}}, "b": {"test": {"mean": 29.0}}}
    rows = budget.budget_rows({"A": [("a", a0)], "B": [("b", b0)]}, summ, root=tmp_path, side_by_side=speeds)
    assert [r["minutes_side_by_side"] for r in rows] == [pytest.approx(5.0), pytest.approx(5.0)]
    assert "| A | a | 100 | 2 | 2 | 5 | 30.00 | - |" in budget.cost_table(rows, 2)
    assert budget.cost_table(rows, 2, title="two models").startswith("**x2, two models**")
    assert "timed side by side" not in budget.cost_table(budget.budget_rows({"A": [("a", a0)]}, summ), 2)
    with pytest.raises(KeyError, match="no recorded speed"):   # a configuration never timed is not guessed
        budget.budget_rows({"A": [("a", a0)], "B": [("b", b0)]}, summ, root=tmp_path,
                           side_by_side={k: v for k, v in speeds.items() if v == 3.0})


@pytest.mark.parametrize("timings", [str(budget.STEP_TIMES), "results/speed/x2_full_length.jsonl",
                                     "results/speed/recurrent_x2_atoms16.jsonl"])
def test_the_committed_step_timings_name_records_that_exist(timings):
    """Each line of a committed step timing (``python -m mmsr.budget steps``: results/speed/train_steps.jsonl,
    chapter 5's clock for the x2 runs at full length, chapter 7's for the 16-atom recurrent run) names the training record of the configuration it timed; when
    committed weights move (the LMCSC x4 swap of 2026-12-06), a stale path would price runs with another
    configuration's speed or fail the chapter: every path exists, names the run whose recorded speed the line
    carries, and the latest session reads without error."""
    from mmsr.budget import REPO_ROOT

    path = REPO_ROOT / timings
    if not path.is_file():
        pytest.skip("no committed step timings")
    lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    missing = [x["record"] for x in lines if not (REPO_ROOT / x["record"]).is_file()]
    assert lines and missing == []
    for x in lines:   # an LMCSC label naming the colour guide times a colour-guide record, and only then
        rec = json.loads((REPO_ROOT / x["record"]).read_text())
        assert x["label"].split()[0].lower() == rec["meta"]["model"], x["label"]
        # the very run it timed: a path that now names other weights (the committed file after a swap) has
        # another run's recorded speed -- and may price another configuration
        if x.get("recorded_seconds") is not None:
            assert budget.seconds_per_step(rec) == pytest.approx(x["recorded_seconds"]), (x["label"], x["record"])
        if rec["meta"]["model"] == "lmcsc":
            assert ("colour guide" in x["label"]) == (rec["meta"]["settings"].get("guide") == "rgb"), x["label"]
    assert budget.read_step_times(path)


def test_schedule_text_reads_every_run_of_a_continuation(tmp_path):
    first = _record(steps=3300, seconds=5760.0)
    first["meta"]["settings"].update(lr=1e-3, milestones=[2500, 3400])
    first["git_commit"] = "aaaaaaaa11"
    cont = _record(steps=700, seconds=1020.0)
    cont["meta"]["settings"].update(lr=2.5e-4, milestones=[1000])
    cont["git_commit"] = "bbbbbbbb22"
    text = budget.schedule_text([first, cont])
    assert text == {"steps": "3,300 + 700", "learning rate": "0.001, halved at [2500]; then 0.00025",
                    "minutes": "113", "commit": "aaaaaaaa + bbbbbbbb"}
    # the 4,000-step LMCSC x2 runs are such continuations (seed 2 was the committed one on 2026-12-06)
    chain = budget.training_chain(WEIGHTS_DIR / "experiments" / "lmcsc_x2_4000steps_seed2" / "record.json")
    assert budget.schedule_text(chain)["steps"] == "3,300 + 700"


def test_merged_record_draws_a_continuation_with_the_run_behind_it():
    first = {**_record(steps=100, seconds=600.0), "history": [{"step": 50, "val_psnr": 30.0},
                                                               {"step": 100, "val_psnr": 31.0}]}
    cont = {**_record(steps=20, seconds=60.0, init_from={"file": "x.safetensors"}),
            "history": [{"step": 10, "val_psnr": 31.5}, {"step": 20, "val_psnr": 32.0}]}
    m = budget.merged_record([first, cont])
    assert m["steps"] == 120 and m["train_seconds"] == 660.0 and m["meta"]["chain"] == [100, 20]
    assert "init_from" not in m["meta"] and "init_from" in cont["meta"]   # the input is left as it was
    assert [h["step"] for h in m["history"]] == [50, 100, 110, 120]
    # each run at its own speed: 6 s per step, then 3 s per step
    assert [h["minutes"] for h in m["history"]] == pytest.approx([5.0, 10.0, 10.5, 11.0])
    assert plot.psnr_at_minutes(m, 10.75) == pytest.approx(31.75)
    assert plot.common_minutes({"a": m, "b": first})[0] == pytest.approx(10.0)
    with pytest.raises(ValueError, match="empty"):
        budget.merged_record([])


def test_each_nir_seed_group_is_one_recipe_run_with_the_seed_its_name_says():
    # a group mixes no recipes: when the committed weights change recipe (as LMCSC x4 did, to the colour guide with
    # a moving average), the group's folder must follow, or its "seeds" would be two recipes' runs
    from mmsr.ablation import RUN_OPTIONS
    from mmsr.recipes import TRAINABLE, TRAINING_SETTINGS

    ignored = {"seed", "val_every", "ckpt_every", "progress"}

    def settings(rec):   # older records lack keys added since: those read as the recipe's defaults
        meta = rec["meta"]
        return {**TRAINING_SETTINGS, **TRAINABLE[meta["model"]][0][meta["mode"]], **meta["settings"],
                **{k: meta.get(k, v) for k, v in RUN_OPTIONS.items()}}   # guide augmentation is a recipe too

    for s in budget.NIR_SEED_RUNS:
        for group, seeds in budget.nir_seed_runs(s).items():
            recs = [(n, json.loads(p.read_text())) for n, p in seeds]
            assert recs, (s, group, "no record in its folder")   # a misspelt folder must not pass as empty
            first = settings(recs[0][1])
            for name, rec in recs:
                k = int(name.rsplit(" seed ", 1)[1]) if " seed " in name else 0
                assert rec["config"]["seed"] == k, (s, group, name)
                st = settings(rec)
                differ = {key for key in (set(st) | set(first)) - ignored if st.get(key) != first.get(key)}
                assert not differ, (s, group, name, differ)
    lmcsc = [settings(json.loads(p.read_text())) for _, p in budget.nir_seed_runs(4)["LMCSC"]]
    assert [(st["guide"], st["ema"]) for st in lmcsc] == [("rgb", 0.999)] * 3


def test_merged_record_on_a_timed_clock_and_the_curves_by_group():
    # a clock timed side by side prices every run of a chain at its configuration's speed, not its recorded one
    first = {**_record(steps=100, seconds=600.0), "history": [{"step": 100, "val_psnr": 31.0}]}
    cont = {**_record(steps=20, seconds=60.0, init_from={"file": "x.safetensors"}),
            "history": [{"step": 20, "val_psnr": 32.0}]}
    other = {**_record(model="djf", steps=50, seconds=50.0, parameters=50), "history": [{"step": 50, "val_psnr": 30.0}]}
    clock = {budget.speed_key(first): 1.2, budget.speed_key(other): 0.6}
    m = budget.merged_record([first, cont], clock=clock)
    assert [h["minutes"] for h in m["history"]] == pytest.approx([2.0, 2.4])
    assert m["train_seconds"] == 660.0   # the recorded wall time stays what it was
    with pytest.raises(KeyError, match="no timed speed"):
        budget.merged_record([other], clock={budget.speed_key(first): 1.2})
    ax = plot.validation_by_group({"A": [m, m], "B": [budget.merged_record([other], clock=clock)]},
                                  colors={"B": "k"})
    assert len(ax.lines) == 3 and ax.lines[2].get_color() == "k" and ax.lines[1].get_linestyle() == "--"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["A (2 seeds)", "B (1 seed)"]
    assert list(ax.lines[2].get_xdata()) == pytest.approx([0.5])
    with pytest.raises(ValueError, match="without a validation history"):
        plot.validation_by_group({"C": [_record()]})
