"""One file per run folder: pack a run (weights, checkpoints, records, logs) into a ``.tar.gz`` and unpack it back,
so that a job on a time-limited machine brings back one file and the next job starts from it.

    python -m mmsr.archive pack runs/lmcsc_x4 out/lmcsc_x4.tar.gz      # --max-mib 16 refuses a larger archive
    python -m mmsr.archive unpack out/lmcsc_x4.tar.gz runs/             # -> runs/lmcsc_x4/...

Paths inside are relative to the run folder's parent (the archive of ``runs/lmcsc_x4`` holds ``lmcsc_x4/...``).
Lock files and half-written temporaries are left out. Unpacking refuses absolute paths, ``..``, links and
devices (tarfile's ``data`` filter), so an archive from elsewhere cannot write outside the destination.
"""
from __future__ import annotations

import argparse
import sys
import tarfile
from pathlib import Path

SKIP_SUFFIXES = (".tmp",)
SKIP_NAMES = (".lock",)


def _wanted(path: Path) -> bool:
    return path.is_file() and path.name not in SKIP_NAMES and not path.name.endswith(SKIP_SUFFIXES) \
        and not path.name.startswith(".write-test-")


def pack(run_dirs, archive, max_mib: float | None = None) -> Path:
    """Write the run folder(s) ``run_dirs`` into ``archive`` (``.tar.gz``). Returns its path.

    ``max_mib``: refuse (and delete) an archive larger than this many MiB, naming the largest files.
    """
    if isinstance(run_dirs, (str, Path)):
        run_dirs = [run_dirs]
    run_dirs = [Path(d) for d in run_dirs]
    for d in run_dirs:
        if not d.is_dir():
            raise FileNotFoundError(f"no run folder at {d}")
    archive = Path(archive)
    if not archive.name.endswith((".tar.gz", ".tgz")):
        raise ValueError(f"{archive}: the archive name must end in .tar.gz or .tgz")
    archive.parent.mkdir(parents=True, exist_ok=True)
    files = [(f, f.relative_to(d.parent)) for d in run_dirs for f in sorted(d.rglob("*")) if _wanted(f)]
    with tarfile.open(archive, "w:gz") as tar:
        for f, rel in files:
            tar.add(f, arcname=str(rel), recursive=False)
    size = archive.stat().st_size
    if max_mib is not None and size > max_mib * 2**20:
        archive.unlink()
        biggest = sorted(files, key=lambda fr: -fr[0].stat().st_size)[:3]
        raise ValueError(f"the archive would be {size / 2**20:.1f} MiB, over the limit of {max_mib:g} MiB; largest: "
                         + ", ".join(f"{rel} ({f.stat().st_size / 2**20:.1f} MiB)" for f, rel in biggest))
    return archive


def unpack(archive, dest) -> list[Path]:
    """Extract ``archive`` under ``dest`` safely; returns the top-level folders it restored."""
    archive, dest = Path(archive), Path(dest)
    if not archive.is_file():
        raise FileNotFoundError(f"no archive at {archive}")
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            names = tar.getnames()
            tar.extractall(dest, filter="data")
    except (tarfile.TarError, EOFError, OSError) as e:
        why = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ValueError(f"{archive} is not a usable archive ({why})") from None
    return sorted({dest / Path(n).parts[0] for n in names if n})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mmsr.archive", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack", help="run folder(s) -> one .tar.gz")
    p.add_argument("run_dirs", nargs="+")
    p.add_argument("archive")
    p.add_argument("--max-mib", type=float, default=None, help="refuse an archive larger than this")
    u = sub.add_parser("unpack", help=".tar.gz -> run folder(s) under DEST")
    u.add_argument("archive")
    u.add_argument("dest")
    a = ap.parse_args(argv)
    try:
        if a.cmd == "pack":
            out = pack(a.run_dirs, a.archive, a.max_mib)
            print(f"{out} ({out.stat().st_size / 2**20:.2f} MiB)")
        else:
            for d in unpack(a.archive, a.dest):
                print(d)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
