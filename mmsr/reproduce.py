"""The papers' tables as data: reported values, transcribed once, with their source.

Reported numbers are *never* presented as ours: tables built here label every reported column "reported"
and fill computed columns only from result records written by the evaluation code.
"""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np

from .tables import PROTOCOL_HERE, labelled, markdown_table

#: Table 1 of the LMCSC paper (Marivani et al. 2020): PSNR (dB) / SSIM on the NIR test images, x2 and x4.
#: Columns: CSCN [12], SRFBN [19], DJF [6], Proposed (LMCSC). Rows in the paper's order; "Average" as printed.
TABLE1_000_SOURCE = "Marivani et al., Interpretable Deep Multimodal Image SR (the LMCSC paper), Table 1"
#: What the paper says of how its numbers were made: LR by blurring and downscaling (kernel, rounding, border
#: handling and SSIM convention not stated).
TABLE1_000_PROTOCOL = "protocol of the LMCSC paper: blur + downscale, parameters not published"
TABLE1_000_IMAGES = ("urban_0004", "urban_0006", "urban_0017", "oldbuilding_0018", "urban_0020", "urban_0026",
                     "oldbuilding_0030", "urban_0050")
TABLE1_000 = {
    # method: {scale: [(psnr, ssim) per image..., average]}
    "CSCN": {
        2: [(32.77, .9715), (39.47, .9715), (36.76, .9574), (33.98, .9659), (35.54, .9658), (32.94, .9339),
            (33.34, .9465), (33.31, .9693), (34.76, .9602)],
        4: [(27.64, .9378), (32.60, .9361), (32.60, .9361), (27.28, .9250), (30.04, .9487), (27.91, .8724),
            (27.72, .8378), (28.20, .9101), (29.14, .9111)],
    },
    "SRFBN": {
        2: [(35.36, .9974), (41.08, .9970), (38.19, .9950), (36.47, .9971), (37.50, .9969), (31.00, .9782),
            (35.57, .9944), (37.06, .9966), (36.53, .9941)],
        4: [(29.01, .9787), (33.73, .9702), (32.91, .9725), (28.88, .9740), (31.44, .9807), (29.10, .9702),
            (29.45, .9583), (29.89, .9762), (30.55, .9726)],
    },
    "DJF": {
        2: [(34.50, .9964), (41.52, .9975), (38.65, .9961), (34.78, .9960), (37.35, .9973), (33.15, .9939),
            (35.67, .9944), (32.60, .9928), (36.03, .9955)],
        4: [(31.02, .9784), (36.04, .9894), (34.18, .9815), (30.72, .9888), (33.60, .9915), (29.21, .9397),
            (31.27, .9345), (28.58, .9616), (31.83, .9707)],
    },
    "LMCSC": {
        2: [(37.36, .9977), (43.60, .9982), (40.87, .9967), (39.21, .9982), (40.98, .9980), (35.60, .9963),
            (38.29, .9961), (34.11, .9948), (38.74, .9970)],
        4: [(33.75, .9869), (38.74, .9912), (36.16, .9828), (34.17, .9902), (36.95, .9900), (31.03, .9784),
            (33.56, .9780), (30.04, .9772), (34.28, .9843)],
    },
}


def reported(method: str, scale: int, metric: str = "psnr") -> list:
    """Reported per-image values followed by the reported average."""
    k = {"psnr": 0, "ssim": 1}[metric]
    return [row[k] for row in TABLE1_000[method][scale]]


def _rows_for(computed, method, scale):
    rows = {r["image"]: r for r in computed[method][scale]}
    missing = [i for i in TABLE1_000_IMAGES if i not in rows]
    if missing:
        raise ValueError(f"computed results for {method} x{scale} lack test images {missing}")
    return [rows[i] for i in TABLE1_000_IMAGES]


def table1_000(computed: Optional[Mapping[str, Mapping[int, Sequence[dict]]]] = None, scales=(2, 4)) -> str:
    """Table 1 of the LMCSC paper regenerated as two labelled blocks, method x (scale, metric), averages:
    first the paper's numbers "as reported" under its protocol, then ours "computed here" under ours.

    ``computed[method][scale]`` are evaluation rows (``{"image", "psnr", "ssim"}``) for the 8 test images, in
    any order; averages are recomputed from them. Per image: :func:`table1_000_per_image`.
    """
    computed = computed or {}
    cols = [(s, k) for s in scales for k in ("psnr", "ssim")]
    rep = [[m] + [reported(m, s, k)[-1] for s, k in cols] for m in TABLE1_000]
    out = [labelled(f"As reported: {TABLE1_000_SOURCE} ({TABLE1_000_PROTOCOL}), average of 8 images",
                    ["method"] + [f"x{s} {k.upper()} (reported)" for s, k in cols], rep)]
    if computed:
        body = []
        for m in computed:
            line = [m]
            for s, k in cols:
                line.append(float(np.mean([r[k] for r in _rows_for(computed, m, s)])) if s in computed[m] else "-")
            body.append(line)
        out.append(labelled(f"Computed here ({PROTOCOL_HERE}), average of the same 8 images",
                            ["method"] + [f"x{s} {k.upper()} (ours)" for s, k in cols], body))
    return "\n\n".join(out)


def table1_000_per_image(computed: Mapping[str, Mapping[int, Sequence[dict]]], scale: int,
                         metric: str = "psnr") -> str:
    """Per image at one scale: the paper's four columns as reported, then ours, as two labelled blocks."""
    names = list(TABLE1_000_IMAGES) + ["Average"]
    rep = [[n] + [reported(m, scale, metric)[i] for m in TABLE1_000] for i, n in enumerate(names)]
    out = [labelled(f"x{scale} {metric.upper()} per image, as reported ({TABLE1_000_PROTOCOL})",
                    ["image"] + [f"{m} (reported)" for m in TABLE1_000], rep)]
    ours = [m for m in computed if scale in computed[m]]
    if ours:
        vals = {m: [float(r[metric]) for r in _rows_for(computed, m, scale)] for m in ours}
        body = [[n] + [vals[m][i] if i < len(TABLE1_000_IMAGES) else float(np.mean(vals[m])) for m in ours]
                for i, n in enumerate(names)]
        out.append(labelled(f"x{scale} {metric.upper()} per image, computed here ({PROTOCOL_HERE})",
                            ["image"] + [f"{m} (ours)" for m in ours], body))
    return "\n\n".join(out)


# ------------------------------------------------------------------------------------------ Table 1 of 003
#: Table 1 of the CMSR paper (Shacht et al. 2021): mean PSNR / SSIM at x4 per dataset (U-VT = ULB17-VT, SMB =
#: Shuffled-Middlebury, NIR = EPFL RGB-NIR). Columns in the paper's order.
TABLE1_003_SOURCE = "Shacht et al., Single Pair Joint Cross-Modality SR (the CMSR paper), Table 1"
TABLE1_003_PROTOCOL = "protocol of the CMSR paper: x4, degradation not stated, its own Shuffled-Middlebury (unpublished)"
TABLE1_003_METHODS = ("ZSSR", "VTSRGAN", "VTSRCNN", "DeepJF", "CMSR")
TABLE1_003 = {
    "psnr": {"U-VT": (26.789, 27.988, 27.968, 27.036, 29.928),
             "SMB": (27.784, 27.925, 28.189, 26.124, 28.652),
             "NIR": (28.807, 30.665, 30.143, 27.094, 31.201)},
    "ssim": {"U-VT": (0.8567, 0.8202, 0.8196, 0.8410, 0.882),
             "SMB": (0.9140, 0.9547, 0.9386, 0.8865, 0.9341),
             "NIR": (0.8931, 0.9005, 0.8837, 0.8694, 0.9200)},
}


def reported_003(method: str, dataset: str, metric: str = "psnr") -> float:
    return TABLE1_003[metric][dataset][TABLE1_003_METHODS.index(method)]


def table1_003(computed: Mapping[str, Mapping[str, dict]], metric: str = "psnr",
               datasets=("U-VT", "SMB", "NIR")) -> str:
    """Table 1 of the CMSR paper regenerated as two labelled blocks, method x dataset: the paper's five methods
    as reported, then ours as computed here (datasets we could not compute show "not available").

    ``computed[method][dataset]`` is a summary ``{"mean", "std", "n_images", "n_seeds"}`` (from
    :func:`mmsr.zeroshot_experiments.summarise`).
    """
    digits = 2 if metric == "psnr" else 4
    rep = [[m] + [str(reported_003(m, d, metric)) for d in datasets] for m in TABLE1_003_METHODS]
    out = [labelled(f"As reported: {TABLE1_003_SOURCE}, {metric.upper()} at x4 ({TABLE1_003_PROTOCOL})",
                    ["method"] + [f"{d} (reported)" for d in datasets], rep)]
    if computed:
        body = []
        for m in computed:
            row = [m]
            for d in datasets:
                s = computed[m].get(d)
                if s is None:
                    row.append("not available")
                elif s.get("std", 0) > 0:
                    row.append(f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f}")
                else:
                    row.append(f"{s['mean']:.{digits}f}")
            body.append(row)
        out.append(labelled(f"Computed here, {metric.upper()} at x4 ({PROTOCOL_HERE}; our Shuffled-Middlebury, "
                            "chapter 6; mean ± std over seeds where there are several)",
                            ["method"] + [f"{d} (ours)" for d in datasets], body))
    return "\n\n".join(out)
