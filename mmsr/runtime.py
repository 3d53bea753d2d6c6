"""Run modes, device choice and seeding: the few switches every chapter and script shares.

Run modes are read in exactly one place (:func:`get_mode`) and passed down as plain arguments:

* ``smoke``   -- tiny sizes so that CI executes every notebook in seconds;
* ``default`` -- what a reader gets: pretrained weights where a chapter has them, short demo training,
  real data when a data root is set (``MMSR_DATA``), else the embedded default;
* ``full``    -- retrain everything as the papers did; meant for a GPU.
"""
from __future__ import annotations

import os
import random
from typing import Optional

import numpy as np
import torch

MODES = ("smoke", "default", "full")
MODE_ENV = "MMSR_MODE"


def get_mode(mode: Optional[str] = None) -> str:
    """Return the run mode: ``mode`` if given, else ``$MMSR_MODE``, else ``"default"``."""
    chosen = mode if mode is not None else os.environ.get(MODE_ENV, "default")
    chosen = str(chosen).strip().lower()
    if chosen not in MODES:
        raise ValueError(f"unknown run mode {chosen!r}; expected one of {MODES} (set via argument or ${MODE_ENV})")
    return chosen


def try_gpu(prefer: Optional[str] = None) -> torch.device:
    """Pick the best available device: cuda > mps > cpu (or ``prefer`` if given and available)."""
    if prefer is not None:
        dev = torch.device(prefer)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("CUDA was requested but is not available on this machine")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (all devices) so that a run is repeatable."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    torch.manual_seed(int(seed))
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(int(seed))


def in_colab() -> bool:
    """True when running inside Google Colab."""
    import sys

    return "google.colab" in sys.modules


class Deadline:
    """A wall-clock budget for loops of units of work (zero-shot runs, evaluations): :meth:`allows` says whether
    one more unit fits, judged by the longest unit seen so far (the first always runs). ``None`` never expires.

    Used by ``--time-budget`` on the long entry points: work is recorded unit by unit, so a run stopped by its
    budget continues where it stopped when the same command is run again.
    """

    def __init__(self, seconds: Optional[float] = None):
        import time

        if seconds is not None and seconds <= 0:
            raise ValueError(f"a time budget must be positive, got {seconds}")
        self._clock = time.monotonic
        self.end = None if seconds is None else self._clock() + float(seconds)
        self.longest = 0.0
        self._started = None

    def remaining(self) -> float:
        return float("inf") if self.end is None else self.end - self._clock()

    def allows(self, margin: float = 1.2) -> bool:
        """``True`` if a unit as long as the longest so far (times ``margin``) still ends inside the budget."""
        return self.remaining() > self.longest * margin

    def start(self) -> None:
        self._started = self._clock()

    def done(self) -> None:
        if self._started is not None:
            self.longest = max(self.longest, self._clock() - self._started)
            self._started = None


RESULTS_ENV = "MMSR_RESULTS"


def results_dir(name: str, override=None):
    """The folder of committed result records ``results/<name>`` (e.g. ``"cmsr"``, ``"nir"``).

    Looked up in this order: ``override`` (a notebook parameter), ``$MMSR_RESULTS/<name>``, the repository
    checkout that holds this package. A ``pip install`` from git has no ``results/``: clone the repository
    (the Colab cell of every chapter does), or point ``$MMSR_RESULTS`` at a clone's ``results`` folder.
    Returns the path even if it does not exist; :func:`describe_path` prints it without the machine's layout.
    """
    from pathlib import Path

    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"results name must be a plain folder name such as 'cmsr', not {name!r}")
    if override:
        return Path(override)
    if os.environ.get(RESULTS_ENV):
        return Path(os.environ[RESULTS_ENV]) / name
    return Path(__file__).resolve().parents[1] / "results" / name


def describe_path(path) -> str:
    """``path`` relative to the repository checkout (or the working directory) when inside it, else its name.

    Printed outputs that end up in the book must not show the build machine's directories.
    """
    from pathlib import Path

    p = Path(path).resolve()
    for base in (Path(__file__).resolve().parents[1], Path.cwd().resolve()):
        try:
            return p.relative_to(base).as_posix()
        except ValueError:
            continue
    return f".../{p.name}"
