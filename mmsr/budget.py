"""What a weight file cost to train, read from its training records -- for comparisons at equal budget.

A run that started from other weights (``meta["init_from"]``, e.g. a continuation with ``--init-from``) did not
pay for them: :func:`training_chain` follows ``init_from`` back to the run that started from scratch and checks
each step's weights digest, so the cost of the final weights counts every run behind them.

Wall time is a poor budget on a shared machine: the book's CPU runs shared two cores with one to three other jobs,
and the same model's seconds per step differ by up to 2x between runs. :func:`run_cost` therefore also gives
each run's steps at the *fastest* seconds per step any run of the same model configuration recorded
(:func:`fastest_seconds_per_step`) -- the least-loaded speed we measured, the same clock for every model.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Optional, Sequence

from .recipes import WEIGHTS_DIR

#: the repository root: ``init_from`` paths in the records are relative to it (training runs from there)
REPO_ROOT = WEIGHTS_DIR.parents[1]
#: where ``python -m mmsr.budget steps`` appends its measurements (relative to the repository)
STEP_TIMES = Path("results") / "speed" / "train_steps.jsonl"


def _parent_record_path(weights: Path) -> Path:
    """The record of a weights file: ``X.json`` beside ``X.safetensors`` (committed weights), else the run
    folder's ``record.json`` (``weights.safetensors`` / ``best.safetensors`` in a run or experiment folder)."""
    beside = weights.with_suffix(".json")
    if beside.is_file():
        return beside
    return weights.parent / "record.json"


def training_chain(record_path, root: Optional[Path] = None) -> list[dict]:
    """The training records behind a weight file, first run first, ending with the record at ``record_path``.

    Each record whose ``meta["init_from"]`` names a weights file is preceded by that file's record; when
    ``init_from`` carries a ``tensors_sha256``, the parent's ``weights_file`` (or ``best_weights_file``) must
    have the same digest, else the chain is refused (the parent was retrained since)."""
    root = REPO_ROOT if root is None else Path(root)
    chain, path, seen = [], Path(record_path), set()
    while True:
        if not path.is_file():
            raise FileNotFoundError(f"no training record at {path}")
        if path.resolve() in seen:
            raise ValueError(f"{path}: its init_from chain loops back on itself")
        seen.add(path.resolve())
        rec = json.loads(path.read_text())
        chain.append(rec)
        start = rec.get("meta", {}).get("init_from")
        if not start:
            return chain[::-1]
        file = start["file"] if isinstance(start, dict) else start
        weights = Path(file) if Path(file).is_absolute() else root / file
        parent = _parent_record_path(weights)
        if not parent.is_file():
            raise FileNotFoundError(f"{path} started from {file}, whose training record ({parent}) is missing")
        want = start.get("tensors_sha256") if isinstance(start, dict) else None
        if want:
            prec = json.loads(parent.read_text())
            have = {(prec.get(k) or {}).get("tensors_sha256") for k in ("weights_file", "best_weights_file")}
            if want not in have:
                raise ValueError(f"{path} started from weights with digest {want[:12]}..., but {parent} records "
                                 f"other weights: retrained since?")
        path = parent


def speed_key(record: dict) -> tuple:
    """What fixes a run's seconds per step: the model, its scale and size, and the batch it trains on."""
    meta, settings = record["meta"], record["meta"].get("settings", {})
    return (meta.get("model"), meta.get("scale"), record.get("parameters"),
            settings.get("batch_size", record.get("config", {}).get("batch_size")), settings.get("patch_size"))


def seconds_per_step(record: dict) -> float:
    if not record.get("steps") or not record.get("train_seconds"):
        raise ValueError(f"training record of {record.get('meta', {}).get('name', '?')} has no steps or "
                         f"train_seconds")
    return record["train_seconds"] / record["steps"]


def fastest_seconds_per_step(records: Iterable[dict]) -> dict:
    """``speed_key -> the fewest seconds per step`` any of ``records`` recorded for that configuration."""
    out = {}
    for r in records:
        k, v = speed_key(r), seconds_per_step(r)
        out[k] = min(v, out.get(k, v))
    return out


def _require_speeds(chain: Sequence[dict], speeds: dict, kind: str) -> None:
    """KeyError naming every configuration of ``chain`` that ``speeds`` (:func:`speed_key` -> seconds) lacks: a
    configuration never timed is not guessed."""
    missing = {speed_key(r) for r in chain} - set(speeds)
    if missing:
        raise KeyError(f"no {kind} speed for {sorted(map(str, missing))}")


def run_cost(chain: Sequence[dict], fastest: Optional[dict] = None) -> dict:
    """Steps and minutes of a chain of training records (:func:`training_chain`): ``steps``, ``minutes``
    (recorded wall time, summed) and ``minutes_at_fastest`` (each run's steps at ``fastest[speed_key]``,
    which defaults to the chain's own fastest runs)."""
    if not chain:
        raise ValueError("an empty training chain has no cost")
    fastest = fastest_seconds_per_step(chain) if fastest is None else fastest
    _require_speeds(chain, fastest, "recorded")
    return {"steps": sum(r["steps"] for r in chain), "runs": len(chain),
            "minutes": sum(r["train_seconds"] for r in chain) / 60.0,
            "minutes_at_fastest": sum(r["steps"] * fastest[speed_key(r)] for r in chain) / 60.0}


def merged_record(chain: Sequence[dict], clock: Optional[dict] = None) -> dict:
    """The runs of a training chain (:func:`training_chain`) as one training record, for curves against time: the
    last record with the chain's total steps and seconds, and every run's validation history in order, its steps
    counted from the chain's start and each point's ``minutes`` from each run's own speed (runs of one chain ran at
    different speeds) -- or, with ``clock`` (:func:`speed_key` -> seconds per step, e.g. :func:`read_step_times`),
    from the speeds timed side by side, so that runs of different models are read on one clock.
    ``meta["init_from"]`` is dropped -- the chain starts from scratch -- and ``meta["chain"]`` lists each run's
    steps. A chain of one run gives that run with ``minutes`` added."""
    if not chain:
        raise ValueError("an empty training chain")
    if clock is not None:
        _require_speeds(chain, clock, "timed")
    history, steps, minutes = [], 0, 0.0
    for r in chain:
        per_step = (seconds_per_step(r) if clock is None else clock[speed_key(r)]) / 60.0
        history += [{**h, "step": steps + h["step"], "minutes": minutes + h["step"] * per_step}
                    for h in r.get("history", [])]
        steps, minutes = steps + r["steps"], minutes + r["steps"] * per_step
    seconds = sum(r["train_seconds"] for r in chain)
    meta = {k: v for k, v in chain[-1]["meta"].items() if k != "init_from"}
    return {**chain[-1], "meta": {**meta, "chain": [r["steps"] for r in chain]}, "steps": steps,
            "train_seconds": seconds, "history": history}


def schedule_text(chain: Sequence[dict]) -> dict:
    """What a reader wants of the runs behind a weight file (:func:`training_chain`), one string per setting: the
    steps (``"3,300 + 700"`` for a continuation), each run's learning rate and its halvings within the run's steps,
    the training minutes (summed) and the commits."""
    def rate(r):
        st = r["meta"].get("settings", {})
        halved = [m for m in st.get("milestones", ()) if m < r["steps"]]
        return f"{st['lr']:g}" + (f", halved at {halved}" if halved else "")
    return {"steps": " + ".join(f"{r['steps']:,}" for r in chain),
            "learning rate": "; then ".join(rate(r) for r in chain),
            "minutes": f"{sum(r['train_seconds'] for r in chain) / 60:.0f}",
            "commit": " + ".join(r["git_commit"][:8] for r in chain)}


def seed_runs(name: str, folder: str, committed: Optional[Path] = None, seeds: Iterable[int] = range(3),
              experiments: Optional[Path] = None, committed_seed: int = 0) -> list[tuple]:
    """``(name in the guidance records, training record)`` for each seed of a model whose record exists: seed 0
    is scored as ``name``, seed ``k`` as ``"<name> seed <k>"`` -- the convention of the book's seed runs. Each
    seed's record is ``<experiments>/<folder>_seed<k>/record.json``, except seed ``committed_seed``'s: ``committed``
    when given (the committed weights are seed 0 of their recipe, but for LMCSC x2, chosen on validation among
    its seeds)."""
    experiments = WEIGHTS_DIR / "experiments" if experiments is None else Path(experiments)
    out = []
    for k in seeds:
        rec = committed if (k == committed_seed and committed is not None) \
            else experiments / f"{folder}_seed{k}" / "record.json"
        if rec.is_file():
            out.append((name if k == 0 else f"{name} seed {k}", rec))
    return out


#: the NIR seed runs of chapters 5 and 7 by scale: label -> (name in the guidance records, experiment folder of its
#: seeds, committed weights or ``None``[, the seed of the committed weights when not 0]); see :func:`seed_runs`. DJF
#: at the committed x2 learning rate (1e-3) is left out: two of its three seeds failed (chapter 5's seed section).
NIR_SEED_RUNS = {
    2: {"SRCNN": ("srcnn", "srcnn_x2", "srcnn_x2"), "CoISTA": ("coista", "coista_x2", "coista_x2"),
        "CoISTA, 2,100 steps": ("coista 2100 steps", "coista_x2_2100steps", None),
        "CoISTA, 4,800 steps": ("coista 4800 steps", "coista_x2_4800steps", None),
        "DJF, lr 2e-4, 2,400 steps": ("djf lr 2e-4", "djf_x2_lr2e-4", None),
        "DJF, lr 2e-4, 4,800 steps": ("djf lr 2e-4 4800 steps", "djf_x2_lr2e-4_4800steps", None),
        "DJF, lr 2e-4, 6,200 steps": ("djf lr 2e-4 6200 steps", "djf_x2_lr2e-4_6200steps", None),   # continued
        "LMCSC, 3,300 steps": ("lmcsc 3300 steps", "lmcsc_x2_3300steps", None),
        # the recipe continued to 4,000 steps (its seed 2 was the committed LMCSC x2 on 2026-12-06)
        "LMCSC, 4,000 steps": ("lmcsc 4000 steps", "lmcsc_x2_4000steps", None),
        # the size sweep's leader (chapter 5, section 5.8) at the budget of the 3,300 steps: 32 maps, 32-pixel patches;
        # committed since 2026-12-07: its seed 0 (the best validation of the three)
        "LMCSC, 32 maps, 32-px patches": ("lmcsc 32 maps 32px", "lmcsc_x2_maps32_patch32_14533steps", "lmcsc_x2"),
        "recurrent": ("recurrent", "recurrent_x2", "recurrent_x2"),
        # the recipe with a fifth of its training guides made to disagree (chapter 7, section 7.8)
        "recurrent, guide augmentation 0.2": ("recurrent + guide augmentation 0.2", "recurrent_x2_guide_aug02", None)},
    4: {"SRCNN": ("srcnn", "srcnn_x4", "srcnn_x4"), "CoISTA": ("coista", "coista_x4", "coista_x4"),
        "CoISTA, 2,100 steps": ("coista 2100 steps", "coista_x4_2100steps", None),
        "DJF, 1,500 steps": ("djf", "djf_x4", "djf_x4"),
        "DJF, 4,500 steps": ("djf 4500 steps", "djf_x4_4500steps", None),
        "DJF, 6,500 steps": ("djf 6500 steps", "djf_x4_6500steps", None),
        "DJF, 6,500 steps from scratch": ("djf 6500 steps scratch", "djf_x4_6500steps_scratch", None),
        # committed since 2026-12-06: seed 0 of the colour guide with a moving average of the weights (--set ema=0.999)
        "LMCSC": ("lmcsc", "lmcsc_x4_rgb_ema", "lmcsc_x4"),
        "LMCSC, colour guide": ("lmcsc rgb", "lmcsc_x4_rgb", None),   # the same without the average
        "LMCSC, luminance guide": ("lmcsc luminance", "lmcsc_x4_luminance", None),
        "recurrent": ("recurrent", "recurrent_x4", "recurrent_x4")},
}
#: one colour per model at both scales (the longer runs of a model in other colours)
NIR_COLORS = {"SRCNN": "C0", "CoISTA": "C1", "CoISTA, 2,100 steps": "C8", "CoISTA, 4,800 steps": "C9",
              "DJF, lr 2e-4, 2,400 steps": "C2", "DJF, 1,500 steps": "C2",
              "DJF, lr 2e-4, 4,800 steps": "C3", "DJF, 4,500 steps": "C3", "LMCSC, 3,300 steps": "C4",
              "LMCSC": "C4", "LMCSC, 4,000 steps": "C5", "LMCSC, luminance guide": "C5", "DJF, 6,500 steps": "C9",
              "DJF, 6,500 steps from scratch": "C7", "LMCSC, colour guide": "k", "DJF, lr 2e-4, 6,200 steps": "C7",
              "recurrent": "C6", "LMCSC, 32 maps, 32-px patches": "k",
              "recurrent, guide augmentation 0.2": "teal"}


def nir_seed_runs(scale: int, weights_dir: Optional[Path] = None) -> dict:
    """:data:`NIR_SEED_RUNS` at ``scale`` as :func:`budget_rows` wants them (label -> seeds with a record)."""
    if scale not in NIR_SEED_RUNS:
        raise ValueError(f"no NIR seed runs at x{scale}; scales: {sorted(NIR_SEED_RUNS)}")
    w = WEIGHTS_DIR if weights_dir is None else Path(weights_dir)
    return {label: seed_runs(name, folder, committed and w / f"{committed}.json", experiments=w / "experiments",
                             committed_seed=seed[0] if seed else 0)
            for label, (name, folder, committed, *seed) in NIR_SEED_RUNS[scale].items()}


def _set_means(summ: dict, name: str, sets: Sequence[str]) -> dict:
    """``name``'s mean PSNR on each of ``sets`` in a guidance summary (``None`` where not scored)."""
    return {s: summ.get(name, {}).get(s, {}).get("mean") for s in sets}


def budget_rows(runs: dict, summ: dict, sets: Sequence[str] = ("test", "country-heldout"),
                root: Optional[Path] = None, side_by_side: Optional[dict] = None) -> list[dict]:
    """One row per scored run: ``runs`` maps a group label (e.g. ``"DJF, 4,800 steps"``) to its seeds as
    ``(name in the guidance records, training record path)``; ``summ`` is :func:`mmsr.guidance_check.summary`.
    Each row: group, name, the cost (:func:`run_cost`, speeds pooled over every run given) and the mean PSNR on
    each of ``sets`` (``None`` where not scored). Runs without a guidance score on the first set are left out.
    ``side_by_side`` (:func:`read_step_times`): seconds per step timed in turn on one machine, by
    :func:`speed_key`; each row then also has ``minutes_side_by_side``, its steps at those speeds."""
    chains = {(g, n): training_chain(p, root) for g, seeds in runs.items() for n, p in seeds}
    fastest = fastest_seconds_per_step(r for c in chains.values() for r in c)
    rows = []
    for (group, name), chain in chains.items():
        scores = _set_means(summ, name, sets)
        if scores[sets[0]] is None:
            continue
        row = {"group": group, "name": name, "parameters": chain[-1].get("parameters"), **run_cost(chain, fastest),
               "psnr": scores}
        if side_by_side is not None:
            row["minutes_side_by_side"] = run_cost(chain, side_by_side)["minutes_at_fastest"]
        rows.append(row)
    return rows


def read_step_times(path: Optional[Path] = None, root: Optional[Path] = None) -> dict:
    """:func:`speed_key` -> seconds per step, from the lines ``python -m mmsr.budget steps`` appended to ``path``
    (default ``results/speed/train_steps.jsonl`` under the repository), each line's record path read relative to
    ``root`` (default the repository). Only the latest session's lines (the newest ``time_utc`` minus 30 minutes
    on) count: speeds timed in turn are comparable with each other, not with another day's machine."""
    from datetime import datetime, timedelta

    root = REPO_ROOT if root is None else Path(root)
    path = root / STEP_TIMES if path is None else Path(path)
    if not path.is_file():
        return {}
    lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    if not lines:
        return {}
    newest = max(datetime.fromisoformat(x["time_utc"]) for x in lines)
    out = {}
    for x in lines:
        if datetime.fromisoformat(x["time_utc"]) >= newest - timedelta(minutes=30):
            out[speed_key(json.loads((root / x["record"]).read_text()))] = x["seconds"]
    return out


def cost_table(rows: Sequence[dict], scale: int, title: str = "every seed run at its cost") -> str:
    """:func:`budget_rows` as a markdown table, one row per run, its clocks (wall, fastest recorded speed, and
    timed side by side where the rows have it) and both sets (computed here)."""
    from .tables import markdown_table

    fmt = lambda v: "-" if v is None else f"{v:.2f}"
    side = any("minutes_side_by_side" in r for r in rows)
    header = ["model", "run", "steps", "minutes (wall)", "minutes (fastest speed)"] + \
        ["minutes (timed side by side)"] * side + ["test (dB)", "landscapes (dB)"]
    body = [[r["group"], r["name"], f"{r['steps']:,}", f"{r['minutes']:.0f}", f"{r['minutes_at_fastest']:.0f}"]
            + [f"{r['minutes_side_by_side']:.0f}" if "minutes_side_by_side" in r else "-"] * side
            + [fmt(r["psnr"].get("test")), fmt(r["psnr"].get("country-heldout"))] for r in rows]
    return (f"**x{scale}, {title}**, computed here (protocol of chapter 1; minutes: one CPU "
            "thread)\n\n" + markdown_table(header, body))


def patches_per_second(record: dict) -> float:
    """Training throughput of a run: steps x batch / training seconds (validation included, as recorded)."""
    batch = record.get("config", {}).get("batch_size") or record["meta"]["settings"]["batch_size"]
    return record["steps"] * batch / record["train_seconds"] if record.get("train_seconds") else float("nan")


#: chapter 7's runs on a lent GPU (the sprint step of scripts/gpu_plan.sh) beside the committed CPU weights, by
#: scale: label -> (name in the guidance records, record path relative to the weights folder)
DEVICE_RUNS = {
    2: {"recurrent, committed (CPU)": ("recurrent", "recurrent_x2.json"),
        "recurrent, full size, GPU, 3,000 steps": ("recurrent full GPU 3000 steps",
                                                    "experiments/recurrent_x2_gpu_sprint_3000steps/record.json"),
        "recurrent, full size, GPU, 5,209 steps": ("recurrent full GPU 5209 steps",
                                                    "experiments/recurrent_x2_gpu_sprint_5209steps/record.json"),
        "LMCSC, committed (CPU)": ("lmcsc", "lmcsc_x2.json"),
        "LMCSC, full size, GPU, 3,126 steps": ("lmcsc full GPU 3126 steps",
                                               "experiments/lmcsc_x2_gpu_sprint_3126steps/record.json")},
    4: {"recurrent, committed (CPU)": ("recurrent", "recurrent_x4.json"),
        "recurrent, full size, GPU, 2,296 steps": ("recurrent full GPU 2296 steps",
                                                    "experiments/recurrent_x4_gpu_sprint_2296steps/record.json"),
        "recurrent, full size, GPU, 3,865 steps": ("recurrent full GPU 3865 steps",
                                                    "experiments/recurrent_x4_gpu_sprint_3865steps/record.json"),
        "recurrent, full size, GPU, 3,865 steps, seed 1": (
            "recurrent full GPU 3865 steps seed 1", "experiments/recurrent_x4_gpu_sprint_3865steps_seed1/record.json"),
        "recurrent, full size, GPU, 3,865 steps, seed 2": (
            "recurrent full GPU 3865 steps seed 2", "experiments/recurrent_x4_gpu_sprint_3865steps_seed2/record.json"),
        "recurrent, full size, GPU, 7,730 steps": ("recurrent full GPU 7730 steps",
                                                    "experiments/recurrent_x4_gpu_sprint_7730steps/record.json")},
}


def device_rows(runs: dict, summ: dict, sets: Sequence[str] = ("test", "country-heldout"),
                root: Optional[Path] = None) -> list[dict]:
    """One row per run of ``runs`` (label -> (name in the guidance records, record path under ``root``, default
    the weights folder)) whose record exists: device, parameters, steps, training minutes, patches per second,
    final validation PSNR and the mean PSNR on each of ``sets`` (``None`` where not scored). Weights continued
    from others count every run behind them (:func:`training_chain`; ``chain``: each run's steps)."""
    root = WEIGHTS_DIR if root is None else Path(root)
    rows = []
    for label, (name, rel) in runs.items():
        path = root / rel
        if not path.is_file():
            continue
        rec = merged_record(training_chain(path))
        rows.append({"label": label, "name": name, "device": rec.get("device"), "parameters": rec.get("parameters"),
                     "steps": rec["steps"], "chain": rec["meta"]["chain"], "minutes": rec["train_seconds"] / 60.0,
                     "patches_per_second": patches_per_second(rec),
                     "val": rec.get("final_validation", {}).get("val_psnr"),
                     "psnr": _set_means(summ, name, sets)})
    return rows


def device_table(rows: Sequence[dict], scale: int) -> str:
    """:func:`device_rows` as a markdown table (computed here)."""
    from .tables import markdown_table

    fmt = lambda v: "-" if v is None else f"{v:.2f}"
    return (f"**x{scale}, the committed CPU weights beside full-size runs on one H200**, computed here (protocol "
            "of chapter 1; minutes: training time as recorded, validation included)\n\n" + markdown_table(
                ["run", "device", "parameters", "steps", "minutes", "patches/s", "val (dB)", "test (dB)",
                 "landscapes (dB)"],
                [[r["label"], r["device"], f"{r['parameters']:,}", " + ".join(f"{n:,}" for n in r["chain"]),
                  f"{r['minutes']:.1f}",
                  f"{r['patches_per_second']:,.0f}", fmt(r["val"]), fmt(r["psnr"].get("test")),
                  fmt(r["psnr"].get("country-heldout"))] for r in rows]))


def fitted_schedule(seconds: float, seconds_per_step: float, recipe_steps: int, milestones: Sequence[int] = (),
                    validations: int = 4) -> dict:
    """A run that fits in ``seconds`` at ``seconds_per_step`` (measured on the same device, e.g. by a short
    calibration run): its steps, the recipe's learning-rate ``milestones`` (written for ``recipe_steps``) moved
    to the same fractions of the shorter or longer run, and ``validations`` evenly spaced checks. For a lease
    too short to resume across calls, where a run cut by the clock would leave no weights."""
    if not seconds > 0 or not seconds_per_step > 0:
        raise ValueError(f"seconds and seconds_per_step must be positive, got {seconds} and {seconds_per_step}")
    if recipe_steps < 1 or validations < 1:
        raise ValueError(f"recipe_steps and validations must be >= 1, got {recipe_steps} and {validations}")
    steps = max(1, int(seconds / seconds_per_step))
    moved = sorted({round(m * steps / recipe_steps) for m in milestones if 0 < m < recipe_steps})
    return {"steps": steps, "milestones": tuple(m for m in moved if 0 < m < steps),
            "val_every": max(1, steps // validations)}


def step_seconds(records: dict, steps: int = 10, warmup: int = 2, device=None, seed: int = 0) -> dict:
    """Seconds per training step of each record's configuration, measured side by side on this machine:
    ``records`` maps a label to a training record; each model is built from its record's settings (untrained: a
    step's cost does not depend on the weights) and trained on one random batch of its batch and patch size (MSE,
    Adam). After ``warmup`` untimed steps each, the models take turns step by step, so a change in the machine's
    load falls on all of them alike. Returns label -> ``{"seconds": median, "seconds_each", "gflop": FLOPs of a
    step / 1e9, "recorded_seconds": the record's own seconds per step}``."""
    import statistics
    import time

    import torch

    from .benchmark import _sync, step_flops
    from .probe import _train_step   # the probe's training step: forward, MSE, backward, optimiser step
    from .recipes import TRAINABLE, guide_mode_of

    if steps < 1 or warmup < 0:
        raise ValueError(f"steps must be >= 1 and warmup >= 0, got steps={steps}, warmup={warmup}")
    if not records:
        raise ValueError("no records to time")
    device = torch.device("cpu") if device is None else torch.device(device)
    setups = {}
    for label, rec in records.items():   # every record checked before anything is timed
        meta = rec["meta"]
        if meta.get("model") not in TRAINABLE:
            raise ValueError(f"{label}: unknown model {meta.get('model')!r}; expected one of {sorted(TRAINABLE)}")
        settings, scale = meta["settings"], meta["scale"]
        batch = settings.get("batch_size", rec.get("config", {}).get("batch_size"))
        patch, channels = settings["patch_size"], 3 if guide_mode_of(meta["model"], settings) == "rgb" else 1
        g = torch.Generator().manual_seed(seed)
        data = (torch.rand(batch, 1, patch // scale, patch // scale, generator=g),
                torch.rand(batch, channels, patch, patch, generator=g), torch.rand(batch, 1, patch, patch, generator=g))
        with torch.random.fork_rng(devices=[]):   # the caller's random state is left as it was
            torch.manual_seed(seed)
            model = TRAINABLE[meta["model"]][1](scale, settings).to(device).train()
        setups[label] = (model, torch.optim.Adam(model.parameters(), 1e-4), [t.to(device) for t in data],
                         (batch, patch, scale, channels))

    for _ in range(warmup):
        for model, opt, data, _ in setups.values():
            _train_step(model, opt, *data, amp=False)
    times = {label: [] for label in setups}
    for _ in range(steps):
        for label, (model, opt, data, _) in setups.items():
            t0 = time.perf_counter()
            _train_step(model, opt, *data, amp=False)
            _sync(device)
            times[label].append(time.perf_counter() - t0)
    out = {}
    for label, (model, _, _, (batch, patch, scale, channels)) in setups.items():
        rec = records[label]
        with torch.random.fork_rng(devices=[]):   # step_flops draws its batch from the global generator
            gflop = step_flops(model, batch, patch, scale, device, guide_channels=channels) / 1e9
        out[label] = {"seconds": statistics.median(times[label]), "seconds_each": times[label], "gflop": gflop,
                      "recorded_seconds": seconds_per_step(rec) if rec.get("train_seconds") else None}
    return out


def main(argv=None) -> int:
    """``python -m mmsr.budget fit CALIBRATION_RECORD SECONDS``: the ``--set`` options of :mod:`mmsr.train` that
    give the calibrated model (its recipe: model and mode in the record) a run of about SECONDS.
    ``python -m mmsr.budget steps LABEL=RECORD [...]``: seconds per training step of each record's configuration,
    side by side (:func:`step_seconds`), one line per label appended to ``results/speed/train_steps.jsonl``."""
    import argparse
    import os
    import shlex
    from datetime import datetime, timezone

    from .recipes import TRAINABLE

    ap = argparse.ArgumentParser(prog="python -m mmsr.budget", description="Training cost: a schedule that fits "
                                 "a time budget (fit), or training steps timed side by side (steps).")
    sub = ap.add_subparsers(dest="what", required=True)
    fit = sub.add_parser("fit", help="a schedule that fits SECONDS of training")
    fit.add_argument("record", help="record.json of a short run of the same model and mode on the same device")
    fit.add_argument("seconds", type=float)
    st = sub.add_parser("steps", help="seconds per training step of several configurations, side by side")
    st.add_argument("runs", nargs="+", metavar="LABEL=RECORD", help="a label and a training record.json")
    st.add_argument("--steps", type=int, default=10, help="timed steps per configuration (default 10)")
    st.add_argument("--threads", type=int, default=1, help="PyTorch CPU threads (default 1, as the book's runs)")
    st.add_argument("--out", type=Path, default=STEP_TIMES)
    a = ap.parse_args(argv)
    if a.what == "fit":
        record = json.loads(Path(a.record).read_text())
        meta = record["meta"]
        recipe = TRAINABLE[meta["model"]][0][meta["mode"]]
        s = fitted_schedule(a.seconds, seconds_per_step(record), recipe["steps"], recipe.get("milestones", ()))
        print(" ".join(f"--set {shlex.quote(f'{k}={v}')}" for k, v in s.items()))
        return 0
    import torch

    from .training import device_description, git_commit

    pairs = [item.partition("=") for item in a.runs]
    bad = [item for item, (label, _, path) in zip(a.runs, pairs) if not label or not Path(path).is_file()]
    if bad:
        raise SystemExit(f"steps expects LABEL=RECORD with an existing record file, got {bad[0]!r}")
    if a.threads < 1:
        raise SystemExit(f"--threads must be >= 1, got {a.threads}")
    records = {label: json.loads(Path(path).read_text()) for label, _, path in pairs}
    threads_before, load_before = torch.get_num_threads(), os.getloadavg()[0]
    torch.set_num_threads(a.threads)
    try:
        measured = step_seconds(records, steps=a.steps)
    finally:
        torch.set_num_threads(threads_before)
    common = {"threads": a.threads, "load_1min_before": load_before,
              "load_1min_after": os.getloadavg()[0], "device": device_description(torch.device("cpu")),
              "torch": torch.__version__, "git_commit": git_commit(),
              "time_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    with open(a.out, "a") as f:
        for (label, _, path), (_, m) in zip(pairs, measured.items()):
            where = Path(path).resolve()   # relative to the repository where it can be (read_step_times)
            where = where.relative_to(REPO_ROOT) if where.is_relative_to(REPO_ROOT) else where
            f.write(json.dumps({"label": label, "record": str(where), **m, **common}) + "\n")
            print(f"{label}: {m['seconds']:.3f} s per step (median of {len(m['seconds_each'])}), "
                  f"{m['gflop']:.2f} GFLOP per step")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
