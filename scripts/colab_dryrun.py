"""Run the chapters the way Colab would, as far as a machine without Colab can: a dry run of the Colab path.

What Colab gives a reader who presses a chapter's launch button: a bare Python with PyTorch, NumPy, matplotlib,
scikit-image and a Jupyter kernel; the notebook file alone (no repository beside it); no data; ``/content`` as the
working folder; and ``google.colab`` importable. This script rebuilds that as closely as it can here:

1. a fresh virtual environment with only those packages (``--venv``; reused if it exists);
2. ``google.colab`` faked by an empty package that the kernel imports at start-up (``sitecustomize``), as Colab's
   kernel does, so each chapter's Colab cell runs;
3. the ``git clone`` of that cell answered from this checkout's *committed* HEAD (``git config
   url.<this checkout>.insteadOf <the configured repository URL>``, in a throwaway git config), i.e. what GitHub
   would serve after a push; uncommitted changes are not seen, as on Colab;
4. each notebook copied alone into an empty folder and executed there in smoke mode with no data root, then one
   appended cell checks that ``mmsr`` was imported from the clone and that its weights and result records are found.

It needs ``/content`` writable (as root, or a machine where ``/content`` exists) and the package index for the
first ``pip install``. What it cannot check: Colab's own package versions, its GPU runtime, its file browser.

    python scripts/colab_dryrun.py                  # every chapter
    python scripts/colab_dryrun.py 05_lmcsc 06_cmsr # some
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONTENT = Path("/content")
MARK = ".mmsr-colab-dryrun"   # only a /content/mmsr this script made is ever removed
#: what a bare Colab runtime already has that the chapters use before their install cell (versions: Colab's own)
PREINSTALLED = ["numpy", "matplotlib", "scikit-image", "scipy", "tqdm", "ipykernel<7", "ipywidgets", "nbclient",
                "nbformat"]
#: appended to every chapter: the library comes from the clone, and the files a pip install from git would lack
CHECK_CELL = """\
import pathlib, mmsr
src = pathlib.Path(mmsr.__file__).resolve().parent
assert str(src).startswith("/content/mmsr/"), f"mmsr imported from {src}, not from the Colab clone"
weights = sorted(p.name for p in (src / "weights").glob("*.json"))
results = [n for n in ("nir", "cave", "cmsr") if mmsr.results_dir(n).is_dir()]
assert weights and len(results) == 3, f"weight records: {len(weights)}; result folders found: {results}"
print(f"COLAB-DRYRUN-OK mmsr from {src}: {len(weights)} weight records, results {results}")
"""

#: executes one notebook in the bare runtime's own Python: ``python -c RUNNER NOTEBOOK TIMEOUT``
RUNNER = """\
import sys, pathlib, nbformat
from nbclient import NotebookClient
path, timeout = pathlib.Path(sys.argv[1]), int(sys.argv[2])
nb = nbformat.read(path, as_version=4)
NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
out = [o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
print("".join(t for t in out if "COLAB-DRYRUN-OK" in t) or "no check output")
"""


def sh(*cmd, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def repository_url() -> str:
    sys.path.insert(0, str(ROOT / "scripts"))
    from set_repository import configured

    return configured()


def make_venv(venv: Path, python: str, torch_spec: str, torch_index: str | None) -> Path:
    py = venv / "bin" / "python"
    if not py.exists():
        print(f"creating {venv} with {python} (a bare runtime: {', '.join(PREINSTALLED)} and {torch_spec})",
              flush=True)
        sh(python, "-m", "venv", venv)
        sh(py, "-m", "pip", "install", "-q", "--upgrade", "pip")
        sh(py, "-m", "pip", "install", "-q", torch_spec, *(["--extra-index-url", torch_index] if torch_index else []))
        sh(py, "-m", "pip", "install", "-q", *PREINSTALLED)
    if subprocess.run([py, "-c", "import mmsr"], capture_output=True).returncode == 0:
        # a left-over install from an earlier dry run: Colab starts without it
        sh(py, "-m", "pip", "uninstall", "-q", "-y", "mmsr")
    return py


def fresh_content() -> None:
    clone = CONTENT / "mmsr"
    if clone.exists():
        if not (clone / MARK).exists():
            raise SystemExit(f"{clone} exists and was not made by this script: move it away first")
        shutil.rmtree(clone)
    CONTENT.mkdir(exist_ok=True)
    if not os.access(CONTENT, os.W_OK):
        raise SystemExit(f"{CONTENT} is not writable: run as root or on a machine where it is")


def run_chapter(nb_path: Path, py: Path, env: dict, timeout: int) -> tuple[bool, str, float]:
    """Execute one chapter alone in an empty folder with the venv's kernel; (ok, last lines, seconds)."""
    work = Path(tempfile.mkdtemp(prefix="colab-dryrun-"))
    nb = json.loads(nb_path.read_text())
    nb["cells"].append({"cell_type": "code", "id": "colab-dryrun-check", "metadata": {}, "execution_count": None,
                        "outputs": [], "source": CHECK_CELL})
    (work / nb_path.name).write_text(json.dumps(nb))
    t0 = time.perf_counter()
    res = subprocess.run([py, "-c", RUNNER, str(work / nb_path.name), str(timeout)], env=env, cwd=work,
                         capture_output=True, text=True)
    tail = "\n".join((res.stdout + res.stderr).strip().splitlines()[-6:])
    ok = res.returncode == 0 and "COLAB-DRYRUN-OK" in res.stdout
    if ok:
        shutil.rmtree(work)
    return ok, tail, time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("chapters", nargs="*", help="notebook stems (default: every chapter)")
    ap.add_argument("--venv", type=Path, default=Path(tempfile.gettempdir()) / "mmsr-colab-venv")
    ap.add_argument("--python", default=sys.executable,
                    help="the interpreter of the bare runtime (Colab's is Python 3.12; default: this one)")
    ap.add_argument("--torch", default="torch==2.13.0", help="the torch the bare runtime has (pip spec)")
    ap.add_argument("--torch-index", default=None, metavar="URL",
                    help="an extra package index for torch (e.g. https://download.pytorch.org/whl/cpu for the CPU "
                         "build; default: pip's own configuration)")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = ap.parse_args(argv)
    notebooks = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    if args.chapters:
        known = {p.stem: p for p in notebooks}
        unknown = [c for c in args.chapters if c not in known]
        if unknown:
            raise SystemExit(f"unknown chapters {unknown}; known: {sorted(known)}")
        notebooks = [known[c] for c in args.chapters]
    if subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "notebooks", "mmsr"],
                      capture_output=True, text=True).stdout.strip():
        print("note: uncommitted changes under notebooks/ or mmsr/ -- the clone sees only the committed HEAD")
    py = make_venv(args.venv, args.python, args.torch, args.torch_index)
    sh(py, "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3", capture_output=True)
    fake = Path(tempfile.mkdtemp(prefix="fake-colab-"))
    (fake / "google" / "colab").mkdir(parents=True)
    (fake / "google" / "__init__.py").write_text("")
    (fake / "google" / "colab" / "__init__.py").write_text('"""A stand-in: only its presence matters."""\n')
    # Colab's kernel has imported google.colab before the first cell; the chapters test for it in sys.modules
    (fake / "sitecustomize.py").write_text("import google.colab  # noqa: F401\n")
    gitconfig = fake / "gitconfig"
    gitconfig.write_text(f'[url "{ROOT}"]\n\tinsteadOf = {repository_url()}\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MMSR_", "VIRTUAL_ENV", "PYTHON"))}
    env.update(PATH=f"{py.parent}:{env['PATH']}", PYTHONPATH=str(fake), GIT_CONFIG_GLOBAL=str(gitconfig),
               MMSR_MODE="smoke", CI="")
    failed = []
    for nb in notebooks:
        fresh_content()   # every chapter starts from a runtime that has not cloned yet
        ok, tail, secs = run_chapter(nb, py, env, args.timeout)
        if (CONTENT / "mmsr").exists():
            (CONTENT / "mmsr" / MARK).touch()
        print(f"{'ok    ' if ok else 'FAILED'} {nb.stem} ({secs:.0f} s)\n    " + tail.replace("\n", "\n    "),
              flush=True)
        if not ok:
            failed.append(nb.stem)
    print(f"{len(notebooks) - len(failed)} of {len(notebooks)} chapters ran the Colab path"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
