"""Figures every chapter needs: images side by side with zoomed insets, error maps, filter grids.

Panels wrap at :data:`MAX_COLUMNS` so that a figure scaled to the book's page (about :data:`PAGE_PX` pixels
wide) keeps its titles readable (:func:`title_px` is the height a title ends up with on the page).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch

MAX_COLUMNS = 3       # panels per row by default
TITLE_PT = 12         # panel title size
PAGE_PX = 760         # width of the book's text column in CSS pixels (sphinx-book-theme, laptop screen)


def title_px(fig, fontsize_pt: float = TITLE_PT, page_px: int = PAGE_PX) -> float:
    """Height in screen pixels of a ``fontsize_pt`` title once ``fig`` is scaled to fit the page width."""
    width_px = fig.get_size_inches()[0] * fig.dpi
    return fontsize_pt * fig.dpi / 72.0 * min(1.0, page_px / width_px)


def busiest_window(img, h: int, w: int) -> tuple:
    """``(y, x, h, w)``: the ``h x w`` box with the most gradient energy -- where a zoomed inset shows detail.

    A fixed box (say the image centre) can land on a flat region (a dark shutter, sky) where every method looks
    the same. The sum is taken on a stride of a quarter box, so this is cheap on megapixel images.
    """
    a = _np(img).astype(np.float64)
    if a.ndim == 3:
        a = a.mean(axis=-1)
    H, W = a.shape
    if not (0 < h <= H and 0 < w <= W):
        raise ValueError(f"a {h}x{w} window does not fit an image of {H}x{W}")
    gy, gx = np.gradient(a)
    energy = np.pad(np.cumsum(np.cumsum(gy ** 2 + gx ** 2, 0), 1), ((1, 0), (1, 0)))
    best, arg = -1.0, (0, 0)
    for y in range(0, H - h + 1, max(h // 4, 1)):
        for x in range(0, W - w + 1, max(w // 4, 1)):
            e = energy[y + h, x + w] - energy[y, x + w] - energy[y + h, x] + energy[y, x]
            if e > best:
                best, arg = e, (y, x)
    return arg[0], arg[1], h, w


def _np(img):
    if isinstance(img, torch.Tensor):
        img = img.detach().cpu().double().numpy()
        img = np.squeeze(img)
        if img.ndim == 3 and img.shape[0] in (1, 3):
            img = np.moveaxis(img, 0, -1)
    return np.asarray(img)


def _display(img, peak: Optional[float]):
    a = _np(img).astype(np.float64)
    if peak is None:
        peak = 255.0 if a.max() > 1.5 else 1.0
    return np.clip(a / peak, 0, 1)


def show_images(images: Sequence, titles: Optional[Sequence[str]] = None, *,
                zoom: Union[None, str, tuple] = None, peak: Optional[float] = None, ncols: Optional[int] = None,
                size: float = 3.2, cmap: str = "gray", signed: bool = False):
    """Show images in a grid of at most :data:`MAX_COLUMNS` columns (unless ``ncols`` says otherwise).

    ``signed=True`` shows each image on its own symmetric range ``[-max|a|, max|a|]`` (zero in the middle of
    ``cmap``, e.g. ``"RdBu_r"``): for code maps and residuals, whose values are small and of either sign and
    would look flat on the intensity range.

    ``zoom=(y, x, h, w)`` draws that box on each image with an enlarged inset; ``zoom="auto"`` picks a box of a
    sixth of the first image's size where it has the most detail (:func:`busiest_window`).
    Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    n = len(images)
    if isinstance(zoom, str):
        if zoom != "auto":
            raise ValueError(f"zoom must be (y, x, h, w), 'auto' or None, not {zoom!r}")
        first = _np(images[0])
        zoom = busiest_window(first, max(first.shape[0] // 6, 1), max(first.shape[1] // 6, 1))
    h0, w0 = _np(images[0]).shape[:2]
    pw, ph = size * min(1.0, w0 / h0), size * min(1.0, h0 / w0)     # panels shaped like the images
    ncols = ncols or max(1, min(n, MAX_COLUMNS if pw >= ph else int(10.0 // pw)))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(pw * ncols, (ph + 0.35) * nrows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        if signed:
            raw = _np(images[k]).astype(np.float64)
            a = 0.5 + raw / (2 * (np.abs(raw).max() or 1.0))
        else:
            a = _display(images[k], peak)
        ax.imshow(a, cmap=cmap if a.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
        if titles is not None:
            ax.set_title(titles[k], fontsize=TITLE_PT)
        if zoom is not None:
            y, x, h, w = zoom
            ax.add_patch(Rectangle((x, y), w, h, fill=False, edgecolor="red", linewidth=1.2))
            inset = ax.inset_axes([0.58, 0.02, 0.4, 0.4])
            inset.imshow(a[y:y + h, x:x + w], cmap=cmap if a.ndim == 2 else None, vmin=0, vmax=1,
                         interpolation="nearest")
            inset.set_xticks([])
            inset.set_yticks([])
            for spine in inset.spines.values():
                spine.set_edgecolor("red")
    fig.tight_layout()
    return fig


def error_maps(estimates: Sequence, reference, titles: Optional[Sequence[str]] = None, *, vmax: float = 20.0,
               size: float = 3.2, ncols: Optional[int] = None):
    """Absolute error ``|estimate - reference|`` of each estimate, on a shared colour scale (0..vmax)."""
    import matplotlib.pyplot as plt

    ref = _np(reference).astype(np.float64)
    n = len(estimates)
    ncols = ncols or min(n, MAX_COLUMNS)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    im = None
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        err = np.abs(_np(estimates[k]).astype(np.float64) - ref)
        im = ax.imshow(err, cmap="inferno", vmin=0, vmax=vmax)
        if titles is not None:
            ax.set_title(titles[k], fontsize=TITLE_PT)
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, label="absolute error")
    return fig


def filter_grid(weights, ncols: int = 8, size: float = 0.8, title: Optional[str] = None):
    """Show convolution filters ``(out, in, k, k)`` (first input channel) as a grid, each scaled to its range."""
    import matplotlib.pyplot as plt

    w = _np(weights) if not isinstance(weights, torch.Tensor) else weights.detach().cpu().numpy()
    w = np.asarray(w)
    if w.ndim == 4:
        w = w[:, 0]
    if w.ndim != 3:
        raise ValueError(f"filter_grid expects (out, in, k, k) or (out, k, k), got shape {w.shape}")
    n = w.shape[0]
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            f = w[k]
            lim = np.abs(f).max() or 1.0
            ax.imshow(f, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    if title:
        fig.suptitle(title)
    return fig


def red_green(target, guide) -> np.ndarray:
    """An ``HxWx3`` overlay: the target in red, the guide's luminance in green (yellow where they agree).

    Each is stretched to its own 1st-99th percentile so that modalities of different contrast compare; this
    is how 003 (Fig. 6, Fig. 10) shows alignment before and after the learned deformation.
    """
    def stretch(a):
        a = _np(a).astype(np.float64)
        if a.ndim == 3:
            a = a.mean(axis=-1)
        lo, hi = np.percentile(a, (1, 99))
        return np.clip((a - lo) / max(hi - lo, 1e-9), 0, 1)

    t, g = stretch(target), stretch(guide)
    if t.shape != g.shape:
        raise ValueError(f"target {t.shape} and guide {g.shape} must have the same size for an overlay")
    return np.stack((t, g, np.zeros_like(t)), axis=-1)


def displacement_quiver(deformation, size, step: int = 24, ax=None, title: Optional[str] = None):
    """Arrows of a deformation's displacement (in pixels of ``size``) on a coarse grid; returns the axes."""
    import matplotlib.pyplot as plt

    from .ops.warps import identity_grid

    h, w = size
    ys, xs = np.arange(step // 2, h, step), np.arange(step // 2, w, step)
    grid = identity_grid(h, w)[ys][:, xs]
    with torch.no_grad():
        moved = deformation(grid)
    d = ((moved - grid) * torch.tensor([w / 2.0, h / 2.0])).numpy()
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4 * h / w))
    ax.quiver(xs, ys, d[..., 0], d[..., 1], angles="xy", scale_units="xy", scale=0.25, color="tab:red")
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.set_aspect("equal")
    ax.set_title(title or f"displacement (arrows x4), max {np.hypot(d[..., 0], d[..., 1]).max():.1f} px",
                 fontsize=TITLE_PT)
    return ax


def per_image_gains(records: Sequence[dict], scale: int, methods: Sequence[str], baseline: str = "bicubic",
                    sets: Sequence[str] = ("test", "country"), size: float = 4.0,
                    labels: Optional[Sequence[str]] = None):
    """Per-image PSNR gain of each method over ``baseline`` (one dot per image, a bar at the mean), one panel per
    image set: where a guided model falls below zero, its guide made the result worse than the baseline.

    ``records``: rows with ``method``, ``set``, ``image``, ``psnr``, ``scale`` (e.g. :mod:`mmsr.guidance_check`);
    ``labels``: shorter tick labels for ``methods`` (default: the method names).
    """
    if labels is not None and len(labels) != len(methods):
        raise ValueError(f"{len(labels)} labels for {len(methods)} methods")
    import matplotlib.pyplot as plt

    psnr = {(r["method"], r["set"], r["image"]): r["psnr"] for r in records if r.get("scale", scale) == scale}
    fig, axes = plt.subplots(1, len(sets), figsize=(size * len(sets), 3.2), squeeze=False, sharey=True)
    rng = np.random.default_rng(0)
    for ax, s in zip(axes[0], sets):
        images = sorted({i for (m, ss, i) in psnr if ss == s and m == baseline})
        for k, m in enumerate(methods):
            gains = np.array([psnr[(m, s, i)] - psnr[(baseline, s, i)] for i in images if (m, s, i) in psnr])
            if gains.size == 0:
                continue
            ax.scatter(k + rng.uniform(-0.18, 0.18, gains.size), gains, s=10, alpha=0.6)
            ax.hlines(gains.mean(), k - 0.3, k + 0.3, color="k", lw=2)
            ax.text(k, gains.max(), f"{(gains > 0).mean():.0%}", ha="center",
                    va="bottom", fontsize=8)
        ax.axhline(0, color="r", lw=1, ls="--")
        # many methods: steeper labels anchored at their tick, so long names do not run into each other
        ax.set_xticks(range(len(methods)), labels or methods, rotation=20 if len(methods) <= 6 else 40,
                      ha="center" if len(methods) <= 6 else "right", rotation_mode="anchor")
        ax.set_title(f"{s} ({len(images)} images), x{scale}", fontsize=10)
    axes[0][0].set_ylabel(f"PSNR gain over {baseline} (dB)")
    fig.text(0.5, -0.02, f"dots: images; bars: means; numbers: share of images above {baseline}", ha="center",
             fontsize=8)
    fig.tight_layout()
    return fig


def training_curves(records: dict, scale: int, ax=None):
    """Validation PSNR against training minutes, one curve per training record (``name -> record`` as the
    committed ``mmsr/weights/*.json``); minutes are ``step / steps * train_seconds / 60`` (constant speed assumed
    within a run), or each point's ``minutes`` where the history has them (:func:`mmsr.budget.merged_record`: a
    continuation drawn with the runs behind it). A run that started from other weights (``meta["init_from"]``,
    ``meta["generator_init"]``) is dashed and its label names the start: its minutes do not count the run that made
    those weights. Returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.6))
    for name, r in records.items():
        if r["meta"]["scale"] != scale or not r.get("history"):
            continue
        start = r["meta"].get("init_from") or r["meta"].get("generator_init")
        start = Path(start["file"] if isinstance(start, dict) else start).stem if start else None
        runs = " + ".join(f"{n:,}" for n in r["meta"].get("chain", ()))
        ax.plot(_history_minutes(r), [h["val_psnr"] for h in r["history"]], "o--" if start else "o-",
                label=f"{name} ({r['parameters']:,} parameters" + (f"; from {start}" if start else "")
                + (f"; {runs} steps" if runs else "") + ")")
    ax.set_xlabel("training minutes (one CPU thread, shared machine)")
    ax.set_ylabel("validation PSNR (dB)")
    ax.set_title(f"x{scale}: validation PSNR against training time, computed in training", fontsize=TITLE_PT)
    ax.legend(fontsize=9)
    return ax


def validation_by_group(groups: dict, colors: Optional[dict] = None, ax=None,
                        xlabel: str = "training minutes (steps at the seconds per step timed side by side)"):
    """Validation PSNR against training minutes, one colour per group and one line per seed: ``groups`` maps a
    label to its seeds' records, each with ``minutes`` in its history (:func:`mmsr.budget.merged_record` with a
    ``clock``, so that every group is read on one clock). The first seed of a group is solid, the others dashed;
    the legend names each group once, with its seed count. Returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 5))
    colors = {**{g: f"C{i % 10}" for i, g in enumerate(groups)}, **(colors or {})}
    for group, records in groups.items():
        for k, r in enumerate(records):
            if not r.get("history"):
                raise ValueError(f"{group}: a record without a validation history")
            ax.plot(_history_minutes(r), [h["val_psnr"] for h in r["history"]], "o-" if k == 0 else "o--",
                    color=colors[group], ms=3, lw=1.2,
                    label=f"{group} ({len(records)} seed{'s' * (len(records) > 1)})" if k == 0 else None)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("validation PSNR, computed in training (dB)")
    ax.legend(fontsize=9)
    return ax


def _history_minutes(record: dict) -> np.ndarray:
    """The training minutes of each validation point of a record: its own ``minutes`` where it has them, else
    the run's mean speed times the step."""
    per_step = record["train_seconds"] / 60.0 / record["steps"]
    return np.array([h.get("minutes", h["step"] * per_step) for h in record["history"]])


def psnr_at_minutes(record: dict, minutes: float) -> float:
    """A training record's validation PSNR interpolated at ``minutes`` of training (NaN outside its run)."""
    t = _history_minutes(record)
    v = np.array([h["val_psnr"] for h in record["history"]])
    if minutes < t[0] or minutes > t[-1]:
        return float("nan")
    return float(np.interp(minutes, t, v))


def common_minutes(records: dict) -> tuple:
    """A training time at which every run of ``records`` (``label -> training record``) can be read with
    :func:`psnr_at_minutes`: the shortest run's length, once it is past every run's first validation point.

    A run that ends before another's first validation point cannot be compared at any common time; such runs
    are dropped, shortest first, until the rest can. Returns ``(minutes, kept, dropped)``: ``minutes`` is
    ``None`` when fewer than two runs remain; ``dropped`` lists the labels left out, in the order dropped."""
    runs = {k: r for k, r in records.items() if r.get("history")}
    dropped = []
    while len(runs) >= 2:
        first = max(_history_minutes(r)[0] for r in runs.values())
        end = min(r["train_seconds"] / 60.0 for r in runs.values())
        if first <= end:
            return end, runs, dropped
        shortest = min(runs, key=lambda k: runs[k]["train_seconds"])
        dropped.append(shortest)
        del runs[shortest]
    return None, runs, dropped


def guidance_trade(summ: dict, methods: Sequence[str], x_set: str = "test", y_set: str = "country-heldout",
                   reference: str = "srcnn", ax=None):
    """Each method as a point (mean PSNR on ``x_set``, mean PSNR on ``y_set``) from
    :func:`mmsr.guidance_check.summary`: the trade between images where the guide helps (urban test images) and
    images where it can mislead (held-out landscapes). A dashed line marks ``reference`` (SRCNN) on ``y_set``;
    up and to the right is better on both. Returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.2))
    for m in methods:
        if x_set in summ.get(m, {}) and y_set in summ.get(m, {}):
            x, y = summ[m][x_set]["mean"], summ[m][y_set]["mean"]
            ax.scatter([x], [y], s=30)
            ax.annotate(m, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    if y_set in summ.get(reference, {}):
        ax.axhline(summ[reference][y_set]["mean"], color="r", ls="--", lw=1, label=f"{reference} on {y_set}")
        ax.legend(fontsize=8, loc="lower left")
    ax.set_xlabel(f"mean PSNR on {x_set} (dB)")
    ax.set_ylabel(f"mean PSNR on {y_set} (dB)")
    return ax


def psnr_against_budget(rows: Sequence[dict], set_name: str = "test", cost: str = "minutes_at_fastest", ax=None,
                        hide: Sequence[str] = (), colors: Optional[dict] = None):
    """Mean PSNR on ``set_name`` against training cost, one point per run and one colour per group, from
    :func:`mmsr.budget.budget_rows` (``cost``: ``"minutes_at_fastest"``, ``"minutes"`` or ``"steps"``). A group's
    seeds share a colour (the same in every panel drawn from the same ``rows``, groups in ``hide`` included);
    its mean over seeds is the larger open marker. Groups in ``hide`` are not drawn; ``colors`` (group -> colour)
    fixes colours across figures. Returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.2))
    colors = {**{g: f"C{i % 10}" for i, g in enumerate(dict.fromkeys(r["group"] for r in rows))}, **(colors or {})}
    groups = {}
    for r in rows:
        if r["psnr"].get(set_name) is not None and r["group"] not in hide:
            groups.setdefault(r["group"], []).append((r[cost], r["psnr"][set_name], r.get("parameters")))
    for group, pts in groups.items():
        color = colors[group]
        xs, ys, params = zip(*pts)
        ax.scatter(xs, ys, s=22, color=color,
                   label=f"{group} ({len(pts)} seed{'s' * (len(pts) > 1)}"
                         + (f", {params[0]:,} parameters)" if params[0] else ")"))
        if len(pts) > 1:
            ax.scatter([np.mean(xs)], [np.mean(ys)], s=110, facecolors="none", edgecolors=color, linewidths=1.5)
    words = {"minutes_at_fastest": "training minutes (fastest recorded speed, 1 thread)",
             "minutes": "training minutes (recorded wall time, one CPU thread, shared machine)",
             "steps": "training steps"}
    ax.set_xlabel(words.get(cost, cost))
    ax.set_ylabel(f"mean PSNR on {set_name} (dB)")
    ax.legend(fontsize=8)
    return ax


def equal_cost_panels(rows: Sequence[dict], scale: int, colors: Optional[dict] = None,
                      hide_on_test: Sequence[str] = ("SRCNN",)):
    """The equal-cost figure of chapters 5 and 7: :func:`psnr_against_budget` on the test images (``hide_on_test``
    left out: SRCNN is ~5 dB below the guided models there) and on the held-out landscapes, one legend below.
    Returns the figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 5.6))   # scaled to the page, 10 pt stays readable
    hidden = [g for g in hide_on_test if any(r["group"] == g for r in rows)]
    panels = (("test", "8 test images" + (f" ({', '.join(hidden)}, far below, not drawn)" if hidden else ""),
               hidden), ("country-heldout", "26 held-out landscapes", ()))
    for ax, (st, words, hide) in zip(axes, panels):
        psnr_against_budget(rows, st, ax=ax, hide=hide, colors=colors).get_legend().remove()
        ax.set_title(f"x{scale}, {words}", fontsize=TITLE_PT - 1)
        ax.set_ylabel("mean PSNR, computed (dB)", fontsize=10)
        ax.xaxis.label.set_fontsize(10)
    legend = {}   # a group drawn in either panel, once
    for ax in axes[::-1]:
        for h, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, h)
    ncol = 2 if len(legend) <= 8 else 3
    fig.legend(list(legend.values()), list(legend), loc="lower center", ncol=ncol, fontsize=10)
    fig.tight_layout(rect=(0, 0.04 * (math.ceil(len(legend) / ncol) + 1), 1, 1))   # room for the legend rows
    return fig
