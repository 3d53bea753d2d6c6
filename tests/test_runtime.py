"""Where results are found, and how paths are printed into the book."""
from pathlib import Path

import pytest

import mmsr


def test_results_dir_order_override_env_checkout(monkeypatch, tmp_path):
    monkeypatch.delenv("MMSR_RESULTS", raising=False)
    checkout = Path(mmsr.__file__).resolve().parents[1]
    assert mmsr.results_dir("cmsr") == checkout / "results" / "cmsr"
    monkeypatch.setenv("MMSR_RESULTS", str(tmp_path))
    assert mmsr.results_dir("nir") == tmp_path / "nir"
    assert mmsr.results_dir("nir", tmp_path / "mine") == tmp_path / "mine"
    for bad in ("", "../x", ".hidden", "a/b"):
        with pytest.raises(ValueError, match="plain folder name"):
            mmsr.results_dir(bad)


def test_describe_path_never_prints_the_machine_layout(tmp_path):
    checkout = Path(mmsr.__file__).resolve().parents[1]
    assert mmsr.describe_path(checkout / "results" / "cmsr") == "results/cmsr"
    outside = tmp_path / "deep" / "folder"
    text = mmsr.describe_path(outside)
    assert str(tmp_path) not in text and text.endswith("folder")
