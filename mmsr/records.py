"""Result records: one JSON object per line of a ``.jsonl`` file, appended as each score is measured.

Every experiment script of the book (:mod:`mmsr.guidance_check`, :mod:`mmsr.cave_seeds`, :mod:`mmsr.protocols`,
:mod:`mmsr.speed`, :mod:`mmsr.zeroshot_experiments`) writes its measurements this way, one line per (method, image
set, image) with its provenance, and skips what a file already holds, so an interrupted run continues where it
stopped. Records are never rewritten: a method scored again with new weights gets new lines, and readers take the
last line of each key (:func:`latest`).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence


def read_records(path) -> list[dict]:
    """Every record of the file at ``path`` in the order written; ``[]`` if there is no such file."""
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def append_record(path, record: dict) -> None:
    """Add ``record`` as the last line of ``path`` (folders made as needed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def has_record(records: Sequence[dict], **key) -> bool:
    """Whether one of ``records`` has every field of ``key`` with that value (what a resumed run skips)."""
    return any(all(r.get(k) == v for k, v in key.items()) for r in records)


def provenance(device, mode: str) -> dict:
    """The fields every score record carries: commit, device, mode and the time it was measured."""
    from .training import device_description, git_commit

    return {"git_commit": git_commit(), "device": device_description(device), "mode": mode,
            "time_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def latest(records: Sequence[dict]) -> list[dict]:
    """The last record of each (method, set, image), in the order the keys first appear: a method scored again
    with new weights replaces its old rows."""
    return list({(r["method"], r["set"], r["image"]): r for r in records}.values())


def read_latest(path) -> list[dict]:
    """:func:`latest` of the records of the file at ``path``."""
    return latest(read_records(path))
