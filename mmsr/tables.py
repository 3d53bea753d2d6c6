"""Tables from result rows: per-image PSNR/SSIM for several methods and scales, with the average line.

Rows come from :func:`mmsr.evaluate.evaluate` (or a result record); nothing here is typed in by hand.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np


def markdown_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A GitHub/MyST markdown table; floats are printed with 2 (PSNR) or 4 (SSIM < 1) decimals. A ``|`` inside a
    cell (``|u - s|``) is escaped, so that it stays in its cell instead of starting a new column."""

    def fmt(v):
        if isinstance(v, float):
            if np.isinf(v):
                return "inf"
            return f"{v:.4f}" if abs(v) <= 1 else f"{v:.2f}"
        return str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(str(h).replace("|", "\\|") for h in header) + " |",
             "|" + "|".join(["---"] * len(header)) + "|"]
    lines += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def method_table(results: Mapping[str, Mapping[int, Sequence[dict]]], metrics=("psnr", "ssim")) -> str:
    """``results[method][scale] = rows`` -> one line per image (plus "Average"), one column per
    (method, scale, metric)."""
    methods = list(results)
    scales = sorted({s for m in methods for s in results[m]})
    images = [r["image"] for r in next(iter(results[methods[0]].values()))]
    header = ["image"] + [f"{m} x{s} {k.upper()}" for m in methods for s in scales for k in metrics
                          if s in results[m]]
    body = []
    for i, name in enumerate(images + ["Average"]):
        line = [name]
        for m in methods:
            for s in scales:
                if s not in results[m]:
                    continue
                rows = results[m][s]
                for k in metrics:
                    vals = [r.get(k, float("nan")) for r in rows]
                    line.append(float(np.mean(vals)) if name == "Average" else float(vals[i]))
        body.append(line)
    return markdown_table(header, body)


# ------------------------------------------------------------------------------ labelled tables (chapter 1.x)
#: The protocol every number computed in this book uses unless its table says otherwise (chapter 1, notation).
PROTOCOL_HERE = "protocol of chapter 1: MATLAB-bicubic LR, full image, peak 255, Gaussian-window SSIM"
RESULT_WORDS = ("psnr", "ssim", "db")
REPORTED, COMPUTED = ("reported",), ("computed", "ours")


def labelled(caption: str, header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A table under a bold caption line; the caption says whose numbers these are and under which protocol."""
    return f"**{caption}**\n\n" + markdown_table(header, rows)


def summary_table(results: Mapping[str, Mapping[int, Sequence[dict]]], metrics=("psnr", "ssim"),
                  label: str = "computed here") -> str:
    """One row per method, one column per (scale, metric) with the average over images -- the compact layout
    (method x scale) that fits a laptop screen. ``label`` goes into every column header."""
    methods = list(results)
    scales = sorted({s for m in methods for s in results[m]})
    header = ["method"] + [f"x{s} {k.upper()} ({label})" for s in scales for k in metrics]
    body = []
    for m in methods:
        line = [m]
        for s in scales:
            for k in metrics:
                rows = results[m].get(s)
                line.append(float(np.mean([r.get(k, np.nan) for r in rows])) if rows else "-")
        body.append(line)
    return markdown_table(header, body)


def per_image_table(results: Mapping[str, Mapping[int, Sequence[dict]]], scale: int, metric: str = "psnr",
                    label: str = "computed here") -> str:
    """One row per image (and the average), one column per method, for one scale and metric."""
    methods = [m for m in results if scale in results[m]]
    if not methods:
        raise ValueError(f"no results at x{scale}")
    images = [r["image"] for r in results[methods[0]][scale]]
    header = ["image"] + [f"{m} ({label})" for m in methods]
    body = []
    for i, name in enumerate(images + ["Average"]):
        line = [name]
        for m in methods:
            by_image = {r["image"]: r.get(metric, np.nan) for r in results[m][scale]}
            line.append(float(np.mean(list(by_image.values()))) if name == "Average" else float(by_image[name]))
        body.append(line)
    return markdown_table(header, body)


def unlabelled_columns(markdown: str) -> list[str]:
    """Column headers of result tables (a header mentions PSNR, SSIM or dB) that do not say whose numbers they
    are. A column is labelled when its header says "reported", "computed" or "ours", or when the caption line
    just above the table (or the table's first header cell) says exactly one of "reported" / "computed"-"ours"
    (a single-source table). A table
    mixing both sources must label every column. Returns ``"caption :: header"`` for each offender."""
    out, caption, lines = [], "", markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("|") and i + 1 < len(lines) and set(lines[i + 1].replace("|", "").strip()) <= set("-: "):
            header = [c.strip() for c in line.strip("|").split("|")]
            if any(w in " ".join(header).lower() for w in RESULT_WORDS) or any(
                    w in caption.lower() for w in RESULT_WORDS):
                cap = caption.lower() + " " + header[0].lower()   # a first header cell can title the table
                single = sum(any(w in cap for w in ws) for ws in (REPORTED, COMPUTED)) == 1
                for h in header[1:]:
                    hl = h.lower()
                    if not single and not any(w in hl for w in REPORTED + COMPUTED):
                        out.append(f"{caption[:60]} :: {h}")
            while i < len(lines) and lines[i].strip().startswith("|"):
                i += 1
            continue
        if line:
            caption = line
        i += 1
    return out
