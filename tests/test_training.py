import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from mmsr.checks import CheckpointMismatchError
from mmsr.training import TrainConfig, Trainer, atomic_write_json, load_weights, patch_batches


def tiny_model():
    torch.manual_seed(0)
    return nn.Conv2d(1, 1, 3, padding=1)


def synthetic_batches(step, rank=0, world=1):
    g = torch.Generator().manual_seed(1000 + step)
    x = torch.rand(8, 1, 6, 6, generator=g)
    y = 0.5 * x + 0.1
    part = torch.arange(8).chunk(world)[rank]
    return (x[part],), y[part]


def _cfg(**kw):
    base = dict(steps=20, batch_size=8, lr=1e-2, progress=False, seed=0, ckpt_every=5)
    base.update(kw)
    return TrainConfig(**base)


def test_training_reduces_loss_and_writes_record(tmp_path):
    val = lambda m: {"mse": float(((m(synthetic_batches(99)[0][0]) - synthetic_batches(99)[1]) ** 2).mean().detach())}
    before = val(tiny_model())["mse"]
    res = Trainer(tiny_model(), _cfg(val_every=10), synthetic_batches, val, tmp_path, "cpu",
                  meta={"name": "t", "data": "synthetic"}).fit()
    assert res.record["final_validation"]["mse"] < before
    rec = json.loads((tmp_path / "record.json").read_text())
    for key in ("config", "meta", "git_commit", "device", "train_seconds", "final_validation", "history"):
        assert key in rec
    assert rec["config"]["seed"] == 0 and rec["steps"] == 20 and rec["meta"]["data"] == "synthetic"
    assert [h["step"] for h in rec["history"]] == [10, 20]
    assert (tmp_path / "weights.safetensors").is_file() and (tmp_path / "checkpoint-00000020.pt").is_file()
    # the last two checkpoints are kept, each with its sidecar record
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*")) == [
        "checkpoint-00000015.json", "checkpoint-00000015.pt", "checkpoint-00000020.json", "checkpoint-00000020.pt"]


def test_best_validation_weights_are_kept_beside_the_final_ones(tmp_path):
    from mmsr.storage import read_weights
    from mmsr.training import BEST_WEIGHTS, best_validation

    scores = iter([30.0, 32.0, 31.0, 32.0])   # the best at step 10; step 20 only ties it, step 15 is worse
    seen = {}

    def val(m):
        seen[len(seen)] = {k: v.detach().clone() for k, v in m.state_dict().items()}
        return {"val_psnr": next(scores)}

    res = Trainer(tiny_model(), _cfg(val_every=5), synthetic_batches, val, tmp_path, "cpu").fit()
    assert res.record["best_validation"] == {"step": 10, "val_psnr": 32.0}
    assert res.record["final_validation"]["step"] == 20
    best, _ = read_weights(tmp_path / BEST_WEIGHTS)
    final, _ = read_weights(tmp_path / "weights.safetensors")
    assert all(torch.equal(best[k], seen[1][k]) for k in best)        # the weights validated at step 10
    assert not all(torch.equal(best[k], final[k]) for k in best)
    assert best_validation([{"step": 1, "mse": 0.1}]) is None
    no_val = Trainer(tiny_model(), _cfg(steps=5), synthetic_batches, out_dir=tmp_path / "n", device="cpu").fit()
    assert no_val.record["best_validation"] is None and not (tmp_path / "n" / BEST_WEIGHTS).exists()


def test_killed_and_resumed_run_gives_identical_weights(tmp_path):
    straight = Trainer(tiny_model(), _cfg(), synthetic_batches, out_dir=tmp_path / "a", device="cpu").fit()
    t1 = Trainer(tiny_model(), _cfg(), synthetic_batches, out_dir=tmp_path / "b", device="cpu")
    t1.fit(stop_after=7)  # "killed" after step 7 (checkpoint written)
    assert t1.step == 7
    t2 = Trainer(tiny_model(), _cfg(), synthetic_batches, out_dir=tmp_path / "b", device="cpu")
    resumed = t2.fit()
    assert t2.step == 20
    for (k, a), (_, b) in zip(straight.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.equal(a, b), k


def test_checkpoint_from_other_model_is_refused(tmp_path):
    Trainer(tiny_model(), _cfg(steps=2), synthetic_batches, out_dir=tmp_path, device="cpu").fit()
    other = nn.Conv2d(1, 1, 5, padding=2)
    with pytest.raises(CheckpointMismatchError, match="different model"):
        Trainer(other, _cfg(steps=4), synthetic_batches, out_dir=tmp_path, device="cpu").fit()
    with pytest.raises(CheckpointMismatchError, match="different model"):
        load_weights(other, tmp_path / "weights.safetensors")
    with pytest.raises(CheckpointMismatchError, match="another configuration"):
        Trainer(tiny_model(), _cfg(steps=4, lr=0.5), synthetic_batches, out_dir=tmp_path, device="cpu").fit()
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(1)}, tmp_path / "junk.safetensors")
    with pytest.raises(ValueError, match="not mmsr weights"):
        load_weights(tiny_model(), tmp_path / "junk.safetensors")


def test_lr_schedule_and_config_errors():
    cfg = TrainConfig(lr=1.0, lr_milestones=(10, 20), lr_gamma=0.1)
    assert [cfg.lr_at(s) for s in (0, 9, 10, 19, 20)] == pytest.approx([1, 1, 0.1, 0.1, 0.01])
    with pytest.raises(ValueError, match="unknown loss"):
        TrainConfig(loss="huber")


def test_log_mse_loss_weighs_every_sample_alike_and_trains():
    """The "log_mse" loss is the mean of 10 log10(sample MSE): a sample whose error halves lowers it by the same
    3.01 dB whatever its size, so a sample with a small error is not drowned by one with a large error (the pooled
    MSE barely moves)."""
    trainer = Trainer(tiny_model(), _cfg(loss="log_mse"), synthetic_batches, out_dir=None, device="cpu")
    target = torch.zeros(2, 1, 4, 4)
    big, small = torch.full((1, 1, 4, 4), 1.0), torch.full((1, 1, 4, 4), 0.01)
    before = float(trainer._loss(torch.cat([big, small]), target))
    assert before == pytest.approx(10 * (0 + -4) / 2)
    halved = small / 2 ** 0.5   # the small sample's MSE halved
    assert float(trainer._loss(torch.cat([big, halved]), target)) == pytest.approx(before - 10 * 0.30103 / 2, abs=1e-4)
    mse = Trainer(tiny_model(), _cfg(), synthetic_batches, out_dir=None, device="cpu")
    assert float(mse._loss(torch.cat([big, small]), target)) - float(mse._loss(torch.cat([big, halved]), target)) \
        < 1e-4
    (x,), y = synthetic_batches(0)
    with torch.no_grad():
        start = float(trainer._loss(trainer.model(x), y))
    res = trainer.fit()
    assert res.record["config"]["loss"] == "log_mse" and res.record["last_train_loss"] < start - 3


def test_atomic_write_leaves_no_partial_file(tmp_path):
    path = tmp_path / "r.json"
    atomic_write_json(path, {"a": 1})
    with pytest.raises(TypeError):
        atomic_write_json(path, {"a": object()})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_patch_batches_cover_an_epoch():
    class P:
        def __len__(self):
            return 10

        def batch(self, idx):
            return idx[:, None].float(), idx[:, None].float(), idx[:, None].float()

    get = patch_batches(P(), 5, seed=1)
    seen = torch.cat([get(0)[1], get(1)[1]]).flatten().tolist()
    assert sorted(seen) == list(range(10))
    a, b = get(0, 0, 2)[1], get(0, 1, 2)[1]
    assert torch.equal(torch.cat([a, b]), get(0)[1])


@pytest.mark.slow
def test_ddp_two_processes_gloo_matches_single_process(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(Path(__file__).parent / "ddp_worker.py"), str(tmp_path)]
    subprocess.run(cmd, check=True, env=env, timeout=300, capture_output=True)
    w0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    w1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    single = Trainer(tiny_model(), TrainConfig(steps=6, batch_size=8, lr=1e-2, progress=False, seed=0),
                     synthetic_batches, device="cpu").fit().model.state_dict()
    for k in w0:
        assert torch.equal(w0[k], w1[k])
        assert torch.allclose(w0[k], single[k], atol=1e-6)
    rec = json.loads((tmp_path / "record.json").read_text())
    assert rec["world_size"] == 2


@pytest.mark.parametrize("model", ["srcnn", "cscn", "coista", "srfbn", "lmcsc", "djf", "djf_depth", "recurrent", "lmcsc_cave",
                                   "recurrent_cave", "coista_cave", "srfbn_cave", "vtsrcnn", "vtsrgan_vt", "djf_vt", "vtsrgan_depth"])
def test_cli_trains_in_smoke_mode_and_resumes(model, tmp_path):
    from mmsr.train import main

    out = tmp_path / model
    assert main([model, "--scale", "2", "--mode", "smoke", "--out", str(out), "--no-progress", "--steps", "4"]) == 0
    rec = json.loads((out / "record.json").read_text())
    assert rec["steps"] == 4 and rec["meta"]["data"] == "embedded" and rec["meta"]["train_split"] == "train-minus-val"
    # re-running with more steps continues from the checkpoint
    assert main([model, "--scale", "2", "--mode", "smoke", "--out", str(out), "--no-progress", "--steps", "6"]) == 0
    assert json.loads((out / "record.json").read_text())["steps"] == 6
    if model == "srcnn":   # the best validation's weights load with the run's record, as a scored method
        from mmsr.guidance_check import run_method
        from mmsr.training import BEST_WEIGHTS

        best_step = json.loads((out / "record.json").read_text())["best_validation"]["step"]
        net, _, source = run_method(out / BEST_WEIGHTS)
        assert best_step in (4, 6) and source.endswith(BEST_WEIGHTS) and run_method(out)[2] == str(out)
        assert any(not torch.equal(a, b) for a, b in zip(net.state_dict().values(),
                                                          run_method(out)[0].state_dict().values())) == (best_step == 4)


def test_the_same_seed_gives_the_same_run_and_another_seed_another(tmp_path):
    """The seed fixes the whole run, the initial weights included: the model was once built before the seed was
    set, so two runs with one seed started from different draws (found when chapter 7's ablation base was
    re-run). Different processes' global random state must not matter either."""
    from mmsr.recipes import train_model
    from mmsr.storage import read_weights, tensors_digest

    digests = []
    for k, seed in enumerate((0, 0, 1)):
        torch.manual_seed(1000 + k)   # whatever came before must not leak into the run
        train_model("recurrent", 2, "smoke", out_dir=tmp_path / f"r{k}", seed=seed, progress=False, steps=2)
        digests.append(tensors_digest(read_weights(tmp_path / f"r{k}" / "weights.safetensors")[0]))
    assert digests[0] == digests[1] != digests[2]


def test_unknown_setting_is_refused():
    from mmsr.recipes import train_model

    with pytest.raises(ValueError, match="unknown settings"):
        train_model("srcnn", 2, "smoke", learning_rate=1.0)
    with pytest.raises(ValueError, match="unknown trainable"):
        train_model("nope", 2, "smoke")


def test_loss_and_amp_settings_reach_the_trainer_and_bad_ones_are_refused_before_work(tmp_path):
    """``--set loss=l1`` and ``--set amp=False`` are settings of every trainable model: recorded, and the loss
    changes the run (the same seed under MSE ends elsewhere); a bad value is refused before the output folder
    exists."""
    from mmsr.recipes import train_model
    from mmsr.storage import read_weights, tensors_digest

    digests = {}
    for loss in ("mse", "l1"):
        res = train_model("srcnn", 2, "smoke", out_dir=tmp_path / loss, progress=False, steps=2, loss=loss)
        assert res.record["config"]["loss"] == loss
        digests[loss] = tensors_digest(read_weights(tmp_path / loss / "weights.safetensors")[0])
    assert digests["mse"] != digests["l1"]
    with pytest.raises(ValueError, match="unknown loss 'huber'"):
        train_model("srcnn", 2, "smoke", out_dir=tmp_path / "bad", progress=False, loss="huber")
    with pytest.raises(ValueError, match="amp is True or False"):
        train_model("srcnn", 2, "smoke", out_dir=tmp_path / "bad", progress=False, amp="yes")
    assert not (tmp_path / "bad").exists()
    res = train_model("srcnn", 2, "smoke", out_dir=tmp_path / "fp32", progress=False, steps=1, amp=False)
    assert res.record["config"]["amp"] is False and res.record["meta"]["settings"]["amp"] is False


def test_training_under_another_degradation_is_recorded_and_used_for_validation(tmp_path):
    from mmsr.recipes import train_model

    res = train_model("srcnn", 2, "smoke", out_dir=tmp_path / "g", progress=False, degradation="gaussian",
                      steps=2, val_every=2)
    assert res.record["meta"]["degradation"] == "gaussian"
    from mmsr.data import nir_pairs
    from mmsr.evaluate import evaluate, mean_row

    val = nir_pairs("val")[0]
    under = {d: mean_row(evaluate(res.model, val, 2, with_ssim=False, degradation=d))["psnr"]
             for d in ("gaussian", "bicubic")}
    assert res.record["final_validation"]["val_psnr"] == pytest.approx(under["gaussian"], abs=1e-6)
    assert abs(under["gaussian"] - under["bicubic"]) > 0.01
    with pytest.raises(ValueError, match="unknown degradation"):
        train_model("srcnn", 2, "smoke", progress=False, degradation="box")


def test_guide_augmentation_is_recorded_and_bad_values_refused_before_work(tmp_path):
    from mmsr.recipes import train_model

    res = train_model("djf", 2, "smoke", out_dir=tmp_path / "ga", progress=False, guide_augment=0.5, steps=2)
    assert res.record["meta"]["guide_augment"] == 0.5
    plain = train_model("djf", 2, "smoke", progress=False, steps=2)
    assert "guide_augment" not in plain.record["meta"]   # records of runs without it are unchanged
    for bad in (-0.1, 2.0):
        with pytest.raises(ValueError, match="probability"):
            train_model("djf", 2, "smoke", out_dir=tmp_path / "never", progress=False, guide_augment=bad)
    assert not (tmp_path / "never").exists()


def test_training_split_brings_its_validation_split_and_bad_splits_are_refused_before_work(tmp_path):
    from mmsr.recipes import validation_groups, validation_split, train_model

    assert validation_split("train+country") == "val+country" and validation_split("train-minus-val") == "val"
    with pytest.raises(ValueError, match="unknown training split"):
        train_model("srcnn", 2, "smoke", out_dir=tmp_path / "never", progress=False, train_split="country")
    assert not (tmp_path / "never").exists()
    rows = [{"image": "country_0000", "psnr": 30.0}, {"image": "train_0045", "psnr": 34.0},
            {"image": "country_0010", "psnr": 28.0}]
    assert validation_groups(rows) == {"val_psnr_urban": 34.0, "val_psnr_country": 29.0}
    assert validation_groups(rows[1:2]) == {}
    # without a data root the mixed split falls back to its urban part (smoke runs work anywhere)
    res = train_model("srcnn", 2, "smoke", progress=False, steps=2, train_split="train+country")
    assert res.record["meta"]["train_split"] == "train+country" and res.record["meta"]["data"] == "embedded"


def test_init_from_weights_of_another_scale_is_recorded_and_wrong_files_refused(tmp_path):
    from mmsr.storage import read_weights, tensors_digest
    from mmsr.train import main

    x2 = tmp_path / "x2"
    assert main(["lmcsc", "--scale", "2", "--mode", "smoke", "--out", str(x2), "--no-progress", "--steps", "2"]) == 0
    w2 = x2 / "weights.safetensors"
    x4 = tmp_path / "x4"
    # LMCSC works on the HR grid: x2 weights start an x4 run (only the scale differs)
    assert main(["lmcsc", "--scale", "4", "--mode", "smoke", "--out", str(x4), "--no-progress", "--steps", "0",
                 "--init-from", str(w2)]) == 0
    rec = json.loads((x4 / "record.json").read_text())
    assert rec["meta"]["init_from"]["tensors_sha256"] == tensors_digest(read_weights(w2)[0])
    start, _ = read_weights(x4 / "weights.safetensors")   # zero steps: the weights are the x2 ones
    for k, v in read_weights(w2)[0].items():
        assert torch.equal(start[k], v), k
    with pytest.raises(FileNotFoundError, match="no weights file"):
        main(["lmcsc", "--scale", "4", "--mode", "smoke", "--out", str(tmp_path / "a"), "--init-from", "nope.safetensors"])
    with pytest.raises(CheckpointMismatchError, match="different model"):
        main(["srcnn", "--scale", "4", "--mode", "smoke", "--out", str(tmp_path / "b"), "--init-from", str(w2)])
    assert not (tmp_path / "a").exists() or not any((tmp_path / "a").glob("checkpoint-*"))


def test_init_from_another_scale_keeps_scale_shaped_tensors_initialised(tmp_path):
    """The recurrent network's up/down projections have kernel 2 * scale: an x4 -> x8 start copies every other
    tensor, keeps those at the x8 model's own initialisation, and names them in the record."""
    from mmsr.storage import read_weights
    from mmsr.train import main
    from mmsr.training import load_weights_across_scales

    x4 = tmp_path / "x4"
    assert main(["recurrent", "--scale", "4", "--mode", "smoke", "--out", str(x4), "--no-progress", "--steps", "2"]) == 0
    w4 = x4 / "weights.safetensors"
    x8 = tmp_path / "x8"
    assert main(["recurrent", "--scale", "8", "--mode", "smoke", "--out", str(x8), "--no-progress", "--steps", "0",
                 "--init-from", str(w4)]) == 0
    rec = json.loads((x8 / "record.json").read_text())
    assert rec["meta"]["init_from"]["kept_initialised"] == ["down.weight", "skip.weight", "up.weight"]
    start, _ = read_weights(x8 / "weights.safetensors")
    old, _ = read_weights(w4)
    for k, v in old.items():
        if k in ("down.weight", "skip.weight", "up.weight"):
            assert start[k].shape[-1] == 16 and v.shape[-1] == 8
        else:
            assert torch.equal(start[k], v), k
    # the x8 skip keeps its own bilinear start: it is not the trained x4 kernel nor zero
    assert start["skip.weight"].abs().sum() > 0
    # same scale: nothing is kept back
    from mmsr import recipes
    m = recipes._build_recurrent(4, dict(recipes.RECURRENT_SETTINGS["smoke"]))
    build = lambda k, **kw: recipes._build_recurrent(k, {**recipes.RECURRENT_SETTINGS["smoke"], **kw})  # noqa: E731
    assert load_weights_across_scales(build(4), w4, build) == []
    # another size (more atoms) is refused with the differences named, although the tensor names agree
    with pytest.raises(CheckpointMismatchError, match="different model"):
        load_weights_across_scales(build(8, atoms=12), w4, lambda k: build(k, atoms=12))
    with pytest.raises(CheckpointMismatchError, match="different model"):
        main(["recurrent", "--scale", "8", "--mode", "smoke", "--out", str(tmp_path / "c"), "--no-progress",
              "--set", "atoms=12", "--init-from", str(w4)])


def test_lmcsc_on_cave_has_a_one_stage_guide_encoder_and_nir_lmcsc_its_own(tmp_path):
    """Issue #10: LMCSC's three-stage colour guide encoder blew up on CAVE in 2 of 3 seeds; the CAVE recipe uses
    one stage, the NIR recipe keeps its stages (2 in smoke mode), and ``--set guide_layers=3`` (written in the
    records of the runs before the change) restores three."""
    from mmsr.recipes import train_model

    runs = {k: train_model(name, 2, "smoke", out_dir=tmp_path / k, progress=False, steps=1, **extra).model
            for k, name, extra in (("cave", "lmcsc_cave", {}), ("nir", "lmcsc", {}),
                                   ("cave3", "lmcsc_cave", {"guide_layers": 3}))}
    assert {k: m.guide_encoder.layers for k, m in runs.items()} == {"cave": 1, "nir": 2, "cave3": 3}
    assert json.loads((tmp_path / "cave" / "record.json").read_text())["meta"]["settings"]["guide_layers"] == 1


def test_weight_average_is_what_is_validated_and_written_and_resumes_exactly(tmp_path):
    """``ema`` > 0: the run's weights are the moving average (decay min(ema, (1+t)/(10+t)) after step t) of the raw
    weights, computed here by hand from a twin run without it; validation sees the average; killed and resumed, the
    same average comes out."""
    from mmsr.storage import read_weights

    raw = []
    plain = Trainer(tiny_model(), _cfg(steps=12), synthetic_batches, device="cpu")
    for _ in range(12):   # the same steps one at a time, each raw state kept
        plain.config.steps = plain.step + 1
        plain.fit()
        raw.append({k: v.detach().clone() for k, v in plain.model.state_dict().items()})
    cfg = _cfg(steps=12, ema=0.9)
    avg = {k: v.detach().clone() for k, v in tiny_model().state_dict().items()}
    for t, state in enumerate(raw, start=1):
        d = cfg.ema_decay_at(t)
        avg = {k: d * avg[k] + (1 - d) * state[k] for k in avg}
    assert cfg.ema_decay_at(1) == pytest.approx(2 / 11) and cfg.ema_decay_at(1000) == 0.9
    seen = []
    val = lambda m: seen.append({k: v.detach().clone() for k, v in m.state_dict().items()}) or {"val_psnr": 1.0}
    res = Trainer(tiny_model(), cfg, synthetic_batches, val, tmp_path / "a", "cpu").fit()
    written, _ = read_weights(tmp_path / "a" / "weights.safetensors")
    for k in avg:
        assert torch.allclose(written[k], avg[k], atol=1e-6), k
        assert torch.allclose(seen[-1][k], avg[k], atol=1e-6), k
        assert torch.equal(res.model.state_dict()[k], written[k])
        assert not torch.allclose(avg[k], raw[-1][k], atol=1e-4)   # the average is not the last raw state
    t1 = Trainer(tiny_model(), cfg, synthetic_batches, out_dir=tmp_path / "b", device="cpu")
    t1.fit(stop_after=5)
    Trainer(tiny_model(), cfg, synthetic_batches, out_dir=tmp_path / "b", device="cpu").fit()
    resumed, _ = read_weights(tmp_path / "b" / "weights.safetensors")
    assert all(torch.equal(resumed[k], written[k]) for k in written)
    with pytest.raises(ValueError, match="ema is a decay"):
        TrainConfig(ema=1.0)
    with pytest.raises(CheckpointMismatchError, match="another configuration"):   # no average in a plain run
        Trainer(tiny_model(), _cfg(steps=14, ema=0.0), synthetic_batches, out_dir=tmp_path / "b", device="cpu").fit()


def test_ema_setting_reaches_the_trainer_and_a_bad_one_is_refused_before_work(tmp_path):
    from mmsr.recipes import train_model

    res = train_model("srcnn", 2, "smoke", out_dir=tmp_path / "ema", progress=False, steps=2, ema=0.99)
    assert res.record["config"]["ema"] == 0.99 and res.record["meta"]["settings"]["ema"] == 0.99
    with pytest.raises(ValueError, match="ema is a decay"):
        train_model("srcnn", 2, "smoke", out_dir=tmp_path / "bad", progress=False, ema=-0.5)
    assert not (tmp_path / "bad").exists()


def test_lmcsc_reads_the_guide_its_settings_name_and_refuses_an_unknown_one_before_work(tmp_path):
    from mmsr.recipes import TRAINABLE, guide_mode_of, train_model

    res = train_model("lmcsc", 2, "smoke", out_dir=tmp_path / "rgb", progress=False, steps=1, guide="rgb")
    assert res.model.guide_encoder.W.shape[0] == 3 and res.record["meta"]["settings"]["guide"] == "rgb"
    build = TRAINABLE["lmcsc"][1]
    old = {k: v for k, v in res.record["meta"]["settings"].items() if k != "guide"}   # a record from before
    assert build(2, old).guide_encoder.W.shape[0] == 1 and guide_mode_of("lmcsc", old) == "gray"
    assert TRAINABLE["lmcsc_cave"][1](4, old).guide_encoder.W.shape[0] == 3
    with pytest.raises(ValueError, match="guide must be 'rgb' or 'gray'"):
        train_model("lmcsc", 2, "smoke", out_dir=tmp_path / "bad", progress=False, guide="colour")
    assert not (tmp_path / "bad").exists()


def test_committed_weights_report_the_guide_their_record_names(tmp_path, monkeypatch):
    """The guide of committed weights comes from their record, not the recipe's default (a committed LMCSC may read
    the colour guide): for every committed LMCSC the mode agrees with the channels the loaded encoder takes, and a
    record that chooses the colour guide is read as such; without weights the error names the file."""
    import json

    from mmsr import recipes
    from mmsr.guidance_check import committed_method

    for s in (2, 4):
        if recipes.pretrained_path("lmcsc", s).is_file():
            mode = recipes.pretrained_guide_mode("lmcsc", s)
            channels = recipes.load_pretrained("lmcsc", s).guide_encoder.W.shape[0]
            assert channels == {"rgb": 3, "gray": 1}[mode]
            assert committed_method("lmcsc", s)[1] == mode
    res = recipes.train_model("lmcsc", 2, "smoke", out_dir=tmp_path / "run", progress=False, steps=1, guide="rgb")
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "lmcsc_x2.json").write_text(json.dumps(res.record))
    monkeypatch.setattr(recipes, "WEIGHTS_DIR", weights)
    assert recipes.pretrained_guide_mode("lmcsc", 2) == "rgb"
    with pytest.raises(FileNotFoundError, match="lmcsc_x4.safetensors"):
        recipes.pretrained_guide_mode("lmcsc", 4)
