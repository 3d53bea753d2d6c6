"""Every refusal and recovery of a run's files, in one place (issue: weights that cannot run code, training that
survives a real kill, runs that refuse to clobber each other, machine faults before work, data hygiene).

User-input errors (shapes, dtypes, bad files, unknown names) are listed in ``test_bad_inputs.py``.
"""
import errno
import importlib.util
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from mmsr import storage
from mmsr.data import EPFL_NIR_TEST
from mmsr.storage import (CheckpointStore, RunFolderBusyError, RunLock, StorageError, UnsafeFileError, preflight,
                          read_weights, tensors_digest)
from mmsr.training import TrainConfig, Trainer, load_weights

HERE = Path(__file__).resolve().parent
WORKER = HERE / "kill_worker.py"


def _worker_module():
    spec = importlib.util.spec_from_file_location("kill_worker", WORKER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _weights(trainer_or_model):
    m = getattr(trainer_or_model, "model", trainer_or_model)
    return {k: v.clone() for k, v in m.state_dict().items()}


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def reference_weights(tmp_path_factory):
    """The kill worker's run, uninterrupted, in this process."""
    t = _worker_module().make_trainer(tmp_path_factory.mktemp("straight"))
    t.fit()
    return _weights(t)


class _Evil:
    """Unpickling this object runs code (writes a marker file) -- what a malicious shared .pt could do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "pwned"))


# ------------------------------------------------------------------------------------------- 1. no pickle
def test_planted_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "marker"
    evil = tmp_path / "weights.pt"
    with open(evil, "wb") as f:
        pickle.dump({"model": _Evil(marker), "signature": {}}, f)
    model = nn.Conv2d(1, 1, 3)
    with pytest.raises(UnsafeFileError, match="only from .safetensors"):
        load_weights(model, evil)
    with pytest.raises(UnsafeFileError, match="plain values"):
        storage.convert_legacy_weights(evil)
    # the same payload as a checkpoint with a valid sidecar: torch.load(weights_only=True) refuses it
    run = tmp_path / "run"
    run.mkdir()
    ck = run / "checkpoint-00000005.pt"
    torch.save({"model": _Evil(marker)}, ck)
    storage.atomic_write_json(ck.with_suffix(".json"), {"step": 5, "bytes": ck.stat().st_size,
                                                        "sha256": storage.sha256_file(ck)})
    with pytest.raises(UnsafeFileError, match="refused without running"):
        CheckpointStore(run).latest()
    # a safetensors file renamed to look like weights, but not ours
    (tmp_path / "fake.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    with pytest.raises(UnsafeFileError, match="not a readable safetensors"):
        read_weights(tmp_path / "fake.safetensors")
    assert not marker.exists()


def test_no_code_path_unpickles_with_weights_only_false():
    root = HERE.parent / "mmsr"
    offenders = [p.name for p in root.rglob("*.py") if "weights_only=False" in p.read_text()
                 or "pickle.load" in p.read_text()]
    assert offenders == []


def test_committed_weights_are_safetensors_bit_identical_to_their_originals():
    from mmsr.data.datasets import CAVE_TEST, country_part
    from mmsr.recipes import WEIGHTS_DIR

    files = sorted(WEIGHTS_DIR.rglob("*.safetensors"))   # also run folders, e.g. calibration/<run>/weights.*
    assert files and not list(WEIGHTS_DIR.rglob("*.pt"))
    assert any(f.parent != WEIGHTS_DIR for f in files)  # the walk reaches the calibration runs
    for f in files:
        state, signature = read_weights(f)
        side = f.with_suffix(".json")
        rec = json.loads((side if side.exists() else f.parent / "record.json").read_text())
        digest = tensors_digest(state)
        # a run folder may also keep its best-validation weights (best.safetensors), listed as best_weights_file
        entry = {e["file"]: e for e in (rec["weights_file"], rec.get("best_weights_file")) if e}.get(
            f.name, rec["weights_file"])
        assert digest == entry["tensors_sha256"], f.name
        if "converted_from" in rec["weights_file"]:  # the pickled original, hashed when it was converted
            assert digest == rec["weights_file"]["converted_from"]["tensors_sha256"], f.name
        assert signature["tensors"] == {k: list(v.shape) for k, v in state.items()}
        if rec["meta"].get("data", "epfl_nir") == "epfl_nir":   # never trained or validated on a test image
            seen = set(rec["meta"]["train_images"]) | set(rec["meta"]["val_images"])
            assert not seen & set(EPFL_NIR_TEST), f
            # landscapes only from the fixed trainable half (issue #11): a held-out one would void the check
            assert all(country_part(n) != "heldout" for n in seen if n.startswith("country_")), f
        if rec["meta"].get("data") == "cave":   # the multispectral models: never a test scene of 001 or cloth
            seen = set(rec["meta"]["train_images"]) | set(rec["meta"]["val_images"])
            assert seen and not seen & set(CAVE_TEST), f


def test_tensors_digest_sees_one_flipped_bit():
    a = {"w": torch.arange(6, dtype=torch.float32)}
    b = {"w": a["w"].clone()}
    b["w"].view(torch.int32)[3] ^= 1
    assert tensors_digest(a) != tensors_digest(b) and tensors_digest(a) == tensors_digest({"w": a["w"].clone()})
    # a scalar parameter (CSCN's gain) is hashed too, and its value counts
    assert tensors_digest({"g": torch.tensor(1.1)}) != tensors_digest({"g": torch.tensor(1.2)})


# -------------------------------------------------------------------------------------------- 2. real kills
WORKER_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(HERE.parent)}


@pytest.mark.slow
def test_ten_random_sigkills_then_resume_give_bit_identical_weights(tmp_path):
    # the reference is the same command, never killed (same process setup: thread count changes float sums)
    straight = subprocess.run([sys.executable, str(WORKER), str(tmp_path / "straight")], env=WORKER_ENV,
                              capture_output=True, text=True, timeout=120)
    assert straight.returncode == 0, straight.stderr[-2000:]
    reference, _ = read_weights(tmp_path / "straight" / "weights.safetensors")
    out = tmp_path / "run"
    rng = np.random.default_rng(2026)
    env = WORKER_ENV
    kills = 0
    for attempt in range(40):
        extra = []
        if attempt == 0:
            extra = ["write", "4"]  # die inside the 4th checkpoint write (half the bytes on disk)
        elif attempt == 1:
            extra = ["sidecar", "3"]  # die after a checkpoint landed, before its sidecar
        proc = subprocess.Popen([sys.executable, str(WORKER), str(out), *extra], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        if not extra:
            time.sleep(rng.uniform(0.05, 0.8))
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        if proc.returncode == -signal.SIGKILL:
            kills += 1
        if kills >= 12 or (proc.returncode == 0 and kills >= 10):
            break
    assert kills >= 10
    done = subprocess.run([sys.executable, str(WORKER), str(out)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    state, _ = read_weights(out / "weights.safetensors")
    assert _same(state, reference)


def test_damaged_newest_checkpoint_falls_back_to_the_previous(tmp_path, reference_weights, capsys):
    mod = _worker_module()
    t = mod.make_trainer(tmp_path)
    t.fit(stop_after=40)  # checkpoints at 36 and 39 (every 3) and the stop at 40: the last two kept
    store = CheckpointStore(tmp_path)
    assert store.steps() == [39, 40]
    newest = store.path(40)
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    newest.write_bytes(bytes(data))
    t2 = mod.make_trainer(tmp_path)
    t2.fit()
    assert "skipping checkpoint-00000040.pt: SHA-256 mismatch" in capsys.readouterr().err
    assert _same(_weights(t2), reference_weights)


def test_truncated_checkpoint_detected_and_none_intact_is_an_error(tmp_path):
    mod = _worker_module()
    mod.make_trainer(tmp_path).fit(stop_after=6)
    store = CheckpointStore(tmp_path)
    for s in store.steps():
        p = store.path(s)
        p.write_bytes(p.read_bytes()[:100])
    with pytest.raises(StorageError, match="no intact checkpoint.*truncated"):
        store.latest()


# ------------------------------------------------------------------------------------ 3. one run per folder
def test_second_run_on_a_busy_folder_is_refused_naming_the_first(tmp_path):
    code = ("import sys, time; from mmsr.storage import RunLock; l = RunLock(sys.argv[1], 'holder-run'); "
            "l.acquire(); print('held', flush=True); time.sleep(60)")
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                              env=env)
    try:
        assert holder.stdout.readline().strip() == "held"
        t0 = time.perf_counter()
        with pytest.raises(RunFolderBusyError, match=rf"in use by PID {holder.pid} \(holder-run"):
            _worker_module().make_trainer(tmp_path).fit()
        assert time.perf_counter() - t0 < 1.0
        from mmsr.recipes import train_model

        with pytest.raises(RunFolderBusyError, match=str(holder.pid)):
            train_model("srcnn", 2, "smoke", out_dir=tmp_path, progress=False)
    finally:
        holder.kill()
        holder.wait()


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path, capsys):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    (tmp_path / ".lock").write_text(json.dumps({"pid": pid, "command": "old run", "since": "yesterday"}))
    with RunLock(tmp_path):
        assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()
        with RunLock(tmp_path):  # re-entrant within one process (train_model holds it around the Trainer)
            pass
    assert f"taking over the stale lock of PID {pid}" in capsys.readouterr().err


# -------------------------------------------------------------------------------- 4. machine faults first
@pytest.mark.parametrize("err,match", [(errno.EROFS, "read-only file system"), (errno.EACCES, "permission denied"),
                                       (errno.ENOSPC, "no space left")])
def test_unwritable_or_full_folder_refused_before_any_work(tmp_path, monkeypatch, err, match):
    def failing_probe(path, nbytes):
        raise OSError(err, os.strerror(err))

    monkeypatch.setattr(storage, "_write_probe", failing_probe)
    from mmsr.recipes import train_model

    loaded = []
    monkeypatch.setattr("mmsr.recipes.TRAINING_DATA", {"nir": lambda *a: loaded.append(a) or ([], "x")})
    t0 = time.perf_counter()
    with pytest.raises(StorageError, match=match):
        train_model("srcnn", 2, "smoke", out_dir=tmp_path / "out", progress=False)
    assert time.perf_counter() - t0 < 1.0 and loaded == []  # refused before the data was touched
    with pytest.raises(StorageError, match=match):
        _worker_module().make_trainer(tmp_path / "out2").fit()


def test_too_little_free_space_refused(tmp_path, monkeypatch):
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(storage.shutil, "disk_usage", lambda p: usage(10 << 20, 10 << 20, 1000))
    with pytest.raises(StorageError, match=r"not enough free space.*MiB are free"):
        preflight(tmp_path, 5 << 20)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores directory permissions")
def test_really_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(StorageError, match="cannot write"):
            preflight(ro / "run")
    finally:
        ro.chmod(0o700)


def test_full_disk_during_a_run_keeps_the_last_good_checkpoint(tmp_path, monkeypatch, reference_weights):
    mod = _worker_module()
    real = storage._torch_save
    calls = {"n": 0}

    def filling_disk(obj, tmp):
        calls["n"] += 1
        if calls["n"] == 5:
            with open(tmp, "wb") as f:
                f.write(b"\0" * 100)
            raise OSError(errno.ENOSPC, "No space left on device")
        real(obj, tmp)

    monkeypatch.setattr(storage, "_torch_save", filling_disk)
    with pytest.raises(StorageError, match=r"checkpoint-00000015\.pt.*No space left.*checkpoint-00000012\.pt\) is "
                                           r"intact"):
        mod.make_trainer(tmp_path).fit()
    store = CheckpointStore(tmp_path)
    assert store.steps() == [9, 12] and not list(tmp_path.glob("*.tmp"))
    monkeypatch.setattr(storage, "_torch_save", real)
    t = mod.make_trainer(tmp_path)
    t.fit()  # space freed: the same call resumes from step 12 and ends bit-identical
    assert _same(_weights(t), reference_weights)


# -------------------------------------------------------------------------------------- time budget (GPU plan)
def test_time_budget_stops_with_a_checkpoint_and_resumes_bit_for_bit(tmp_path, reference_weights):
    mod = _worker_module()
    calls, last = 0, 0
    while True:
        t = mod.make_trainer(tmp_path)
        t0 = time.perf_counter()
        res = t.fit(time_budget=0.5)
        assert time.perf_counter() - t0 < 0.5 + 0.3  # stops before the budget (slack for a loaded machine)
        calls += 1
        if res.record:
            break
        assert t.stopped_early and last < res.stopped_at == t.step < mod.STEPS  # each call makes progress
        last = res.stopped_at
    assert calls >= 2  # 150 steps of >= 4 ms cannot fit one 0.5 s budget
    assert _same(_weights(t), reference_weights)


# --------------------------------------------------------------------------------------------- 5. data hygiene
def test_overlap_finder_catches_disguised_copies():
    from mmsr.data import GuidedPair, embedded_pairs
    from mmsr.data.pairs import overlapping_pairs

    test = embedded_pairs("test")
    p = test[0]
    h, w = p.target.shape
    resized = GuidedPair("renamed_small", p.target[::2, ::2].copy(), p.guide[::2, ::2].copy())
    cropped = GuidedPair("renamed_crop", p.target[2:h - 3, 1:w - 2].copy(), p.guide[2:h - 3, 1:w - 2].copy())
    same = GuidedPair("renamed_exact", p.target.copy(), p.guide.copy())
    found = overlapping_pairs([resized, cropped, same], test)
    assert {(a, b) for a, b, _ in found} >= {("renamed_small", p.name), ("renamed_crop", p.name),
                                            ("renamed_exact", p.name)}
    assert [k for a, _, k in found if a == "renamed_exact"] == ["identical"]
    train = embedded_pairs("train")
    assert overlapping_pairs(train, test) == []


@pytest.mark.shared_data
def test_every_training_split_is_disjoint_from_every_test_split(shared_data):
    """By content (exact hash and resized/cropped near-copies), not by name: NIR train/val vs the 8 test images
    and the country landscapes (all of them for the urban splits, the held-out half for the mixed ones); CAVE train vs test; depth training pairs vs the Middlebury 2005 scenes
    of Shuffled-Middlebury."""
    from mmsr.data.datasets import load_cave, load_depth_training, load_epfl_nir, load_middlebury2005
    from mmsr.data.pairs import overlapping_pairs

    nir_train = load_epfl_nir("train", shared_data) + load_epfl_nir("val", shared_data)
    checks = {
        "nir train/val vs test": (nir_train, load_epfl_nir("test", shared_data)),
        "nir train/val vs country": (nir_train, load_epfl_nir("country", shared_data)),
        "country vs nir test": (load_epfl_nir("country", shared_data), load_epfl_nir("test", shared_data)),
        "train+country / val+country vs held-out country": (
            load_epfl_nir("train+country", shared_data) + load_epfl_nir("val+country", shared_data),
            load_epfl_nir("country-heldout", shared_data)),
        "cave train vs test": (load_cave("train", shared_data), load_cave("test", shared_data)),
        "depth train/val vs Middlebury 2005": (load_depth_training("train", shared_data)
                                               + load_depth_training("val", shared_data),
                                               load_middlebury2005("test", shared_data)),
    }
    for what, (a, b) in checks.items():
        assert overlapping_pairs(a, b) == [], what


def test_zero_shot_cli_refuses_an_unwritable_output_before_reading_or_training(tmp_path, monkeypatch, capsys):
    from mmsr import super_resolve

    def failing_probe(path, nbytes):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(storage, "_write_probe", failing_probe)
    monkeypatch.setattr(super_resolve, "zero_shot_sr", lambda *a, **k: pytest.fail("training started"))
    t0 = time.perf_counter()
    rc = super_resolve.main([str(tmp_path / "absent_target.png"), str(tmp_path / "absent_guide.png"), "--scale", "2",
                             "-o", str(tmp_path / "out" / "x.png")])
    assert rc == 2 and time.perf_counter() - t0 < 1.0
    assert "cannot write to the output folder" in capsys.readouterr().err


def test_experiment_budget_stops_before_a_run_that_would_not_fit(tmp_path, capsys):
    from mmsr.runtime import Deadline
    from mmsr.data import nir_pairs
    from mmsr.zeroshot_experiments import run_variants

    d = Deadline(1000.0)
    d.longest = 2000.0  # as if one run had taken longer than what is left
    recs = run_variants("alternating", {"p=0": {"alternating_p": 0.0}}, nir_pairs("val")[0], tmp_path, "smoke",
                        1, "cpu", deadline=d)
    assert recs == [] and "time budget: stopping before" in capsys.readouterr().err
    with pytest.raises(ValueError, match="positive"):
        Deadline(0)
