"""Compact, lossless data packs: what one experiment needs, in one folder that a time-limited GPU machine or a
Colab session can carry (each pack well under 40 MiB), read by the ordinary loaders.

    python -m mmsr.data.pack nir  OUT --root ../shared/data    # EPFL test, train, val, train-minus-val
    python -m mmsr.data.pack nir-train OUT --root ...          # train-minus-val and val only (~21 MiB)
    python -m mmsr.data.pack cave OUT --root ../shared/data    # CAVE 640 nm band + RGB, train and test
    MMSR_DATA=OUT python -m mmsr.train lmcsc --scale 4 ...     # the loaders read the pack directly

A pack lives in ``OUT/mmsr_pack/``: one PNG per image (8 or 16 bit, lossless; 8-bit colour images as lossless
WebP, about 17 % smaller, where Pillow has WebP; a JPEG source is copied byte for byte, so it decodes to the same
pixels) and ``index.json`` listing, per dataset and split, the pairs with their bit depth and the SHA-256 of each
file. Several packs can share one ``OUT``. The loaders
(:mod:`mmsr.data.datasets`) look for ``<root>/mmsr_pack/index.json`` first; a file whose hash does not match is
refused. The pairs are the ones the loaders return for the original layout, bit for bit (tested).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path
from typing import Optional

import numpy as np

from ..checks import DataNotFoundError
from .pairs import GuidedPair

PACK_DIR = "mmsr_pack"
FORMAT = "mmsr-pack-1"

#: pack name -> the (dataset, split) lists it holds (dataset names as in the loaders)
PACKS = {
    "nir": [("epfl_nir", s) for s in ("test", "train", "val", "train-minus-val")],
    # the training and validation images alone (about 21 MiB): for a machine whose upload limit leaves no room
    # for the test images; the runs are then scored where the data is (python -m mmsr.guidance_check)
    "nir-train": [("epfl_nir", s) for s in ("train-minus-val", "val")],
    "country": [("epfl_nir", "country")],
    "cave": [("cave", "train"), ("cave", "test")],
    "depth": [("middlebury2005", "test"), ("depth_training", "train"), ("depth_training", "val")],
}


def _loader(dataset: str):
    from . import datasets

    return {"epfl_nir": datasets.load_epfl_nir, "cave": datasets.load_cave,
            "middlebury2005": datasets.load_middlebury2005, "depth_training": datasets.load_depth_training}[dataset]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_png(arr: np.ndarray, path: Path) -> None:
    from PIL import Image

    a = np.ascontiguousarray(arr)
    if (a.dtype == np.uint16 and a.ndim == 2) or a.dtype == np.uint8:
        img = Image.fromarray(a)  # uint16 HxW -> mode I;16 (16-bit PNG)
    else:
        raise ValueError(f"{path.name}: packs hold 8- or 16-bit integer images, got {a.dtype} {a.shape}")
    img.save(path, format="PNG", compress_level=9)


def _webp_ok() -> bool:
    from PIL import features

    return bool(features.check("webp"))


def _write_webp(arr: np.ndarray, path: Path) -> None:
    from PIL import Image

    Image.fromarray(np.ascontiguousarray(arr)).save(path, format="WEBP", lossless=True, quality=100, method=4)


def _read_lossless(path: Path) -> np.ndarray:
    """A pack's PNG (8 or 16 bit) or lossless WebP as an array."""
    from PIL import Image

    with Image.open(path) as img:
        a = np.asarray(img)
        return a.astype(np.uint16) if img.mode.startswith("I") else a


def _store(arr: np.ndarray, source: Optional[str], folder: Path, stem: str) -> dict:
    """Copy a JPEG source as it is (decodes identically), else write a lossless PNG. Returns the index entry."""
    if source and Path(source).suffix.lower() in (".jpg", ".jpeg"):
        from .io import read_image

        if np.array_equal(read_image(source), arr):
            out = folder / f"{stem}{Path(source).suffix.lower()}"
            shutil.copyfile(source, out)
            return {"file": out.name, "sha256": _sha(out)}
    out = folder / f"{stem}.png"
    if arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[-1] == 3 and _webp_ok():
        # colour guides as lossless WebP: about 17 % smaller than PNG, which keeps the NIR training pack inside
        # a device upload limit beside the tracked tree
        out = folder / f"{stem}.webp"
        _write_webp(arr, out)
    else:
        _write_png(arr, out)
    if not np.array_equal(_read_lossless(out), arr):  # never ship a pack that does not round-trip
        raise RuntimeError(f"{out} does not decode to the original pixels")
    return {"file": out.name, "sha256": _sha(out)}


def write_pack(name: str, out, root=None, pairs_by_split: Optional[dict] = None) -> Path:
    """Write pack ``name`` (see :data:`PACKS`) under ``out`` from the data under ``root``.

    ``pairs_by_split`` (``{(dataset, split): [GuidedPair]}``) packs given pairs instead (e.g. the embedded
    default, for tests). Returns the pack folder.
    """
    if name not in PACKS and pairs_by_split is None:
        raise ValueError(f"unknown pack {name!r}; expected one of {sorted(PACKS)}")
    folder = Path(out) / PACK_DIR
    folder.mkdir(parents=True, exist_ok=True)
    index_path = folder / "index.json"
    index = json.loads(index_path.read_text()) if index_path.is_file() else {"format": FORMAT, "datasets": {}}
    wanted = pairs_by_split or {key: None for key in PACKS[name]}
    for (dataset, split), pairs in wanted.items():
        if pairs is None:
            pairs = _loader(dataset)(split, root)
        files = folder / dataset
        files.mkdir(exist_ok=True)
        entries = []
        for p in pairs:
            stem = p.name
            t = _store(p.target, p.meta.get("nir"), files, f"{stem}_target")
            g = _store(p.guide, p.meta.get("rgb"), files, f"{stem}_guide")
            entries.append({"name": p.name, "bit_depth": p.bit_depth, "dataset": p.dataset, "split": p.split,
                            "target": t, "guide": g})
        index["datasets"].setdefault(dataset, {})[split] = entries
        print(f"[pack {name}] {dataset}/{split}: {len(entries)} pairs", file=sys.stderr)
    index.setdefault("packs", [])
    if name not in index["packs"]:
        index["packs"].append(name)
    index_path.write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")
    return folder


def pack_size(out) -> int:
    return sum(f.stat().st_size for f in (Path(out) / PACK_DIR).rglob("*") if f.is_file())


def find_pack(root: Path) -> Optional[Path]:
    for folder in (root / PACK_DIR, root):
        if (folder / "index.json").is_file():
            return folder
    return None


def read_packed(root: Path, dataset: str, split: str) -> Optional[list[GuidedPair]]:
    """The pairs of ``dataset``/``split`` from a pack under ``root``; ``None`` if no pack there holds them."""
    folder = find_pack(root)
    if folder is None:
        return None
    index = json.loads((folder / "index.json").read_text())
    if index.get("format") != FORMAT:
        raise DataNotFoundError(f"{folder / 'index.json'} is not an {FORMAT} index")
    entries = index["datasets"].get(dataset, {}).get(split)
    if entries is None:
        return None
    pairs = []
    for e in entries:
        arrays = []
        for part in ("target", "guide"):
            path = folder / dataset / e[part]["file"]
            if not path.is_file():
                raise DataNotFoundError(f"the pack at {folder} lacks {path.name}; write it again with "
                                        f"python -m mmsr.data.pack")
            if _sha(path) != e[part]["sha256"]:
                raise DataNotFoundError(f"{path} does not match its SHA-256 in the pack index (corrupt copy)")
            if path.suffix in (".png", ".webp"):
                arrays.append(_read_lossless(path))
            else:
                from .io import read_image

                arrays.append(read_image(path))
        pairs.append(GuidedPair(e["name"], arrays[0], arrays[1], e["bit_depth"], e["dataset"], e["split"],
                                {"pack": str(folder)}))
    return pairs


def same_pairs(a: list[GuidedPair], b: list[GuidedPair]) -> bool:
    """Names, bit depths, dtypes and every pixel equal."""
    return len(a) == len(b) and all(
        p.name == q.name and p.bit_depth == q.bit_depth and p.split == q.split and p.target.dtype == q.target.dtype
        and p.guide.dtype == q.guide.dtype and np.array_equal(p.target, q.target) and np.array_equal(p.guide, q.guide)
        for p, q in zip(a, b))


def verify_pack(name: str, out, root) -> None:
    """Raise unless every split of pack ``name`` under ``out`` equals what the loaders read under ``root``."""
    for dataset, split in PACKS[name]:
        original = _loader(dataset)(split, root)
        packed = read_packed(Path(out), dataset, split)
        if packed is None or not same_pairs(original, [replace(p, meta={}) for p in packed]):
            raise RuntimeError(f"pack {name}: {dataset}/{split} differs from the original layout")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mmsr.data.pack", description=__doc__.split("\n\n")[0])
    ap.add_argument("name", choices=sorted(PACKS))
    ap.add_argument("out", help="folder to write OUT/mmsr_pack/ into (then MMSR_DATA=OUT)")
    ap.add_argument("--root", default=None, help="the original data (default: $MMSR_DATA)")
    ap.add_argument("--no-verify", action="store_true", help="skip re-reading the pack against the original")
    a = ap.parse_args(argv)
    try:
        write_pack(a.name, a.out, a.root)
        if not a.no_verify:
            verify_pack(a.name, a.out, a.root)
    except (DataNotFoundError, ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{a.out}/{PACK_DIR}: {pack_size(a.out) / 2**20:.1f} MiB (all packs there); verified: "
          f"{not a.no_verify}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
