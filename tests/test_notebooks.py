"""Every chapter executes end to end with papermill in smoke mode (outputs discarded).

The cells whose stored output must be reproduced are checked separately by nbval (``--nbval-lax``)."""
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


CELL_TIMEOUT_S = 300   # a hung kernel fails the run in minutes (the book build uses the same limit)


def test_the_kernel_that_hangs_is_not_installed_and_every_executor_has_a_cell_timeout():
    """ipykernel 7 left the executor waiting on an idle kernel (upstream bug; see pyproject.toml)."""
    from importlib.metadata import version

    major = int(version("ipykernel").split(".")[0])
    assert major < 7, f"ipykernel {version('ipykernel')} is installed; the book pins <7 (execution hangs)"
    root = Path(__file__).resolve().parents[1]
    import re

    for cfg in ("_config.yml",):
        m = re.search(r"^\s+timeout:\s*(\d+)", (root / cfg).read_text(), re.M)
        assert m and int(m.group(1)) <= CELL_TIMEOUT_S, cfg


def test_kernel_hang_probe_runs_cells_the_executor_way_and_counts_late_replies():
    """scripts/kernel_hang_probe.py (book/running.md, "If a chapter stalls"): a short run on the installed
    ipykernel answers every cell; a reply made late on purpose (a cell that sleeps past the timeout) is counted."""
    import importlib.util

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("khp", root / "scripts" / "kernel_hang_probe.py")
    khp = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(khp)
    out = khp.probe(cells=len(khp.CELLS), timeout=20, kernels=2)
    assert out["late_replies"] == 0 and out["kernels"] == 2 and out["ipykernel"].split(".")[0].isdigit()
    slow = khp.CELLS + ("import time; time.sleep(3)",)
    khp.CELLS = slow   # the last cell answers after the 2 s timeout, untouched: late, slow, not a stuck request
    late = khp.probe(cells=len(slow), timeout=2, kernels=1)
    assert late["late_replies"] == 1 and late["late"][0]["cell"] == len(slow) - 1
    assert late["answered_later"] == 1 and late["released_by_nudge"] == 0
    with pytest.raises(ValueError, match="must be >= 1"):
        khp.probe(cells=0, timeout=1)


def test_there_are_notebooks():
    assert NOTEBOOKS, "no chapters found"


@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes_in_smoke_mode(path, tmp_path, monkeypatch):
    papermill = pytest.importorskip("papermill")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    papermill.execute_notebook(str(path), str(tmp_path / path.name), parameters={"MODE": "smoke"},
                               cwd=str(tmp_path), kernel_name="python3", progress_bar=False,
                               execution_timeout=CELL_TIMEOUT_S)
    assert _unlabelled_result_columns(tmp_path / path.name) == []


def _unlabelled_result_columns(path):
    """Result-table columns in a notebook's outputs that do not say "reported" or "computed"/"ours"."""
    import json

    from mmsr.tables import unlabelled_columns

    bad = []
    for cell in json.loads(Path(path).read_text())["cells"]:
        for out in cell.get("outputs", []):
            md = out.get("data", {}).get("text/markdown")
            if md:
                bad += unlabelled_columns("".join(md) if isinstance(md, list) else md)
    return bad


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_outputs_never_put_an_unlabelled_number_in_a_result_table(path):
    """The outputs the rendered book shows (committed with the chapters) label every result column."""
    assert _unlabelled_result_columns(path) == []


def test_every_code_cell_with_stored_outputs_has_an_execution_count():
    """nbval refuses a cell whose stored outputs have no execution count ("unrun reference cell has outputs"), which
    a cell added and run on its own leaves behind; this finds it without running a notebook."""
    import json

    for path in NOTEBOOKS:
        cells = json.loads(path.read_text())["cells"]
        unrun = [i for i, c in enumerate(cells)
                 if c["cell_type"] == "code" and c.get("outputs") and c.get("execution_count") is None]
        assert unrun == [], f"{path.name}: cells {unrun}"


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


def test_every_chapter_has_a_colab_cell_that_clones_the_configured_repository():
    """On Colab a pip install from git has no weights records or results/: the cell clones the repository, and
    the URL it clones is the one the launch buttons use (scripts/set_repository.py keeps them equal)."""
    import json
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text())["cells"]
        colab = [c for c in cells if 'if "google.colab" in sys.modules' in "".join(c["source"])]
        assert len(colab) == 1, path.name
        src = "".join(colab[0]["source"])
        assert "git clone" in src and "sys.path.insert" in src, path.name
    check = subprocess.run([sys.executable, str(root / "scripts" / "set_repository.py"), "--check"],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_set_repository_rewrites_every_copy_and_the_check_catches_a_stray_one(tmp_path):
    import shutil
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    copy = tmp_path / "repo"
    for rel in ("_config.yml", "book/render-only.yml", "scripts/set_repository.py"):
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(root / rel, copy / rel)
    shutil.copytree(root / "notebooks", copy / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    script = [sys.executable, str(copy / "scripts" / "set_repository.py")]
    assert subprocess.run(script + ["https://github.com/someone/fork"], capture_output=True).returncode == 0
    assert subprocess.run(script + ["--check"], capture_output=True).returncode == 0
    assert "https://github.com/someone/fork" in (copy / "notebooks" / NOTEBOOKS[0].name).read_text()
    nb = copy / "notebooks" / NOTEBOOKS[-1].name
    nb.write_text(nb.read_text().replace("someone/fork", "someone/other"))
    bad = subprocess.run(script + ["--check"], capture_output=True, text=True)
    assert bad.returncode == 1 and NOTEBOOKS[-1].name in bad.stderr
    assert subprocess.run(script + ["not-a-url"], capture_output=True).returncode == 2


def test_binder_installs_cpu_torch_and_otherwise_the_same_packages():
    root = Path(__file__).resolve().parents[1]

    def packages(path):
        lines = [ln.strip() for ln in path.read_text().splitlines()]
        return [ln[2:].strip() for ln in lines if ln.startswith("- ") and not ln.startswith("- --")]

    main, binder = root / "environment.yml", root / "binder" / "environment.yml"
    assert [p for p in packages(main) if p != "-e ."] == packages(binder)
    assert "pip install --no-deps -e ." in (root / "binder" / "postBuild").read_text()
    text = binder.read_text()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in text
    assert text.index("whl/cpu") < text.index("torch>=")   # pip reads options before the requirement


def test_the_book_cites_papers_not_files_a_reader_does_not_have():
    """Readers have the publications, not this project's ../shared/papers/NNN_*.txt extractions."""
    import re

    bad = [(name, line.strip()[:80]) for name, line in _markdown_lines()
           if "shared/papers" in line or re.search(r"(?<![0-9.,_/-])00[0-4](?![0-9_])", line)]
    assert bad == []
    # the bibliography's fields are printed in the reference list and in every citation's tooltip
    bib = (Path(__file__).resolve().parents[1] / "book" / "references.bib").read_text()
    assert [line.strip() for line in bib.splitlines() if "shared/" in line or "papers/0" in line] == []


def test_every_chapter_ends_with_3_to_5_exercises_with_hidden_executed_solutions():
    """Exercises graded from predicting to implementing; each solution is a code cell the book hides
    (hide-cell: a toggle) and the smoke run above executes."""
    import json
    import re

    for path in NOTEBOOKS:
        cells = json.loads(path.read_text())["cells"]
        start = [i for i, c in enumerate(cells) if "".join(c["source"]).startswith("## Exercises")]
        assert len(start) == 1, path.name
        rest = cells[start[0] + 1:]
        tasks = [c for c in rest if c["cell_type"] == "markdown"]
        assert 3 <= len(tasks) <= 5, path.name
        assert all(re.match(r"\*\*\d+ \(", "".join(c["source"])) for c in tasks), path.name
        kinds = " ".join("".join(c["source"]).split(")")[0] for c in tasks)
        assert "predict" in kinds and ("implement" in kinds or "variant" in kinds), path.name
        for task, solution in zip(rest[0::2], rest[1::2]):
            assert task["cell_type"] == "markdown" and solution["cell_type"] == "code", path.name
            assert {"solution", "hide-cell"} <= set(solution["metadata"].get("tags", [])), path.name


def test_every_chapter_states_its_measured_runtime():
    """The 'Runs in about N min' line at the top of each chapter is written by scripts/record_runtime.py from
    the measured run (book/runtimes.json), not typed."""
    import importlib.util
    import json

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("record_runtime", root / "scripts" / "record_runtime.py")
    rr = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rr)
    records = json.loads((root / "book" / "runtimes.json").read_text())
    for path in NOTEBOOKS:
        first = next(c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "markdown")
        assert rr.line_for(records[path.stem]) in "".join(first["source"]), path.name


def test_record_runtime_writes_the_line_once(tmp_path, monkeypatch):
    import importlib.util
    import json
    import shutil

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("record_runtime", root / "scripts" / "record_runtime.py")
    rr = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rr)
    monkeypatch.setattr(rr, "RECORD", tmp_path / "runtimes.json")
    nb = tmp_path / NOTEBOOKS[2].name
    shutil.copy(NOTEBOOKS[2], nb)
    assert rr.main([str(nb), "61"]) == 0 and rr.main([str(nb), "300", "--data", "embedded"]) == 0
    first = "".join(next(c for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "markdown")["source"])
    assert first.count("**Runs in**") == 1 and "about 5 min" in first and "embedded default data" in first
    assert first.startswith("# ")
    with pytest.raises(SystemExit):
        rr.main([str(nb), "0"])


def test_rendered_page_check_finds_raw_math_missing_images_and_the_missing_stylesheet(tmp_path):
    import importlib.util

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("crb", root / "scripts" / "check_rendered_book.py")
    crb = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(crb)
    page = tmp_path / "p.html"
    (tmp_path / "ok.png").write_bytes(b"")
    good = '<html><head><link href="_static/mmsr.css"></head><body><p>x</p><img src="ok.png"><pre>\\\\(code\\\\)</pre></body></html>'
    assert crb.problems(page, good) == []
    bad = '<html><body><p>raw \\\\(\\\\ell_1\\\\) here</p><img src="gone.png"></body></html>'
    found = " ".join(crb.problems(page, bad))
    assert "raw math" in found and "missing image gone.png" in found and "mmsr.css" in found
    tip = '<html><head><link href="_static/mmsr.css"></head><body><a title="Paper. ../shared/papers/000.">x</a></body></html>'
    assert "a path the reader does not have" in " ".join(crb.problems(page, tip))


def test_colab_dryrun_check_refuses_a_library_not_from_the_clone_and_unknown_chapters():
    """scripts/colab_dryrun.py's last cell must fail where mmsr is not the Colab clone (here: this checkout), and
    a misspelt chapter is refused before any environment is built."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root / "scripts"))
    try:
        import colab_dryrun
    finally:
        sys.path.pop(0)
    res = subprocess.run([sys.executable, "-c", colab_dryrun.CHECK_CELL], capture_output=True, text=True)
    assert res.returncode != 0 and "not from the Colab clone" in res.stderr
    with pytest.raises(SystemExit, match="unknown chapters"):
        colab_dryrun.main(["05_lmcsc", "99_nope"])
