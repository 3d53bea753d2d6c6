"""Loaders for the real datasets of the papers, in the publishers' layouts and in the layouts of ``../shared/data``.

Every loader returns a list of :class:`~mmsr.data.pairs.GuidedPair` and never downloads anything.
The data root is an argument or ``$MMSR_DATA``; a root without the expected files raises
:class:`~mmsr.checks.DataNotFoundError` naming the file and how to get it (:mod:`mmsr.data.download`).

Layouts accepted (``<root>`` is the data root; a loader also accepts the dataset folder itself):

* EPFL RGB-NIR (Brown & Susstrunk 2011) -- publisher: ``<root>/nirscene1/<category>/NNNN_{rgb,nir}.tiff``;
  CDLSR-style: ``<root>/epfl_rgbnir/{Train,Test}_RGB_NIR/NNNN_{rgb,nir}.tiff`` and
  ``<root>/epfl_rgbnir_jpg/country/NNNN_{rgb,nir}.jpg``.
* CAVE multispectral -- publisher: ``<root>/complete_ms_data/<scene>_ms/<scene>_ms/<scene>_ms_25.png`` and
  ``..._RGB.bmp``; CDLSR-style: ``<root>/cave_band640/{Train,Test}Images_Multispectral/<scene>_{RGB.bmp,ms_25.png}``.
* Middlebury 2005 -- publisher: ``<root>/middlebury2005/<Scene>/{view1.png,disp1.png}`` (2-view full-size
  archives); MSG-Net-style: ``<root>/middlebury/MSG-Net/testing sets/A/{RGB,Depth}/<scene>.png`` (depth is
  ``RGB[11:1099, 7:1383]``) plus the grey-guide scenes of
  ``<root>/middlebury/Deep-Coupled-ISTA-Network/16X_depth/TestImages_RGBD/big/``.
* ULB17-VT -- ``<root>/ulb17_vt/`` searched for thermal/visible image pairs (see :func:`load_ulb17vt`).
* A compact data pack (:mod:`mmsr.data.pack`): ``<root>/mmsr_pack/index.json``, read first when present.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..checks import DataNotFoundError
from .embedded import embedded_pairs
from .io import read_image
from .pairs import GuidedPair

DATA_ENV = "MMSR_DATA"

# --------------------------------------------------------------------------------------------- EPFL RGB-NIR
#: The eight NIR test images of the LMCSC papers (000 Table 1, 001 NIR table): category_id.
EPFL_NIR_TEST = (
    "urban_0004", "urban_0006", "urban_0017", "oldbuilding_0018",
    "urban_0020", "urban_0026", "oldbuilding_0030", "urban_0050",
)
#: Categories a publisher-layout training split draws from (same scene types as the test images).
EPFL_NIR_TRAIN_CATEGORIES = ("urban", "oldbuilding", "street")
EPFL_NIR_SPLITS = ("test", "train", "val", "train-minus-val", "train-half", "country", "country-train",
                   "country-val", "country-heldout", "train+country", "val+country")
#: The fixed split of the ``country`` landscapes (issue #11: a model may train on at most half of them). Ids
#: 0002-0048 in steps of 2, less the multiples of 10: trained on (20 images); 0000, 0010, ..., 0050: validation
#: (6); every other id -- the odd ones and any id not listed here -- is held out and never trained or tuned on
#: (26 of the 52 in this project's copy). ``train+country`` / ``val+country`` add the first two to ``train-minus-val``
#: / ``val``.
EPFL_COUNTRY_TRAIN_IDS = tuple(f"{i:04d}" for i in range(2, 50, 2) if i % 10)
EPFL_COUNTRY_VAL_IDS = tuple(f"{i:04d}" for i in range(0, 60, 10))
#: Training images held out for validation (ablations, early stopping). Never test images.
EPFL_NIR_VAL_IDS = ("0045", "0062", "0086")
EPFL_HINT = (
    "get the EPFL RGB-NIR Scene dataset (nirscene1) from its publisher with "
    "mmsr.data.download.fetch('epfl_nir', root) or place it as described in mmsr.data.datasets"
)


def data_root(root=None) -> Optional[Path]:
    """The data root: ``root`` if given, else ``$MMSR_DATA``, else ``None`` (use the embedded default)."""
    value = root if root is not None else os.environ.get(DATA_ENV) or None
    if value is None:
        return None
    p = Path(value).expanduser()
    if not p.is_dir():
        raise DataNotFoundError(f"data root {p} is not a directory (set ${DATA_ENV} to the folder holding the datasets)")
    return p


def _require_root(root, dataset: str) -> Path:
    r = data_root(root)
    if r is None:
        raise DataNotFoundError(
            f"dataset {dataset!r} needs a data root: pass root=... or set ${DATA_ENV} "
            f"(see mmsr.data.download for how to get it)"
        )
    return r


def read_packed(root: Path, dataset: str, split: str):
    """The pairs of a data pack under ``root`` (:mod:`mmsr.data.pack`), ``None`` without one (imported here, not
    at the top, so that ``python -m mmsr.data.pack`` runs its module once)."""
    from .pack import read_packed as _read

    return _read(root, dataset, split)


def _first_dir(candidates) -> Optional[Path]:
    for c in candidates:
        if c.is_dir():
            return c
    return None


def _epfl_pair(rgb_path: Path, nir_path: Path, name: str, split: str) -> GuidedPair:
    nir = read_image(nir_path, hint=EPFL_HINT)
    rgb = read_image(rgb_path, hint=EPFL_HINT)
    if nir.ndim == 3:  # some copies store NIR as 3 identical channels
        nir = nir[..., 0]
    return GuidedPair(name, nir, rgb, 8, "epfl_nir", split, {"nir": str(nir_path), "rgb": str(rgb_path)})


def _epfl_layout(root: Path):
    """('publisher', nirscene1 dir) or ('cdlsr', epfl_rgbnir dir)."""
    pub = _first_dir([root / "nirscene1", root])
    if pub is not None and (pub / "urban").is_dir():
        return "publisher", pub
    cd = _first_dir([root / "epfl_rgbnir", root])
    if cd is not None and (cd / "Test_RGB_NIR").is_dir():
        return "cdlsr", cd
    raise DataNotFoundError(
        f"no EPFL RGB-NIR data under {root}: expected {root / 'nirscene1' / 'urban'} (publisher layout) or "
        f"{root / 'epfl_rgbnir' / 'Test_RGB_NIR'}; {EPFL_HINT}"
    )


def _epfl_ids(folder: Path, ext: str):
    ids = sorted({m.group(1) for f in folder.glob(f"*_nir.{ext}") if (m := re.match(r"(\d+)_nir", f.name))})
    return ids


def load_epfl_nir(split: str = "test", root=None) -> list[GuidedPair]:
    """EPFL RGB-NIR pairs (target: NIR, guide: RGB), 8-bit.

    Splits: ``test`` (the 8 images of :data:`EPFL_NIR_TEST`), ``train`` (all training images: the 21 CDLSR
    training images less ``0017``, which duplicates a test image; or, in the publisher layout, every image of
    :data:`EPFL_NIR_TRAIN_CATEGORIES` that is not a test image), ``val`` (the ``EPFL_NIR_VAL_IDS`` subset of the
    CDLSR training images, or every 10th publisher training image), ``train-minus-val``, and ``country``
    (the "country" category: landscapes, for checking generalisation), and its fixed parts ``country-train``,
    ``country-val`` and ``country-heldout`` (:data:`EPFL_COUNTRY_TRAIN_IDS`; :func:`country_part`), and the
    mixed splits ``train+country`` (``train-minus-val`` + ``country-train``) and ``val+country``.
    ``train-half``: every other image of ``train-minus-val`` (the 1st, 3rd, ...; 9 of 17), for asking how much
    the number of training pairs matters with the validation images still held out.
    Any training-type split is filtered against the test images by content, so a test image can never enter it.
    """
    if split not in EPFL_NIR_SPLITS:
        raise ValueError(f"unknown split {split!r} for epfl_nir; expected one of {EPFL_NIR_SPLITS}")
    r = _require_root(root, "epfl_nir")
    packed = read_packed(r, "epfl_nir", split)
    if packed is not None:
        return packed
    if split == "country":
        return _epfl_country(r)
    if split.startswith("country-"):
        part = split.split("-", 1)[1]
        return [_with_split(p, split) for p in load_epfl_nir("country", r) if country_part(p.name) == part]
    if split == "train+country":
        return load_epfl_nir("train-minus-val", r) + load_epfl_nir("country-train", r)
    if split == "val+country":
        return load_epfl_nir("val", r) + load_epfl_nir("country-val", r)
    if split == "train-half":
        return load_epfl_nir("train-minus-val", r)[::2]
    kind, base = _epfl_layout(r)
    if split == "test":
        if kind == "cdlsr":
            folder = base / "Test_RGB_NIR"
            return [_epfl_pair(folder / f"{n[-4:]}_rgb.tiff", folder / f"{n[-4:]}_nir.tiff", n, "test") for n in EPFL_NIR_TEST]
        pairs = []
        for n in EPFL_NIR_TEST:
            cat, idx = n.rsplit("_", 1)
            pairs.append(_epfl_pair(base / cat / f"{idx}_rgb.tiff", base / cat / f"{idx}_nir.tiff", n, "test"))
        return pairs
    pairs = _epfl_training(kind, base)
    test_prints = {p.fingerprint() for p in load_epfl_nir("test", r)}
    pairs = [p for p in pairs if p.fingerprint() not in test_prints]
    if kind == "cdlsr":
        is_val = [p.name.endswith(EPFL_NIR_VAL_IDS) for p in pairs]
    else:
        is_val = [i % 10 == 9 for i in range(len(pairs))]
    if split == "val":
        return [_with_split(p, "val") for p, v in zip(pairs, is_val) if v]
    if split == "train-minus-val":
        return [p for p, v in zip(pairs, is_val) if not v]
    return pairs


def country_part(name: str) -> str:
    """``"train"``, ``"val"`` or ``"heldout"``: the fixed part of the ``country`` split a pair name
    (``"country_0007"``) belongs to (:data:`EPFL_COUNTRY_TRAIN_IDS`). Ids not listed are held out."""
    ident = name.rsplit("_", 1)[-1]
    return "train" if ident in EPFL_COUNTRY_TRAIN_IDS else "val" if ident in EPFL_COUNTRY_VAL_IDS else "heldout"


def _with_split(p: GuidedPair, split: str) -> GuidedPair:
    from dataclasses import replace

    return replace(p, split=split)


def _epfl_training(kind: str, base: Path) -> list[GuidedPair]:
    test = set(EPFL_NIR_TEST)
    out = []
    if kind == "cdlsr":
        folder = base / "Train_RGB_NIR"
        if not folder.is_dir():
            raise DataNotFoundError(f"missing folder {folder}; {EPFL_HINT}")
        for i in _epfl_ids(folder, "tiff"):
            if i == "0017":  # byte-identical to the test image urban_0017 (shared/data/README.md)
                continue
            name = "urban_0013" if i == "0013" else f"train_{i}"
            out.append(_epfl_pair(folder / f"{i}_rgb.tiff", folder / f"{i}_nir.tiff", name, "train"))
        return out
    for cat in EPFL_NIR_TRAIN_CATEGORIES:
        folder = base / cat
        if not folder.is_dir():
            continue
        for i in _epfl_ids(folder, "tiff"):
            if f"{cat}_{i}" in test:
                continue
            out.append(_epfl_pair(folder / f"{i}_rgb.tiff", folder / f"{i}_nir.tiff", f"{cat}_{i}", "train"))
    if not out:
        raise DataNotFoundError(f"no training images found under {base} in categories {EPFL_NIR_TRAIN_CATEGORIES}")
    return out


def _epfl_country(root: Path) -> list[GuidedPair]:
    for folder, ext in ((root / "epfl_rgbnir_jpg" / "country", "jpg"), (root / "nirscene1" / "country", "tiff"),
                        (root / "country", "jpg"), (root / "country", "tiff")):
        if folder.is_dir() and _epfl_ids(folder, ext):
            return [_epfl_pair(folder / f"{i}_rgb.{ext}", folder / f"{i}_nir.{ext}", f"country_{i}", "country")
                    for i in _epfl_ids(folder, ext)]
    raise DataNotFoundError(f"no EPFL 'country' pairs under {root} (expected epfl_rgbnir_jpg/country/ or "
                            f"nirscene1/country/); {EPFL_HINT}")


# --------------------------------------------------------------------------------------------------- CAVE
#: The CAVE test scenes of 001 (multispectral table); ``cloth`` is an extra test scene of the CDLSR split.
CAVE_TEST = ("chart_and_stuffed_toy", "egyptian_statue", "feathers", "glass_tiles", "jelly_beans",
             "oil_painting", "paints", "cloth")
CAVE_BAND = 25  # 640 nm: bands run 400..700 nm in 10 nm steps, numbered from 01
CAVE_HINT = "get the CAVE multispectral database (complete_ms_data) with mmsr.data.download.fetch('cave', root)"


def load_cave(split: str = "test", root=None) -> list[GuidedPair]:
    """CAVE pairs: target = the 16-bit 640 nm band (``_ms_25.png``), guide = the sRGB rendering (``_RGB.bmp``)."""
    if split not in ("train", "test"):
        raise ValueError(f"unknown split {split!r} for cave; expected train or test")
    r = _require_root(root, "cave")
    packed = read_packed(r, "cave", split)
    if packed is not None:
        return packed
    cd = _first_dir([r / "cave_band640", r])
    pairs = []
    if cd is not None and (cd / "TestImages_Multispectral").is_dir():
        folder = cd / ("TestImages_Multispectral" if split == "test" else "TrainImages_Multispectral")
        scenes = sorted(f.name[: -len(f"_ms_{CAVE_BAND}.png")] for f in folder.glob(f"*_ms_{CAVE_BAND}.png"))
        for s in scenes:
            pairs.append(_cave_pair(folder / f"{s}_RGB.bmp", folder / f"{s}_ms_{CAVE_BAND}.png", s, split))
        return pairs
    pub = _first_dir([r / "complete_ms_data", r])
    scenes = sorted(d.name[:-3] for d in pub.glob("*_ms") if d.is_dir()) if pub is not None else []
    if not scenes:
        raise DataNotFoundError(f"no CAVE data under {r}: expected cave_band640/TestImages_Multispectral or "
                                f"complete_ms_data/<scene>_ms/; {CAVE_HINT}")
    for s in scenes:
        if (s in CAVE_TEST) != (split == "test"):
            continue
        inner = pub / f"{s}_ms" / f"{s}_ms"
        inner = inner if inner.is_dir() else pub / f"{s}_ms"
        pairs.append(_cave_pair(inner / f"{s}_RGB.bmp", inner / f"{s}_ms_{CAVE_BAND}.png", s, split))
    return pairs


def _cave_pair(rgb_path: Path, band_path: Path, name: str, split: str) -> GuidedPair:
    band = read_image(band_path, hint=CAVE_HINT)
    if band.ndim == 3:
        band = band[..., 0]
    rgb = read_image(rgb_path, hint=CAVE_HINT)
    depth = 16 if band.dtype == np.uint16 else 8
    return GuidedPair(name, band, rgb, depth, "cave", split, {"band_nm": 640})


# ----------------------------------------------------------------------------------------- Middlebury 2005
MIDDLEBURY_SCENES = ("art", "books", "dolls", "laundry", "moebius", "reindeer")
MIDDLEBURY_HINT = "get the Middlebury 2005 2-view scenes with mmsr.data.download.fetch('middlebury2005', root)"
#: MSG-Net's hole-filled depth (1376x1088) sits at these (row, col) offsets of the 1390x1110 colour view.
MSGNET_DEPTH_OFFSET = (11, 7)


def load_middlebury2005(split: str = "test", root=None) -> list[GuidedPair]:
    """Middlebury 2005 RGB-D pairs (target: depth/disparity, 8-bit; guide: the colour or grey view)."""
    if split != "test":
        raise ValueError(f"unknown split {split!r} for middlebury2005; only 'test' exists")
    r = _require_root(root, "middlebury2005")
    packed = read_packed(r, "middlebury2005", split)
    if packed is not None:
        return packed
    pub = _first_dir([r / "middlebury2005", r])
    found = {}
    if pub is not None:
        for s in MIDDLEBURY_SCENES:
            d = _first_dir([pub / s.capitalize(), pub / s])
            if d is not None and (d / "view1.png").is_file() and (d / "disp1.png").is_file():
                found[s] = GuidedPair(s, read_image(d / "disp1.png"), read_image(d / "view1.png"), 8,
                                      "middlebury2005", split, {"layout": "publisher", "holes": "disp == 0"})
    if found:
        return [found[s] for s in MIDDLEBURY_SCENES if s in found]
    msg = r / "middlebury" / "MSG-Net" / "testing sets" / "A"
    big = r / "middlebury" / "Deep-Coupled-ISTA-Network" / "16X_depth" / "TestImages_RGBD" / "big"
    if not msg.is_dir() and not big.is_dir():
        raise DataNotFoundError(f"no Middlebury 2005 data under {r}: expected middlebury2005/<Scene>/view1.png or "
                                f"{msg}; {MIDDLEBURY_HINT}")
    pairs = []
    for s in MIDDLEBURY_SCENES:
        if (msg / "RGB" / f"{s}.png").is_file():
            depth = read_image(msg / "Depth" / f"{s}.png", hint=MIDDLEBURY_HINT)
            rgb = read_image(msg / "RGB" / f"{s}.png", hint=MIDDLEBURY_HINT)
            oy, ox = MSGNET_DEPTH_OFFSET
            rgb = rgb[oy: oy + depth.shape[0], ox: ox + depth.shape[1]]
            pairs.append(GuidedPair(s, depth, rgb, 8, "middlebury2005", split, {"layout": "msg-net A"}))
        elif (big / f"{s}_gt.bmp").is_file():
            depth = read_image(big / f"{s}_gt.bmp", hint=MIDDLEBURY_HINT)
            grey = read_image(big / f"{s}_RGB.png", hint=MIDDLEBURY_HINT)
            pairs.append(GuidedPair(s, depth, grey, 8, "middlebury2005", split, {"layout": "dci big (grey guide)"}))
    return pairs


#: RGB-D pairs for *training* depth models, disjoint from the 2005 test scenes: Middlebury 2003 (cones, teddy)
#: and four MPI-Sintel frames for training; Middlebury 2001 (tsukuba, venus) for validation.
DEPTH_TRAIN = {"train": ("cones", "teddy", "sintel_05", "sintel_06", "sintel_07", "sintel_08"),
               "val": ("tsukuba", "venus")}


def load_depth_training(split: str = "train", root=None) -> list[GuidedPair]:
    """Depth (target) / colour (guide) pairs for training depth models (see :data:`DEPTH_TRAIN`).

    Layouts: MSG-Net's ``testing sets/C`` (Middlebury 2001/2003: ``RGB/<scene>.bmp`` and ``Depth/<scene>_2.mat``
    holding ``img_double``, one row shorter than the colour image, which is cropped to it) and the Sintel
    RGB-D frames of the Deep-Coupled-ISTA release (``<nn>.png`` colour, ``<nn>.bmp`` depth).
    """
    if split not in DEPTH_TRAIN:
        raise ValueError(f"unknown split {split!r} for depth training; expected one of {sorted(DEPTH_TRAIN)}")
    r = _require_root(root, "depth training pairs")
    packed = read_packed(r, "depth_training", split)
    if packed is not None:
        return packed
    c = r / "middlebury" / "MSG-Net" / "testing sets" / "C"
    sintel = r / "middlebury" / "Deep-Coupled-ISTA-Network" / "16X_depth" / "TestImages_RGBD" / "Sintel"
    pairs, missing = [], []
    for name in DEPTH_TRAIN[split]:
        if name.startswith("sintel_"):
            n = name.split("_")[1]
            rgb_path, depth_path = sintel / f"{n}.png", sintel / f"{n}.bmp"
            if not (rgb_path.is_file() and depth_path.is_file()):
                missing.append(str(depth_path))
                continue
            depth, rgb = read_image(depth_path), read_image(rgb_path)
        else:
            rgb_path, mat_path = c / "RGB" / f"{name}.bmp", c / "Depth" / f"{name}_2.mat"
            if not (rgb_path.is_file() and mat_path.is_file()):
                missing.append(str(mat_path))
                continue
            from scipy.io import loadmat

            depth = np.clip(np.round(np.asarray(loadmat(str(mat_path))["img_double"], dtype=np.float64)), 0, 255)
            depth = depth.astype(np.uint8)
            rgb = read_image(rgb_path)[: depth.shape[0], : depth.shape[1]]
        pairs.append(GuidedPair(name, depth, rgb, 8, "depth_training", split))
    if not pairs:
        raise DataNotFoundError(f"no depth training pairs under {r} (missing {missing[:2]}...); expected MSG-Net's "
                                f"'testing sets/C' and the Deep-Coupled-ISTA Sintel frames under {r / 'middlebury'}")
    return pairs


# ------------------------------------------------------------------------------------------------ ULB17-VT
ULB17_HINT = "ULB17-VT (Almasri & Debeir) is distributed by its authors on request; unpack it under <root>/ulb17_vt"


def load_ulb17vt(split: str = "test", root=None) -> list[GuidedPair]:
    """ULB17-VT thermal (target) / visible (guide) pairs.

    The archive is not public here, so the loader is deliberately tolerant: under ``<root>/ulb17_vt/<split>/``
    it pairs every image in a folder whose name contains ``thermal``/``ther``/``ir`` with the image of the same
    file stem in the sibling folder whose name contains ``visible``/``vis``/``rgb``. The pairs are weakly
    aligned by design (CMSR's setting), so the guide is resized to the target's grid only if the sizes match.
    """
    r = _require_root(root, "ulb17vt")
    base = _first_dir([r / "ulb17_vt" / split, r / "ULB17-VT" / split])
    if base is None:
        raise DataNotFoundError(f"no ULB17-VT data under {r} (expected {r / 'ulb17_vt' / split}); {ULB17_HINT}")
    dirs = [d for d in base.rglob("*") if d.is_dir()]
    th = [d for d in dirs if re.search(r"thermal|ther|(^|_)ir", d.name.lower())]
    vis = [d for d in dirs if re.search(r"visible|vis|rgb", d.name.lower())]
    pairs = []
    for t in th:
        for v in [v for v in vis if v.parent == t.parent]:
            for f in sorted(t.iterdir()):
                match = [g for g in v.iterdir() if g.stem == f.stem]
                if match:
                    target = read_image(f)
                    target = target[..., 0] if target.ndim == 3 else target
                    guide = read_image(match[0])
                    if guide.shape[:2] == target.shape[:2]:
                        pairs.append(GuidedPair(f.stem, target, guide, 8, "ulb17vt", split))
    if not pairs:
        raise DataNotFoundError(f"found no thermal/visible pairs of equal size under {base}; {ULB17_HINT}")
    return pairs


# ---------------------------------------------------------------------------------------------- registry
LOADERS: dict[str, Callable[..., list[GuidedPair]]] = {
    "epfl_nir": load_epfl_nir,
    "cave": load_cave,
    "middlebury2005": load_middlebury2005,
    "ulb17vt": load_ulb17vt,
    "depth_training": load_depth_training,
    "embedded": lambda split="test", root=None: embedded_pairs(split),
}


def load_pairs(dataset: str, split: str = "test", root=None) -> list[GuidedPair]:
    """Load a dataset split by name (one of :data:`LOADERS`)."""
    if dataset not in LOADERS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {sorted(LOADERS)}")
    return LOADERS[dataset](split=split, root=root)


def nir_pairs(split: str = "test", root=None) -> tuple[list[GuidedPair], str]:
    """The NIR chapter's pairs: EPFL RGB-NIR when a data root is set, else the embedded default.

    Returns ``(pairs, source)`` where ``source`` is ``"epfl_nir"`` or ``"embedded"`` so that tables say
    which data they were computed on.
    """
    r = data_root(root)
    if r is None:
        # no landscapes in the embedded default: the mixed splits fall back to their urban part
        split = {"train+country": "train-minus-val", "val+country": "val"}.get(split, split)
        if split == "train-half":
            return nir_pairs("train-minus-val")[0][::2], "embedded"
        emb_split = "train" if split in ("train", "train-minus-val") else "test" if split == "test" else None
        if emb_split is None:
            # a validation split carved from the embedded training photos: the last one
            return [_with_split(embedded_pairs("train")[-1], "val")], "embedded"
        pairs = embedded_pairs(emb_split)
        if split == "train-minus-val":
            pairs = pairs[:-1]
        return pairs, "embedded"
    return load_epfl_nir(split, r), "epfl_nir"


def depth_pairs(split: str = "train", root=None) -> tuple[list[GuidedPair], str]:
    """Depth training pairs (:func:`load_depth_training`) when a data root is set, else the embedded default
    (the same synthetic and bundled pairs as :func:`nir_pairs`, so smoke runs work anywhere)."""
    r = data_root(root)
    if r is None:
        return nir_pairs(split, root)
    return load_depth_training("train" if split in ("train", "train-minus-val") else split, r), "depth_training"


#: three CAVE training scenes held out for validation (fixed; never the 7 test scenes of 001 or ``cloth``)
CAVE_VAL_SCENES = ("beads", "fake_and_real_peppers", "stuffed_toys")


def cave_pairs(split: str = "train-minus-val", root=None) -> tuple[list[GuidedPair], str]:
    """CAVE training pairs for the multispectral models (640 nm target, RGB guide; :func:`load_cave`).

    ``train-minus-val``: the training scenes minus :data:`CAVE_VAL_SCENES`; ``val``: those three; ``train``: all
    training scenes. The 7 test scenes of 001 and ``cloth`` are never in any of them. Without a data root: the
    embedded default (as :func:`nir_pairs`), so smoke runs work anywhere. Returns ``(pairs, source)``.
    """
    if split not in ("train", "train-minus-val", "val"):
        raise ValueError(f"unknown CAVE training split {split!r}; expected train, train-minus-val or val")
    r = data_root(root)
    if r is None:
        return nir_pairs(split, root)
    pairs = [p for p in load_cave("train", r) if p.name not in CAVE_TEST]
    if split == "val":
        pairs = [_with_split(p, "val") for p in pairs if p.name in CAVE_VAL_SCENES]
    elif split == "train-minus-val":
        pairs = [p for p in pairs if p.name not in CAVE_VAL_SCENES]
    if not pairs:
        raise DataNotFoundError(f"no CAVE {split} scenes under {r}; {CAVE_HINT}")
    return pairs, "cave"


# --------------------------------------------------------------------------------------- visible-thermal
THERMAL_HINT = ("visible/thermal pairs with low-resolution thermal images (CATS, FLIR-ADAS, FLIR-One as packaged "
                "by the UGSR project) go under <root>/thermal_visible/[UGSR/]datasets/<set>/{ther_*,<s>x/rgb}")


def load_thermal_visible(subset: str = "cats", scale: int = 4, root=None) -> list[dict]:
    """Real, *unaligned* visible-thermal pairs: ``{"name", "lr", "guide"}`` (no ground truth).

    ``lr``: the low-resolution thermal image (``ther_60_80`` / ``ther_64_80``, one channel); ``guide``: the
    visible image at ``scale`` times its size (``<scale>x/rgb``). The cameras are side by side, so the pair is
    misaligned by design -- the setting of CMSR's Fig. 1 and 6; use it to look, not to score.
    """
    r = _require_root(root, "thermal_visible")
    base = _first_dir([r / "thermal_visible" / "UGSR" / "datasets" / subset, r / "thermal_visible" / "datasets" / subset])
    if base is None:
        raise DataNotFoundError(f"no visible/thermal set {subset!r} under {r}; {THERMAL_HINT}")
    lr_dirs = sorted(d for d in base.iterdir() if d.is_dir() and d.name.startswith("ther_"))
    rgb_dir = base / f"{scale}x" / "rgb"
    if not lr_dirs or not rgb_dir.is_dir():
        raise DataNotFoundError(f"{base} lacks ther_*/ or {scale}x/rgb/; {THERMAL_HINT}")
    from .thermal import matching_visible

    out = []
    for f in sorted(lr_dirs[0].iterdir()):
        match = matching_visible(f, rgb_dir)
        if match is None:
            continue
        lr = read_image(f, hint=THERMAL_HINT)
        lr = lr[..., 0] if lr.ndim == 3 else lr
        guide = read_image(match, hint=THERMAL_HINT)
        if guide.shape[:2] == (lr.shape[0] * scale, lr.shape[1] * scale):
            out.append({"name": f.stem, "lr": lr, "guide": guide, "subset": subset})
    if not out:
        raise DataNotFoundError(f"found no thermal/visible pairs with a {scale}x guide under {base}; {THERMAL_HINT}")
    return out
