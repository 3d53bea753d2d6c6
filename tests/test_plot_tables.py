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
