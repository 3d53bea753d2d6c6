"""Download helpers for the publishers' archives: checksums, progress, and nothing written half-way.

We use `pooch` (a well-kept download library) rather than hand-written HTTP code: it streams to a temporary
file, verifies the hash *before* moving the file into place (so a partial or corrupt download never looks
like a good one), and shows a tqdm progress bar. Nothing here runs implicitly: loaders never download.

Checksums: an archive whose SHA-256 is recorded in :data:`SOURCES` is verified against it. For archives
whose hash we could not pin (no network where this book is built), the first download records its SHA-256 in
``<root>/mmsr-checksums.json`` and every later use of the cached archive is verified against that record
("trust on first use"); the message tells you the hash so that you can compare it with a colleague's.
Pinned hashes are welcome as contributions.
"""
from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..checks import ChecksumError, DataNotFoundError


@dataclass(frozen=True)
class Source:
    """One downloadable archive: where it comes from, what it unpacks to, and its checksum if pinned."""

    url: str
    filename: str
    sha256: Optional[str]
    unpacks_to: str
    publisher: str
    terms: str


SOURCES: dict[str, list[Source]] = {
    "epfl_nir": [Source(
        "https://ivrl.epfl.ch/supplementary_material/cvpr11/nirscene1.zip", "nirscene1.zip", None, "nirscene1",
        "EPFL IVRL (Brown & Susstrunk, CVPR 2011)", "research use; cite the CVPR 2011 paper")],
    "cave": [Source(
        "https://www.cs.columbia.edu/CAVE/databases/multispectral/zip/complete_ms_data.zip",
        "complete_ms_data.zip", None, "complete_ms_data",
        "Columbia CAVE (Yasuma et al., 2010)", "research use; cite the paper")],
    "middlebury2005": [Source(
        f"https://vision.middlebury.edu/stereo/data/scenes2005/FullSize/zip-2views/{s}-2views.zip",
        f"{s}-2views.zip", None, f"middlebury2005/{s}",
        "Middlebury stereo (Scharstein & Pal, 2007)", "research use; cite the paper")
        for s in ("Art", "Books", "Dolls", "Laundry", "Moebius", "Reindeer")],
}
CHECKSUM_FILE = "mmsr-checksums.json"


def sha256sum(path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _load_records(root: Path) -> dict:
    f = root / CHECKSUM_FILE
    if not f.is_file():
        return {}
    try:
        return json.loads(f.read_text())
    except json.JSONDecodeError as e:
        raise ChecksumError(f"{f} is not valid JSON ({e}); delete it to re-record checksums") from e


def _save_records(root: Path, records: dict) -> None:
    tmp = root / (CHECKSUM_FILE + ".tmp")
    tmp.write_text(json.dumps(records, indent=2, sort_keys=True))
    os.replace(tmp, root / CHECKSUM_FILE)


def fetch_file(url: str, root, filename: str, sha256: Optional[str], progress: bool = True) -> Path:
    """Download ``url`` to ``root/filename`` (unless cached) and verify it; returns the path.

    Raises :class:`~mmsr.checks.ChecksumError` when the file does not match ``sha256`` (or, without a pinned
    hash, the hash recorded at its first download); the bad file is removed so that a retry starts afresh.
    """
    import pooch

    root = Path(root).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    records = _load_records(root)
    expected = sha256 or records.get(filename)
    target = root / filename
    if target.is_file() and expected is not None:
        got = sha256sum(target)
        if got != expected:
            target.unlink()
            raise ChecksumError(f"cached {target} has SHA-256 {got}, expected {expected}: the file is corrupt or "
                                f"partial and was removed; run the download again")
        return target
    try:
        path = pooch.retrieve(url, known_hash=f"sha256:{expected}" if expected else None, fname=filename,
                              path=str(root), progressbar=progress)
    except ValueError as e:  # pooch: hash mismatch (the temporary download is already deleted)
        raise ChecksumError(f"download of {url} does not match SHA-256 {expected}: {e}") from e
    except Exception as e:  # network, HTTP errors
        raise DataNotFoundError(f"could not download {url} ({type(e).__name__}: {e}); download it by hand into "
                                f"{root / filename}") from e
    if expected is None:
        got = sha256sum(path)
        records[filename] = got
        _save_records(root, records)
        print(f"recorded SHA-256 {got} for {filename} in {root / CHECKSUM_FILE}")
    return Path(path)


def unpack(archive: Path, dest: Path) -> Path:
    """Extract a zip after testing every member's CRC, into a temporary folder renamed into place at the end."""
    archive, dest = Path(archive), Path(dest)
    try:
        with zipfile.ZipFile(archive) as z:
            bad = z.testzip()
            if bad is not None:
                raise ChecksumError(f"{archive}: member {bad} fails its CRC check (corrupt archive)")
            tmp = dest.parent / (dest.name + ".partial")
            if tmp.exists():
                import shutil

                shutil.rmtree(tmp)
            z.extractall(tmp)
    except zipfile.BadZipFile as e:
        raise ChecksumError(f"{archive} is not a valid zip archive ({e}); delete it and download again") from e
    # an archive that holds a single top folder of the destination's name is unwrapped
    inner = tmp / dest.name
    src = inner if inner.is_dir() and len(list(tmp.iterdir())) == 1 else tmp
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dest)
    if src is not tmp:
        tmp.rmdir()
    return dest


def fetch(dataset: str, root, progress: bool = True) -> Path:
    """Download and unpack a dataset from its publisher into ``root`` (then ``MMSR_DATA=root`` finds it)."""
    if dataset not in SOURCES:
        raise ValueError(f"no download for dataset {dataset!r}; downloadable: {sorted(SOURCES)} "
                         f"(ULB17-VT is distributed by its authors on request)")
    root = Path(root).expanduser()
    for src in SOURCES[dataset]:
        dest = root / src.unpacks_to
        if dest.is_dir():
            continue
        archive = fetch_file(src.url, root, src.filename, src.sha256, progress)
        unpack(archive, dest)
    return root
