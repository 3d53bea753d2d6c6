"""Does the guide ever hurt? Every NIR model on the 8 test images and on the held-out ``country`` landscapes.

    python -m mmsr.guidance_check --scale 4 --root ../shared/data [--run lmcsc=runs/x/lmcsc64_x4 ...]

The papers test only on urban scenes, where the RGB guide agrees with NIR. On landscapes vegetation is bright in
NIR and dark in RGB, sky and water differ, and a guided model can paint wrong structure into its output. This
scores bicubic, the guided filter, SRCNN (single image) and every guided model -- the committed weights, and any
run folder given with ``--run NAME=DIR`` -- image by image on both sets (a run trained on the fixed landscape half,
``--train-split train+country``, only on the held-out half, ``country-heldout``), appends one JSON line per (method, set,
image) with provenance to ``results/nir/guidance_x<S>.jsonl`` (resumable), and prints the summary the book's
goal is stated in: mean PSNR, mean gain over bicubic and over SRCNN, and the share of images above bicubic.
Protocol: chapter 1's (MATLAB-bicubic LR, full-image PSNR, peak 255).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from .data.datasets import country_part, load_epfl_nir
from .evaluate import Bicubic, evaluate, prepare_inputs
from .models.model_mean import MeanOfModels
from .models.self_ensemble import SelfEnsemble
from .recipes import (TRAINABLE, guide_mode_of, guided_filter_model, load_pretrained, pretrained_guide_mode,
                      pretrained_path)
from .records import append_record, has_record, provenance, read_records
from .runtime import try_gpu
from .storage import read_weights, tensors_digest
from .training import load_weights

DEFAULT_OUT = Path("results") / "nir"
PROTOCOL = "chapter 1: MATLAB-bicubic LR, full image, peak 255"
GUIDED = ("djf", "coista", "lmcsc", "recurrent")
#: every trainable NIR model with committed weights that the guidance check scores: the single-image networks
#: first (SRCNN is the bar's reference), then the guided ones
NIR_MODELS = ("srcnn", "cscn", "srfbn") + GUIDED


def committed_methods(scale: int) -> dict:
    """``name -> (model, guide_mode, source)`` for bicubic, the guided filter and every committed model of
    :data:`NIR_MODELS`."""
    out = {"bicubic": (Bicubic(scale), "gray", "formula"),
           "guided_filter": (guided_filter_model(scale), "gray", "formula")}
    out.update((name, m) for name in NIR_MODELS if (m := committed_method(name, scale)) is not None)
    return out


def committed_method(name: str, scale: int) -> Optional[tuple]:
    """``(model, guide_mode, source)`` of the committed weights of ``name`` at ``scale``, ``None`` without them;
    the source names the file and the first digits of its tensors' digest (files get replaced over time)."""
    path = pretrained_path(name, scale)
    if not path.is_file():
        return None
    digest = tensors_digest(read_weights(path)[0])[:10]
    return load_pretrained(name, scale), pretrained_guide_mode(name, scale), f"mmsr/weights/{path.name}@{digest}"


def run_method(run_dir) -> tuple:
    """A finished training run folder as ``(model, guide_mode, source)`` (a model of :mod:`mmsr.train` or a
    gate of :mod:`mmsr.learned_gate`). A weights file inside a run folder instead (``DIR/best.safetensors``:
    the weights of the run's best validation, :data:`mmsr.training.BEST_WEIGHTS`) loads those weights with the
    folder's record. Committed weights (``mmsr/weights/lmcsc_x2.safetensors``, their record beside them as
    ``lmcsc_x2.json``) load as :func:`committed_method` loads them, with the same source: the way to score the
    committed file under its seed's name too (``--run "lmcsc seed 0=mmsr/weights/lmcsc_x2.safetensors"``)."""
    run_dir, weights = Path(run_dir), None
    if run_dir.suffix == ".safetensors":
        run_dir, weights = run_dir.parent, run_dir
        if not (run_dir / "record.json").is_file() and weights.with_suffix(".json").is_file():
            meta = json.loads(weights.with_suffix(".json").read_text()).get("meta", {})
            name, scale = meta.get("model"), meta.get("scale")
            if name not in TRAINABLE or pretrained_path(name, scale).resolve() != weights.resolve():
                raise ValueError(f"{weights}: neither in a run folder (no record.json beside it) nor committed "
                                 f"weights of mmsr/weights")
            return committed_method(name, scale)
    rec = json.loads((run_dir / "record.json").read_text())
    name, scale = rec["meta"]["model"], rec["meta"]["scale"]
    if name == "learned_gate":
        from .learned_gate import load_run

        return load_run(run_dir)
    _, build, _, _ = TRAINABLE[name]
    settings = rec["meta"]["settings"]
    weights = weights or run_dir / "weights.safetensors"
    return load_weights(build(scale, settings), weights), guide_mode_of(name, settings), \
        str(run_dir if weights.name == "weights.safetensors" else weights)


#: the gate settings tried on the validation images (:func:`select_gate`): box window (LR pixels), power, and
#: whether a guide with reversed contrast is distrusted (``signed``)
GATE_GRID = tuple({"window": w, "power": p, "signed": sg} for w in (5, 9, 15) for p in (1.0, 2.0, 4.0)
                  for sg in (True, False))


def gate_key(setting: dict) -> str:
    return f"window={setting['window']},power={setting['power']:g},signed={setting['signed']}"


def select_gate(name: str, scale: int, root=None, out: Path = DEFAULT_OUT, device=None) -> tuple[dict, list]:
    """Choose the :class:`~mmsr.models.gated.GuideGatedSR` setting of the committed guided model ``name`` at
    ``scale`` on the validation images only (``val+country``: the 3 urban validation images and the 6 landscape
    validation images; never a test or held-out image). Every setting of :data:`GATE_GRID` is scored image by
    image (records in ``gate_select_x<S>.jsonl``, resumable). Rule, fixed before looking at any result: among
    the settings whose landscape mean is at least SRCNN's, the highest mean over all 9 images; if none, the
    highest landscape mean (without landscape images: the highest mean). Returns ``(setting, records)``."""
    from .models.gated import guide_agreement, trust_map
    from .evaluate import prepare_inputs
    from .degrade import modcrop
    from .metrics import psnr, quantize

    device = device or torch.device("cpu")
    path = Path(out) / f"gate_select_x{scale}.jsonl"
    records = read_records(path)
    committed = committed_methods(scale)
    guided, gmode, source = committed[name]
    single, _, single_source = committed["srcnn"]
    pairs = load_epfl_nir("val+country", root)
    for p in pairs:
        if all(has_record(records, method=name, image=p.name, source=source, gate=gate_key(g)) for g in GATE_GRID):
            continue
        lr, g, _ = prepare_inputs(p, scale, gmode)
        lr, g = lr.to(device), g.to(device)
        with torch.no_grad():
            yg, ys = guided.eval()(lr, g), single.eval()(lr, g)
            ref = modcrop(p.target, scale)
            score = lambda y: psnr(quantize(y.double().cpu().numpy()[0, 0] * p.peak, p.bit_depth), ref, peak=p.peak)
            base = {"experiment": "gate_select", "method": name, "scale": scale, "image": p.name,
                    "set": "country-val" if p.name.startswith("country") else "val", "source": source,
                    "single": single_source, "psnr_guided": score(yg), "psnr_single": score(ys)}
            agree = {w: guide_agreement(lr, g, scale, w) for w in {s["window"] for s in GATE_GRID}}
            for st in GATE_GRID:
                w = trust_map(agree[st["window"]], scale, st["power"], st["signed"])
                rec = {**base, "gate": gate_key(st), **st, "psnr": score(w * yg + (1 - w) * ys),
                       "protocol": PROTOCOL, **provenance(device, "n/a")}
                append_record(path, rec)
                records.append(rec)
    return choose_gate(records, name, scale, source), records


def choose_gate(records, name: str, scale: int, source: Optional[str] = None) -> dict:
    """The rule of :func:`select_gate` applied to its records: those of the weights ``source`` or, without it, of
    the weights scored last (committed files get replaced; a choice never pools the scores of two weights)."""
    rows = [r for r in records if r["method"] == name and r["scale"] == scale]
    if rows:
        source = rows[-1]["source"] if source is None else source
        rows = [r for r in rows if r["source"] == source]
    if not rows:
        raise ValueError(f"no gate-selection records for {name} x{scale}" + (f" from {source}" if source else ""))
    by = {}
    for r in rows:
        by.setdefault(r["gate"], []).append(r)
    land = [r["psnr_single"] for r in by[next(iter(by))] if r["set"] == "country-val"]
    mean = {k: np.mean([r["psnr"] for r in v]) for k, v in by.items()}
    if not land:  # no landscape among the validation images (e.g. a small data pack): the best mean
        best = max(mean, key=mean.get)
    else:
        land_mean = {k: np.mean([r["psnr"] for r in v if r["set"] == "country-val"]) for k, v in by.items()}
        ok = [k for k in by if land_mean[k] >= np.mean(land)]
        best = max(ok, key=mean.get) if ok else max(land_mean, key=land_mean.get)
    r = by[best][0]
    return {"window": r["window"], "power": r["power"], "signed": r["signed"]}


def gated_method(name: str, scale: int, setting: dict) -> tuple:
    """``(model, guide_mode, source)`` of the committed guided model ``name`` gated with the committed SRCNN."""
    from .models.gated import GuideGatedSR

    methods = committed_methods(scale)
    guided, gmode, source = methods[name]
    single, _, single_source = methods["srcnn"]
    return (GuideGatedSR(guided, single, scale, **setting), gmode,
            f"{source} gated with {single_source} ({gate_key(setting)})")


#: bins of the gate's trust ``w`` for :func:`loss_by_trust`: none, little, some, most, full trust
TRUST_BINS = (0.0, 0.1, 0.5, 0.9, 0.999, 1.0)


@torch.no_grad()
def loss_by_trust(gate, pairs, scale: int, guide_mode: str, bins=TRUST_BINS, device=None) -> list[dict]:
    """Where a gate (:class:`~mmsr.models.gated.GuideGatedSR`) gains or loses against its guided model alone.

    Per bin ``[lo, hi)`` of the trust ``w`` (the last bin closed), with intensities in [0, 1] before quantisation:

    * ``share``: the share of all HR pixels of ``pairs`` in the bin;
    * ``d_mse``: the change in mean squared error (gated minus guided) those pixels contribute, all pixels pooled --
      the rows add up to the gate's change in pooled MSE;
    * ``d_psnr``: their contribution to the change in *mean PSNR over images*, to first order: the mean over images
      of ``-10 / ln 10 * dMSE_bin / MSE_guided`` of that image. The rows add up to about the change in mean PSNR
      (exactly in the limit of small changes). A clean image (small MSE) weighs more here than in ``d_mse``.

    Negative ``d_mse`` / positive ``d_psnr``: the gate helps there."""
    if len(bins) < 2 or any(b >= c for b, c in zip(bins, bins[1:])) or bins[0] != 0 or bins[-1] != 1:
        raise ValueError(f"bins must rise strictly from 0 to 1, got {bins}")
    if not pairs:
        raise ValueError("loss_by_trust: no image pairs")
    device = device or torch.device("cpu")
    gate = gate.to(device).eval()
    inner = torch.tensor(bins[1:-1], dtype=torch.float64)
    nb = len(bins) - 1
    count, d_sum, d_rel = (torch.zeros(nb, dtype=torch.float64) for _ in range(3))
    for pair in pairs:
        lr, g, hr = prepare_inputs(pair, scale, guide_mode)
        lr, g = lr.to(device), g.to(device)
        w = gate.trust(lr, g).double().cpu()
        a = gate.guided(lr, g).double().cpu()
        b = gate.single(lr, g).double().cpu()
        t = torch.from_numpy(np.asarray(hr, dtype=np.float64) / pair.peak)[None, None]
        d = ((w * a + (1 - w) * b - t) ** 2 - (a - t) ** 2).flatten()
        idx = torch.bucketize(w.flatten(), inner, right=True)
        per_bin = torch.bincount(idx, weights=d, minlength=nb)
        count += torch.bincount(idx, minlength=nb).double()
        d_sum += per_bin
        d_rel += -10 / np.log(10) * per_bin / ((a - t) ** 2).sum().clamp_min(1e-20)
    n = count.sum()
    return [{"trust": f"[{lo:g}, {hi:g}{']' if k == nb - 1 else ')'}", "share": float(count[k] / n),
             "d_mse": float(d_sum[k] / n), "d_psnr": float(d_rel[k] / len(pairs))}
            for k, (lo, hi) in enumerate(zip(bins, bins[1:]))]


def trained_on_country(source: str) -> bool:
    """Whether the run folder ``source`` trained on landscapes (its record's training split names ``country``);
    such a model is scored on the held-out half only (:func:`~mmsr.data.datasets.country_part`). A mean of models
    (:func:`mean_of_methods`) trained on them if any member did."""
    if source.startswith(MEAN_OF):
        return any(trained_on_country(s) for s in source[len(MEAN_OF):].split(MEAN_SEP))
    rec = Path(source) / "record.json"
    return rec.is_file() and "country" in json.loads(rec.read_text())["meta"].get("train_split", "")


#: how the source of a mean of models (:func:`mean_of_methods`) is written: the prefix, then its members' sources
MEAN_OF, MEAN_SEP = "mean of: ", " + "


def mean_of_methods(members: dict) -> tuple:
    """``(model, guide_mode, source)`` of the mean of ``members`` (name -> ``(model, guide_mode, source)``, at least
    two, counted by :class:`~mmsr.models.model_mean.MeanOfModels`), e.g. the seeds of one recipe. They must read
    the guide the same way; the source lists theirs, so its records say which weights were averaged."""
    modes = {mode for _, mode, _ in members.values()}
    if len(modes) > 1:
        raise ValueError(f"a mean of models needs members that read the guide one way, got "
                         f"{ {n: mode for n, (_, mode, _) in members.items()} }")
    return (MeanOfModels([m for m, _, _ in members.values()]), modes.pop(),
            MEAN_OF + MEAN_SEP.join(src for _, _, src in members.values()))


def parse_mean_of(items: Sequence[str]) -> list:
    """``NAME=A,B,...`` items of ``--mean-of`` as ``(name, [A, B, ...])``; one-line errors for a bad form."""
    out = []
    for item in items:
        name, _, members = item.partition("=")
        names = [m.strip() for m in members.split(",") if m.strip()]
        if not name or len(names) < 2 or len(set(names)) != len(names):
            raise ValueError(f"--mean-of expects NAME=A,B[,...] with at least two different methods, got {item!r}")
        out.append((name, names))
    return out


#: the image sets :func:`run` can score: the 8 test images, the ``country`` landscapes (all 52, or only the 26
#: held out from every training split, which halves the time of a slow method), and the validation images (to
#: decide an option such as the self-ensemble before the test images are looked at)
SETS = ("test", "country", "country-heldout", "val")


def sets_to_score(sets: Sequence[str], trained_on_landscapes: bool) -> tuple:
    """Which of the image sets asked for are scored for one method: a model trained on landscapes only on the
    held-out half; any other on all 52 landscapes (its held-out half is read off them, :func:`with_heldout`),
    unless only the held-out half was asked for."""
    landscapes = ("country-heldout",) if trained_on_landscapes or "country" not in sets else ("country",)
    asked = "country" in sets or "country-heldout" in sets
    return tuple(s for s in sets if s in ("val", "test")) + (landscapes if asked else ())


def run(scale: int, root=None, out: Path = DEFAULT_OUT, methods: Optional[dict] = None, device=None,
        sets: Sequence[str] = ("test", "country")) -> list[dict]:
    """Score ``methods`` image by image on ``sets`` (resumable; records appended to ``guidance_x<S>.jsonl``)."""
    unknown = [s for s in sets if s not in SETS]
    if unknown or not sets:
        raise ValueError(f"sets: expected some of {list(SETS)}, got {list(sets)}")
    device = device or torch.device("cpu")
    path = Path(out) / f"guidance_x{scale}.jsonl"
    records = read_records(path)
    methods = methods if methods is not None else committed_methods(scale)
    images = {name: load_epfl_nir(name, root) for name in sets if name != "country-heldout"}
    if "country" in sets or "country-heldout" in sets:
        country = images.get("country") or load_epfl_nir("country", root)
        images["country-heldout"] = [p for p in country if country_part(p.name) == "heldout"]
    for name, (model, guide_mode, source) in methods.items():
        mixed = trained_on_country(source)
        for set_name, pairs in images.items():
            if set_name not in sets_to_score(sets, mixed):
                continue
            todo = [p for p in pairs if not has_record(records, method=name, set=set_name, image=p.name, source=source)]
            if not todo:
                continue
            for row in evaluate(model, todo, scale, guide_mode=guide_mode, device=device, with_ssim=False):
                rec = {"experiment": "guidance", "method": name, "set": set_name, "scale": scale, "source": source,
                       "guide": guide_mode, **row, "protocol": PROTOCOL, **provenance(device, "n/a")}
                append_record(path, rec)
                records.append(rec)
            print(f"[guidance x{scale}] {name} on {set_name}: done", file=sys.stderr)
    return records


def with_heldout(records) -> list:
    """``records`` plus, for every method scored on all ``country`` landscapes and not on ``country-heldout``,
    copies of its records of the held-out images under the set ``country-heldout``."""
    own = {(r["method"], r.get("scale")) for r in records if r["set"] == "country-heldout"}
    return list(records) + [{**r, "set": "country-heldout"} for r in records
                            if r["set"] == "country" and (r["method"], r.get("scale")) not in own
                            and country_part(r["image"]) == "heldout"]


def summary(records, scale: int) -> dict:
    """Per method and set: mean PSNR, mean gain over bicubic and over SRCNN, share of images above bicubic.

    The set ``country-heldout`` (the landscapes no model trained on) is also read off the ``country`` records
    of models that never saw a landscape, so that every method is compared on the same 26 images."""
    by = {}
    for r in with_heldout(records):
        if r.get("scale", scale) == scale:
            by.setdefault((r["method"], r["set"]), {})[r["image"]] = r["psnr"]
    out = {}
    for (m, s), imgs in sorted(by.items()):
        bic, sr = by.get(("bicubic", s), {}), by.get(("srcnn", s), {})
        names = sorted(imgs)
        row = {"n": len(names), "mean": float(np.mean([imgs[n] for n in names]))}
        if bic and all(n in bic for n in names):
            gains = np.array([imgs[n] - bic[n] for n in names])
            row.update(gain_over_bicubic=float(gains.mean()), share_above_bicubic=float((gains > 0).mean()))
        if sr and all(n in sr for n in names):
            row["gain_over_srcnn"] = float(np.mean([imgs[n] - sr[n] for n in names]))
        out.setdefault(m, {})[s] = row
    return out


def seed_spread(summ: dict, name: str, set_name: str = "test") -> Optional[dict]:
    """Mean and sample standard deviation over seeds of ``name``'s mean PSNR on ``set_name``: the committed weights
    (``name``, seed 0) and the runs scored as ``"<name> seed <k>"`` (``--run "djf seed 1=DIR"``). ``None`` when
    fewer than two seeds were scored on that set."""
    means = seed_means(summ, name, set_name)
    if len(means) < 2:
        return None
    vals = np.array(list(means.values()))
    return {"seeds": list(means), "means": list(vals), "mean": float(vals.mean()), "std": float(vals.std(ddof=1))}


def spread_text(summ: dict, name: str, sets: Sequence[str] = ("test", "country-heldout")) -> str:
    """One line of ``name``'s means over its seeds on each of ``sets``: ``"test 35.14 ± 0.06 dB over 3 seeds; ..."``,
    or for a run of one seed ``"one seed: test 34.94 dB; ..."``. A set with fewer than two seeds is left out of a
    line of spreads, a set not scored at all out of either."""
    spreads = [(s, sp) for s in sets if (sp := seed_spread(summ, name, s))]
    if spreads:
        return "; ".join(f"{s} {sp['mean']:.2f} ± {sp['std']:.2f} dB over {len(sp['seeds'])} seeds"
                         for s, sp in spreads)
    return "one seed: " + "; ".join(f"{s} {summ[name][s]['mean']:.2f} dB" for s in sets if s in summ.get(name, {}))


def seed_means(summ: dict, name: str, set_name: str = "test") -> dict:
    """``seed -> mean PSNR`` of ``name`` on ``set_name`` over the seeds scored there, in seed order; empty when none
    was scored. The committed weights (scored as ``name``) are seed 0 and the other seeds' runs are scored as
    ``"<name> seed <k>"`` -- unless a ``"<name> seed 0"`` was scored: then the committed weights are another seed of
    their recipe (chosen on validation), scored under their number too, and ``name`` itself is not counted twice
    (it must equal one of the numbered seeds on ``set_name``, else ValueError)."""
    prefix, numbered = f"{name} seed ", {}
    for m, sets in summ.items():
        if m.startswith(prefix) and m[len(prefix):].isdigit() and sets.get(set_name):
            numbered[int(m[len(prefix):])] = sets[set_name]["mean"]
    bare = summ.get(name, {}).get(set_name)
    if 0 not in numbered:
        if bare:
            numbered[0] = bare["mean"]
        return dict(sorted(numbered.items()))
    if bare and not any(abs(v - bare["mean"]) < 1e-9 for v in numbered.values()):
        raise ValueError(f"{name!r} on {set_name}: '{name} seed 0' was scored, so the committed weights must be scored "
                         f"under their seed number too (none of the seeds has their mean {bare['mean']:.4f})")
    return dict(sorted(numbered.items()))


def order_over_seeds(summ: dict, claimed: Sequence[str], set_name: str = "test") -> list[dict]:
    """Does a claimed order (best first, e.g. :func:`mmsr.reproduce.reported_order` of a paper's table) hold over
    seeds? One dict per neighbouring pair ``(better, worse)`` of ``claimed``: each side's seeds and mean over seeds,
    the gap of the means (positive: as claimed) and a verdict -- ``"holds on every seed"`` (the claimed-better
    model's worst seed above the other's best), ``"holds on the means"`` (seeds overlap), ``"reversed on the
    means"``, ``"reversed on every seed"``, or ``"not scored"``. A model with one seed counts as that seed alone."""
    out = []
    for better, worse in zip(claimed, claimed[1:]):
        a, b = seed_means(summ, better, set_name), seed_means(summ, worse, set_name)
        row = {"better": better, "worse": worse, "seeds": (list(a), list(b))}
        if not a or not b:
            out.append({**row, "gap": None, "verdict": "not scored"})
            continue
        means = (float(np.mean(list(a.values()))), float(np.mean(list(b.values()))))
        gap = means[0] - means[1]
        if min(a.values()) > max(b.values()):
            verdict = "holds on every seed"
        elif max(a.values()) < min(b.values()):
            verdict = "reversed on every seed"
        else:
            verdict = "holds on the means" if gap > 0 else "reversed on the means"
        out.append({**row, "means": means, "gap": gap, "verdict": verdict})
    return out


ORDER_HEADER = ["claim", "seeds", "means over seeds (dB, computed)", "gap (dB, computed)", "verdict"]


def order_rows(checks: list) -> list:
    """Table rows (:data:`ORDER_HEADER`) of :func:`order_over_seeds`."""
    rows = []
    for c in checks:
        claim, seeds = f"{c['better']} > {c['worse']}", " / ".join(str(len(s)) for s in c["seeds"])
        if c["gap"] is None:
            rows.append([claim, seeds, "-", "-", c["verdict"]])
        else:
            rows.append([claim, seeds, f"{c['means'][0]:.2f} vs {c['means'][1]:.2f}", f"{c['gap']:+.2f}",
                         c["verdict"]])
    return rows


def pair_standing(summ: dict, names: Sequence[str], reported: Sequence[float], set_name: str = "test") -> dict:
    """A pair of a paper's columns, as reported and as computed here. ``names``: our two methods ``(a, b)`` in
    :func:`summary` (seeds found as :func:`seed_means` finds them); ``reported``: the paper's averages of the same two
    columns, under its protocol. Returns :func:`order_over_seeds`'s check of the order the paper reports (``better``
    first; ``seeds`` here in the order of ``names``) plus ``reported_gap`` and ``gap`` (both ``a - b``; ``gap`` on
    our means over seeds, ``None`` when either side was not scored) and ``shift``: each method's mean over seeds minus its reported average. A shift mixes two
    protocols; only the *difference* of the two shifts says something about the methods, and only as far as the
    protocol moves both alike."""
    if len(names) != 2 or len(reported) != 2:
        raise ValueError(f"pair_standing wants two methods and their two reported averages, got {names}, {reported}")
    a, b = names
    reported_gap = float(reported[0]) - float(reported[1])
    check = order_over_seeds(summ, [a, b] if reported_gap >= 0 else [b, a], set_name)[0]
    seeds = check["seeds"] if check["better"] == a else check["seeds"][::-1]
    out = {**check, "names": (a, b), "seeds": seeds, "reported": tuple(map(float, reported)),
           "reported_gap": reported_gap, "gap": None, "shift": None}
    if check["gap"] is not None:
        means = dict(zip((check["better"], check["worse"]), check["means"]))
        out["gap"] = means[a] - means[b]
        out["shift"] = (means[a] - out["reported"][0], means[b] - out["reported"][1])
    return out


STANDING_HEADER = ["pair (ours)", "reported gap (dB, paper's protocol)", "seeds (ours)", "computed gap (dB, ours)",
                   "paper's order, computed", "ours - reported, each (dB, two protocols)"]


def standing_rows(checks: Sequence[dict]) -> list:
    """Table rows (:data:`STANDING_HEADER`) of :func:`pair_standing` checks."""
    rows = []
    for c in checks:
        pair, seeds = " vs ".join(c["names"]), " / ".join(str(len(s)) for s in c["seeds"])
        if c["gap"] is None:
            rows.append([pair, f"{c['reported_gap']:+.2f}", seeds, "-", c["verdict"], "-"])
        else:
            rows.append([pair, f"{c['reported_gap']:+.2f}", seeds, f"{c['gap']:+.2f}", c["verdict"],
                         f"{c['shift'][0]:+.2f} / {c['shift'][1]:+.2f}"])
    return rows


#: the book's bar for a guided model (issue #11): on landscapes it never saw, at least SRCNN's mean PSNR and above
#: bicubic on at least 90 % of the images, while losing at most 0.2 dB on the test images against its reference
BAR = {"gain_over_srcnn": 0.0, "share_above_bicubic": 0.9, "max_test_loss": 0.2}


def bar_check(summ: dict, name: str, reference: str, landscapes: str = "country") -> dict:
    """How method ``name`` of :func:`summary` fares against :data:`BAR`: ``d_test`` (mean PSNR change on the test
    images against ``reference``, e.g. the same model without the change), ``gain_over_srcnn`` and
    ``share_above_bicubic`` on ``landscapes``, and ``met``."""
    c = summ[name][landscapes]
    d_test = summ[name]["test"]["mean"] - summ[reference]["test"]["mean"]
    met = (c["gain_over_srcnn"] >= BAR["gain_over_srcnn"] and c["share_above_bicubic"] >= BAR["share_above_bicubic"]
           and d_test >= -BAR["max_test_loss"])
    return {"d_test": d_test, "gain_over_srcnn": c["gain_over_srcnn"],
            "share_above_bicubic": c["share_above_bicubic"], "met": met}


BAR_HEADER = ["method", "test vs ungated", "landscapes vs SRCNN", "above bicubic", "bar"]


def bar_rows(summ: dict, methods, landscapes: str = "country-heldout") -> list:
    """Table rows (:data:`BAR_HEADER`) of :func:`bar_check` for each gated method of ``methods`` scored on
    ``landscapes``, against the same model without a gate (the name before the first ``+``)."""
    rows = []
    for m in methods:
        if m in summ and landscapes in summ[m]:
            v = bar_check(summ, m, m.split("+")[0], landscapes=landscapes)
            rows.append([m, f"{v['d_test']:+.2f}", f"{v['gain_over_srcnn']:+.2f}", f"{v['share_above_bicubic']:.0%}",
                         "met" if v["met"] else "not met"])
    return rows


SUMMARY_HEADER = ["method", "images", "n", "mean PSNR", "gain over bicubic", "gain over SRCNN", "above bicubic"]


def summary_rows(summ: dict, methods, sets=("test", "country")) -> list:
    """Table rows (:data:`SUMMARY_HEADER`) of :func:`summary` for ``methods`` present in it, one per image set
    of ``sets`` the method was scored on."""
    nan = float("nan")
    return [[m, st, v["n"], f"{v['mean']:.2f}", f"{v.get('gain_over_bicubic', nan):+.2f}",
             f"{v.get('gain_over_srcnn', nan):+.2f}", f"{v.get('share_above_bicubic', nan):.0%}"]
            for m in methods if m in summ for st in sets if (v := summ[m].get(st))]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mmsr.guidance_check", description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=int, required=True)
    ap.add_argument("--root", default=None, help="data root (default: $MMSR_DATA)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--run", action="append", default=[], metavar="NAME=DIR", help="also score a run folder")
    ap.add_argument("--only-runs", action="store_true",
                    help="score only the --run folders and --gate models (and bicubic, SRCNN)")
    ap.add_argument("--gate", nargs="+", default=[], metavar="MODEL",
                    help="also score these committed guided models gated with SRCNN where the guide disagrees "
                         "(mmsr.models.gated; the setting is chosen on the validation images first)")
    ap.add_argument("--ensemble", nargs="+", default=[], metavar="METHOD",
                    help="also score these methods (committed, --gate or --run names) with the test-time "
                         "self-ensemble: the mean over the 8 flips/turns of target and guide, scored as "
                         "'METHOD+self-ensemble' (mmsr.models.self_ensemble; 8 times the inference time)")
    ap.add_argument("--mean-of", action="append", default=[], metavar="NAME=A,B,...",
                    help="also score the mean of these methods' outputs (committed, --gate or --run names, or "
                         "run folders, which are loaded but not scored themselves; e.g. the seeds of one recipe) as "
                         "NAME (mmsr.models.model_mean; one forward pass per member); NAME may then be given to "
                         "--ensemble")
    ap.add_argument("--sets", nargs="+", default=["test", "country"], choices=SETS,
                    help="image sets to score (default: test and country; 'test' alone is quicker, e.g. for "
                         "extra seeds; 'country-heldout': only the 26 landscapes no model trained on; 'val': the "
                         "validation images, to decide an option before the test images are scored)")
    ap.add_argument("--device", default=None)
    a = ap.parse_args(argv)
    unknown = [m for m in a.gate if m not in GUIDED]
    if unknown:
        raise SystemExit(f"--gate: unknown guided model(s) {unknown}; expected some of {list(GUIDED)}")
    methods = committed_methods(a.scale)
    missing = [m for m in a.gate if m not in methods]
    if missing:
        raise SystemExit(f"--gate: no committed x{a.scale} weights for {missing}")
    runs = [item.partition("=") for item in a.run]
    bad = [item for item, (_, _, folder) in zip(a.run, runs) if not folder]
    if bad:
        raise SystemExit(f"--run expects NAME=DIR, got {bad[0]!r}")
    missing = [folder for _, _, folder in runs if not Path(folder).exists()]
    if missing:   # e.g. a NAME with "=" in it: the folder starts at the first "="
        raise SystemExit(f"--run: no run folder {missing[0]!r} (NAME=DIR; NAME must not contain '=')")
    known = set(methods) | {f"{m}+gate" for m in a.gate} | {name for name, _, _ in runs}
    try:
        means = parse_mean_of(a.mean_of)
    except ValueError as e:
        raise SystemExit(str(e)) from None
    unknown = [m for _, members in means for m in members if m not in known and not Path(m).exists()]
    if unknown:   # before any long work (gate selection, scoring)
        raise SystemExit(f"--mean-of: unknown method(s) {unknown}; expected some of {sorted(known)} or run folders")
    known |= {name for name, _ in means}
    unknown = [m for m in a.ensemble if m not in known]
    if unknown:
        raise SystemExit(f"--ensemble: unknown method(s) {unknown}; expected some of {sorted(known)}")
    committed = methods
    if a.only_runs:
        methods = {k: v for k, v in methods.items() if k in ("bicubic", "srcnn")}
    device = try_gpu(a.device) if a.device else torch.device("cpu")
    for m in a.gate:
        setting, _ = select_gate(m, a.scale, a.root, a.out, device)
        print(f"[guidance x{a.scale}] {m}+gate: {gate_key(setting)} (chosen on the validation images)",
              file=sys.stderr)
        methods[f"{m}+gate"] = gated_method(m, a.scale, setting)
    for name, _, folder in runs:
        methods[name] = run_method(folder)
    for name, members in means:   # a member given as a folder is loaded, not scored itself
        methods[name] = mean_of_methods({m: methods[m] if m in methods else committed[m] if m in committed
                                         else run_method(m) for m in members})
    for name in a.ensemble:   # same source: the method name says it is the ensemble
        model, guide_mode, source = methods[name] if name in methods else committed[name]
        methods[f"{name}+self-ensemble"] = (SelfEnsemble(model), guide_mode, source)
    recs = run(a.scale, a.root, a.out, methods, device, sets=a.sets)
    print(json.dumps(summary(recs, a.scale), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
