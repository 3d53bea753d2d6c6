import os
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data beside the checkout (as in CI); tests that need it skip when it is absent."""
    if not (SHARED_DATA / "epfl_rgbnir").is_dir():
        pytest.skip("../shared/data not present")
    return SHARED_DATA


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def _no_data_root(monkeypatch):
    """Tests never pick up a user's MMSR_DATA by accident."""
    monkeypatch.delenv("MMSR_DATA", raising=False)
    monkeypatch.delenv("MMSR_MODE", raising=False)
