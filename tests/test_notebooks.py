"""Every chapter executes end to end with papermill in smoke mode (outputs discarded).

The cells whose stored output must be reproduced are checked separately by nbval (``--nbval-lax``)."""
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "no chapters found"


@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes_in_smoke_mode(path, tmp_path, monkeypatch):
    papermill = pytest.importorskip("papermill")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    papermill.execute_notebook(str(path), str(tmp_path / path.name), parameters={"MODE": "smoke"},
                               cwd=str(tmp_path), kernel_name="python3", progress_bar=False)


def test_every_notebook_has_a_parameters_cell():
    import json

    for path in NOTEBOOKS:
        cells = json.loads(path.read_text())["cells"]
        assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in cells), path.name


def _markdown_lines():
    import json

    for path in NOTEBOOKS:
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "markdown":
                for line in "".join(cell["source"]).splitlines():
                    yield path.name, line
    for path in (Path(__file__).resolve().parents[1] / "book").glob("*.md"):
        for line in path.read_text().splitlines():
            yield path.name, line


def test_no_pipe_inside_math_in_a_table_row():
    """A '|' inside $...$ in a markdown table row splits the row (chapter 2's derivation table lost a column);
    absolute values in tables are written \\lvert ... \\rvert."""
    bad = []
    for name, line in _markdown_lines():
        if line.lstrip().startswith("|"):
            maths = line.split("$")[1::2]
            bad += [(name, m) for m in maths if "|" in m]
    assert bad == []


def test_headings_carry_no_latex():
    """Headings become the sidebar, the page title and link texts, where MathJax does not reach: no $...$ there."""
    bad = [(name, line) for name, line in _markdown_lines() if line.startswith("#") and "$" in line]
    assert bad == []
