"""Work that travels to a time-limited machine and back: data packs, run archives, and the GPU plan end to end
(on the CPU, smoke mode, each step under its budget)."""
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest

from mmsr.archive import pack, unpack
from mmsr.data import embedded_pairs, load_epfl_nir, nir_pairs
from mmsr.data.pack import PACK_DIR, pack_size, read_packed, same_pairs, verify_pack, write_pack

REPO = Path(__file__).resolve().parents[1]


def embedded_pack(out: Path) -> Path:
    """A pack holding the embedded default under the EPFL split names (what a GPU job would carry)."""
    splits = {("epfl_nir", s): nir_pairs(s)[0] for s in ("test", "train", "val", "train-minus-val")}
    splits[("epfl_nir", "country")] = embedded_pairs("train")[:2]
    write_pack("embedded", out, pairs_by_split=splits)
    return out


def test_pack_reads_back_bit_identical_pairs_through_the_loaders(tmp_path):
    embedded_pack(tmp_path)
    for split in ("test", "train", "val", "train-minus-val"):
        assert same_pairs(load_epfl_nir(split, tmp_path), nir_pairs(split)[0]), split
    assert same_pairs(nir_pairs("test", tmp_path)[0], nir_pairs("test")[0])  # MMSR_DATA=pack works end to end
    assert read_packed(tmp_path, "cave", "test") is None  # what a pack lacks falls through to the layouts


def test_pack_round_trips_16_bit_and_grey_and_refuses_a_corrupt_file(tmp_path):
    from mmsr.data import GuidedPair

    rng = np.random.default_rng(0)
    band = rng.integers(0, 65536, (33, 47), dtype=np.uint16)
    grey = rng.integers(0, 256, (33, 47), dtype=np.uint8)
    p = GuidedPair("odd", band, grey, 16, "cave", "test")
    write_pack("t", tmp_path, pairs_by_split={("cave", "test"): [p]})
    (q,) = read_packed(tmp_path, "cave", "test")
    assert q.target.dtype == np.uint16 and np.array_equal(q.target, band) and np.array_equal(q.guide, grey)
    f = tmp_path / PACK_DIR / "cave" / "odd_target.png"
    data = bytearray(f.read_bytes())
    data[-20] ^= 1
    f.write_bytes(bytes(data))
    with pytest.raises(FileNotFoundError, match="SHA-256"):
        read_packed(tmp_path, "cave", "test")


def test_pack_stores_colour_guides_as_lossless_webp_bit_for_bit(tmp_path):
    from PIL import features

    from mmsr.data import GuidedPair

    rng = np.random.default_rng(1)
    target = rng.integers(0, 256, (31, 45), dtype=np.uint8)
    colour = rng.integers(0, 256, (31, 45, 3), dtype=np.uint8)
    write_pack("t", tmp_path, pairs_by_split={("epfl_nir", "test"): [GuidedPair("c", target, colour, 8,
                                                                                   "epfl_nir", "test")]})
    (q,) = read_packed(tmp_path, "epfl_nir", "test")
    assert q.guide.dtype == np.uint8 and np.array_equal(q.guide, colour) and np.array_equal(q.target, target)
    files = sorted(f.name for f in (tmp_path / PACK_DIR / "epfl_nir").iterdir())
    assert files == (["c_guide.webp", "c_target.png"] if features.check("webp") else ["c_guide.png", "c_target.png"])


@pytest.mark.slow
@pytest.mark.shared_data
def test_depth_pack_of_the_real_data_is_bit_identical_and_small(shared_data, tmp_path):
    write_pack("depth", tmp_path, shared_data)
    verify_pack("depth", tmp_path, shared_data)  # raises on any difference
    assert pack_size(tmp_path) < 40 * 2**20


def test_archive_round_trip_skips_locks_and_refuses_oversize_and_unsafe(tmp_path):
    run = tmp_path / "runs" / "r1"
    (run / "sub").mkdir(parents=True)
    (run / "record.json").write_text('{"a": 1}')
    (run / "sub" / "w.bin").write_bytes(os.urandom(3000))
    (run / ".lock").write_text("{}")
    (run / "checkpoint-00000001.pt123.tmp").write_text("half")
    a = pack(run, tmp_path / "r1.tar.gz")
    dest = tmp_path / "back"
    assert unpack(a, dest) == [dest / "r1"]
    assert (dest / "r1" / "sub" / "w.bin").read_bytes() == (run / "sub" / "w.bin").read_bytes()
    assert not (dest / "r1" / ".lock").exists() and not list((dest / "r1").glob("*.tmp"))
    with pytest.raises(ValueError, match="over the limit of 0.001 MiB; largest: r1/sub/w.bin"):
        pack(run, tmp_path / "big.tar.gz", max_mib=0.001)
    assert not (tmp_path / "big.tar.gz").exists()
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        tar.add(run / "record.json", arcname="../../escaped.json")
    with pytest.raises(ValueError, match="outside the destination"):
        unpack(evil, tmp_path / "x")
    assert not (tmp_path.parent / "escaped.json").exists()


def _plan(step, tmp_path, env_extra=None, timeout=300):
    env = {**os.environ, "MODE": "smoke", "OUT": str(tmp_path / "out"), "IN": str(tmp_path / "in"),
           "WORK": str(tmp_path / "work"),
           "MMSR_DATA": str(tmp_path / "data"), "BUDGET": "120", "OMP_NUM_THREADS": "1", "PYTHON": sys.executable,
           **(env_extra or {})}
    t0 = time.perf_counter()
    r = subprocess.run(["bash", str(REPO / "scripts" / "gpu_plan.sh"), step], env=env, capture_output=True,
                       text=True, timeout=timeout, cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r, time.perf_counter() - t0


@pytest.mark.slow
def test_gpu_plan_end_to_end_in_smoke_mode(tmp_path):
    embedded_pack(tmp_path / "data")
    r, dt = _plan("probe", tmp_path)
    assert dt < 120
    with tarfile.open(tmp_path / "out" / "probe.tar.gz") as tar:
        probe = json.load(tar.extractfile("probe/probe.json"))
    assert probe["lmcsc_training"]["fp32"]["patches_per_second"] > 0 and probe["cmsr_60x80"]["lr_size"] == [60, 80]
    r, dt = _plan("lmcsc-x4", tmp_path)
    assert dt < 120
    names = tarfile.open(tmp_path / "out" / "lmcsc-x4.tar.gz").getnames()
    assert {"lmcsc_x4_seed0/weights.safetensors", "lmcsc_x4_seed0/record.json",
            "lmcsc_x4_seed0/evaluation.json"} <= set(names)
    # the next call starts from the archive of the last one: nothing is retrained
    (tmp_path / "in").mkdir()
    os.replace(tmp_path / "out" / "lmcsc-x4.tar.gz", tmp_path / "in" / "lmcsc-x4.tar.gz")
    import shutil

    shutil.rmtree(tmp_path / "work")  # a fresh machine: only the archive comes along
    r, _ = _plan("lmcsc-x4", tmp_path, {"OUT": str(tmp_path / "out2")})
    assert "lmcsc_x4: 0/" not in r.stdout + r.stderr  # resumed at its last step, not retrained
    assert (tmp_path / "out2" / "lmcsc-x4.tar.gz").is_file()
    r, dt = _plan("cmsr-table1", tmp_path, {"SEEDS": "0"})
    assert dt < 120
    assert "cmsr/table1.jsonl" in tarfile.open(tmp_path / "out" / "cmsr-table1.tar.gz").getnames()


@pytest.mark.slow
def test_gpu_plan_sprint_trains_the_calibrated_steps_and_skips_what_does_not_fit(tmp_path):
    embedded_pack(tmp_path / "data")
    r, _ = _plan("sprint", tmp_path, {"SPRINT": "lmcsc-x2-seed1", "SPRINT_SECONDS": "4", "BUDGET": "200",
                                      "PROBE_MODE": "smoke", "SPRINT_SET": "--set lr=5e-4 --set amp=False"})
    out = r.stdout + r.stderr
    with tarfile.open(tmp_path / "out" / "lmcsc-x2-seed1.tar.gz") as tar:
        record = json.load(tar.extractfile("lmcsc_x2_seed1_sprint/record.json"))
        calibration = json.load(tar.extractfile("lmcsc_x2_seed1_sprint/calibration_record.json"))
    assert record["config"]["seed"] == calibration["config"]["seed"] == 1 and record["config"]["lr"] == 5e-4
    assert record["config"]["amp"] is False   # float32 asked for reaches the trainer
    # the run's length is the calibrated speed's share of the seconds asked for
    assert calibration["steps"] == 60
    assert record["steps"] == int(4 / (calibration["train_seconds"] / 60)), out
    assert (tmp_path / "out" / "probe.tar.gz").is_file()
    # a budget too small for one more run skips it instead of leaving a run cut by the clock
    r, _ = _plan("sprint", tmp_path, {"SPRINT": "srcnn-x4", "SPRINT_SECONDS": "4", "BUDGET": "30",
                                      "OUT": str(tmp_path / "out2"), "SPRINT_CHECKS": "0"})
    assert "srcnn-x4: skipped" in r.stdout and not (tmp_path / "out2" / "srcnn-x4.tar.gz").exists()
    assert not (tmp_path / "out2" / "probe.tar.gz").exists()   # SPRINT_CHECKS=0: no tests, no probe
