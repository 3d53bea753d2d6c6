import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from mmsr import plot
from mmsr.tables import markdown_table, method_table


def test_show_images_with_zoom_and_error_maps():
    imgs = [np.random.default_rng(0).random((20, 30)) * 255, torch.rand(1, 20, 30), np.zeros((20, 30, 3))]
    fig = plot.show_images(imgs, ["a", "b", "c"], zoom=(2, 3, 5, 6))
    assert len(fig.axes) == 3 and sum(len(ax.child_axes) for ax in fig.axes) == 3  # one inset per image
    fig = plot.error_maps(imgs[:2], imgs[0], ["x", "y"], vmax=10)
    assert len(fig.axes) == 3  # two maps and the colour bar
    fig = plot.filter_grid(torch.randn(10, 1, 5, 5), ncols=4)
    assert len(fig.axes) == 12
    with pytest.raises(ValueError, match="filter_grid"):
        plot.filter_grid(torch.randn(5, 5))


def test_tables():
    md = markdown_table(["a", "b"], [["x", 1.23456], ["y", 0.5]])
    assert md.splitlines()[2] == "| x | 1.23 |" and md.splitlines()[3] == "| y | 0.5000 |"
    # a pipe inside a cell (LeSITA's |u - s|) stays in its cell: every row keeps the header's column count
    md = markdown_table(["what", "n"], [["a weight on |u - s|", 3]])
    assert md.splitlines()[2] == "| a weight on \\|u - s\\| | 3 |"
    assert {line.replace("\\|", "").count("|") for line in md.splitlines()} == {3}
    rows = lambda v: [{"image": "i1", "psnr": v, "ssim": 0.9}, {"image": "i2", "psnr": v + 2, "ssim": 0.8}]
    md = method_table({"m": {2: rows(30.0), 4: rows(20.0)}}, metrics=("psnr",))
    assert "| Average | 31.00 | 21.00 |" in md


def test_per_image_gains_plots_one_dot_per_image_and_the_share_above_baseline():
    recs = [{"method": m, "set": s, "image": f"i{k}", "psnr": 30.0 + k + d, "scale": 2}
            for s in ("test", "country") for k in range(4)
            for m, d in (("bicubic", 0.0), ("good", 0.5), ("bad", -0.2 if s == "country" else 0.1))]
    fig = plot.per_image_gains(recs, 2, ["good", "bad"])
    left, right = fig.axes
    from matplotlib.collections import PathCollection

    assert [len(c.get_offsets()) for c in left.collections if isinstance(c, PathCollection)] == [4, 4]
    texts = [t.get_text() for t in right.texts]
    assert texts == ["100%", "0%"]  # "bad" is below bicubic on every country image
    fig = plot.per_image_gains(recs, 2, ["good", "bad"], labels=["g", "b"])
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["g", "b"]
    with pytest.raises(ValueError, match="1 labels for 2 methods"):
        plot.per_image_gains(recs, 2, ["good", "bad"], labels=["g"])


@pytest.mark.parametrize("n", [1, 3, 5, 8])
def test_panel_titles_stay_readable_when_the_figure_is_scaled_to_the_page(n):
    # a row of n 3.2-inch panels shrinks to the page width; the titles must stay >= 9 screen pixels high
    # (the old one-row layout gave ~4.4 px for 7 panels)
    imgs = [np.zeros((24, 32))] * n
    for fig in (plot.show_images(imgs, [f"t{i}" for i in range(n)]), plot.error_maps(imgs, imgs[0], list("abcdefgh")[:n])):
        assert plot.title_px(fig) >= 9.0
        assert all(t.get_fontsize() >= plot.TITLE_PT for ax in fig.axes for t in [ax.title] if ax.get_title())
        matplotlib.pyplot.close(fig)


def test_busiest_window_finds_the_textured_region_not_the_flat_one():
    rng = np.random.default_rng(0)
    img = np.full((120, 180), 20.0)                       # a flat, dark field (the shutter)
    img[70:100, 20:60] += rng.normal(0, 30, (30, 40))      # the only detail
    y, x, h, w = plot.busiest_window(img, 20, 30)
    assert (h, w) == (20, 30)
    assert 70 - 10 <= y <= 100 - 10 and 20 - 15 <= x <= 60 - 15   # the box overlaps the texture by at least half
    fig = plot.show_images([img, img], ["a", "b"], zoom="auto")
    matplotlib.pyplot.close(fig)
    with pytest.raises(ValueError, match="does not fit"):
        plot.busiest_window(img, 200, 30)
    with pytest.raises(ValueError, match="zoom must be"):
        plot.show_images([img], zoom="centre")


def test_signed_display_spreads_small_codes_over_the_colour_range():
    code = np.zeros((8, 8))
    code[2, 3], code[5, 5] = 0.02, -0.01          # tiny values: flat on a [0, 1] intensity scale
    fig = plot.show_images([code], signed=True, cmap="RdBu_r")
    shown = fig.axes[0].images[0].get_array()
    assert shown.max() == pytest.approx(1.0) and shown.min() == pytest.approx(0.25) and shown[0, 0] == 0.5
    matplotlib.pyplot.close(fig)
    fig = plot.show_images([code])
    assert np.ptp(fig.axes[0].images[0].get_array()) < 0.03   # what the reader saw before: flat
    matplotlib.pyplot.close(fig)


def test_unlabelled_columns_catches_a_result_table_mixing_sources():
    from mmsr.tables import labelled, per_image_table, summary_table, unlabelled_columns

    mixed = "**NIR, x2**\n\n" + markdown_table(["image", "DJF PSNR", "DJF PSNR (reported)"], [["a", 30.0, 31.0]])
    assert unlabelled_columns(mixed) == ["**NIR, x2** :: DJF PSNR"]
    assert unlabelled_columns(labelled("PSNR, computed here", ["image", "DJF"], [["a", 30.0]])) == []
    both = labelled("PSNR: reported and computed", ["image", "DJF"], [["a", 30.0]])
    assert unlabelled_columns(both) == ["**PSNR: reported and computed** :: DJF"]
    titled = markdown_table(["inside the box (computed here)", "PSNR (dB)"], [["bicubic", 30.0]])
    assert unlabelled_columns(titled) == []
    assert unlabelled_columns(markdown_table(["inside the box", "PSNR (dB)"], [["bicubic", 30.0]])) == [" :: PSNR (dB)"]
    settings = markdown_table(["weights", "maps", "steps"], [["lmcsc_x2", 64, 3300]])   # not a result table
    assert unlabelled_columns(settings) == []
    rows = [{"image": "a", "psnr": 30.0, "ssim": 0.9}, {"image": "b", "psnr": 32.0, "ssim": 0.8}]
    res = {"bicubic": {2: rows, 4: rows}, "gf": {2: rows}}
    s = summary_table(res)
    assert "| gf | 31.00 | 0.8500 | - | - |" in s and unlabelled_columns(s) == []
    p = per_image_table(res, 4)
    assert "| Average | 31.00 |" in p and "gf" not in p and unlabelled_columns(p) == []
    with pytest.raises(ValueError, match="no results"):
        per_image_table(res, 3)


def test_training_curves_and_psnr_at_equal_minutes():
    rec = {"meta": {"scale": 4}, "train_seconds": 600.0, "steps": 100, "parameters": 1234,
           "history": [{"step": 50, "val_psnr": 30.0}, {"step": 100, "val_psnr": 32.0}]}
    other = {**rec, "meta": {"scale": 2}}
    ax = plot.training_curves({"a": rec, "b": other}, 4)
    assert len(ax.lines) == 1 and list(ax.lines[0].get_xdata()) == [5.0, 10.0]
    assert plot.psnr_at_minutes(rec, 7.5) == pytest.approx(31.0)
    assert np.isnan(plot.psnr_at_minutes(rec, 11.0)) and np.isnan(plot.psnr_at_minutes(rec, 1.0))
    started = {**rec, "meta": {"scale": 4, "init_from": {"file": "mmsr/weights/lmcsc_cave_x4.safetensors"}}}
    ax = plot.training_curves({"a": rec, "c": started}, 4)
    labels = [ln.get_label() for ln in ax.lines]
    assert "from lmcsc_cave_x4" in labels[1] and "from" not in labels[0]
    assert ax.lines[1].get_linestyle() == "--" and ax.lines[0].get_linestyle() == "-"
    matplotlib.pyplot.close("all")


def test_guidance_trade_puts_each_method_at_its_two_means_and_marks_srcnn():
    import matplotlib
    matplotlib.use("Agg")
    from mmsr.plot import guidance_trade

    summ = {"srcnn": {"test": {"mean": 28.0}, "country-heldout": {"mean": 29.0}},
            "a": {"test": {"mean": 34.0}, "country-heldout": {"mean": 28.5}},
            "b": {"test": {"mean": 33.0}}}   # not scored on the landscapes: no point
    ax = guidance_trade(summ, ["a", "b"])
    points = [tuple(c.get_offsets()[0]) for c in ax.collections]
    assert points == [(34.0, 28.5)]
    assert ax.lines[0].get_ydata()[0] == 29.0


def test_common_minutes_drops_runs_too_short_to_share_a_time():
    def run(minutes, first_step, steps=100):   # validation at first_step and at the end
        return {"train_seconds": 60.0 * minutes, "steps": steps,
                "history": [{"step": first_step, "val_psnr": 30.0}, {"step": steps, "val_psnr": 31.0}]}

    # first points at 5, 2 and 9 min; the shortest run (10 min) is past all of them: everyone kept
    t, kept, dropped = plot.common_minutes({"a": run(10, 50), "b": run(20, 10), "c": run(30, 30)})
    assert t == pytest.approx(10.0) and sorted(kept) == ["a", "b", "c"] and dropped == []
    assert all(np.isfinite(plot.psnr_at_minutes(r, t)) for r in kept.values())
    # "short" ends (4 min) before "late" has its first point (40 of 60 min): short goes, the rest meet at 60 min
    t, kept, dropped = plot.common_minutes({"short": run(4, 50), "late": run(60, 66), "long": run(90, 10)})
    assert dropped == ["short"] and sorted(kept) == ["late", "long"] and t == pytest.approx(60.0)
    # nothing left to compare: one run, or runs without history
    t, kept, dropped = plot.common_minutes({"a": run(4, 90), "b": run(60, 90)})
    assert t is None and dropped == ["a"]
    assert plot.common_minutes({"a": {**run(5, 10), "history": []}, "b": run(6, 10)})[0] is None
