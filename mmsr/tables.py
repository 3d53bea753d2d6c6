"""Tables from result rows: per-image PSNR/SSIM for several methods and scales, with the average line.

Rows come from :func:`mmsr.evaluate.evaluate` (or a result record); nothing here is typed in by hand.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np


def markdown_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A GitHub/MyST markdown table; floats are printed with 2 (PSNR) or 4 (SSIM < 1) decimals."""

    def fmt(v):
        if isinstance(v, float):
            if np.isinf(v):
                return "inf"
            return f"{v:.4f}" if abs(v) <= 1 else f"{v:.2f}"
        return str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
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
