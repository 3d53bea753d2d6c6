"""Record how long a chapter took to execute and write the measured line at the top of the chapter.

    python scripts/record_runtime.py notebooks/05_lmcsc.ipynb SECONDS [--data real|embedded]

``scripts/refresh_outputs.sh`` calls this after executing each chapter, so the line a reader sees ("runs in
about N min ...") is the measurement of the run whose outputs the chapter shows. ``book/runtimes.json`` keeps
the record (seconds, cores, load, date); ``tests/test_notebooks.py`` checks that the line and the record agree.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "book" / "runtimes.json"
MARK = "**Runs in**"
LINE = re.compile(r"^\*\*Runs in\*\*.*$", re.M)


def line_for(rec: dict) -> str:
    minutes = max(1, math.ceil(rec["seconds"] / 60))
    shared = rec.get("load_1min_at_end", 0) > 0.5 * rec["cores"]
    return (f"{MARK} about {minutes} min on a {rec['cores']}-core CPU in default mode with the "
            f"{'real data' if rec['data'] == 'real' else 'embedded default data'} (measured {rec['date']}"
            f"{', while other jobs shared the CPU: less on an idle machine' if shared else ''}); "
            "smoke mode, which CI runs, takes seconds; `full` mode trains at the papers' sizes and is meant for a GPU.")


def write_line(notebook: Path, rec: dict) -> None:
    nb = json.loads(notebook.read_text())
    first = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
    text = "".join(first["source"])
    new = line_for(rec)
    if LINE.search(text):
        text = LINE.sub(new, text)
    else:   # after the title line
        title, _, rest = text.partition("\n")
        text = f"{title}\n\n{new}\n{rest if rest.startswith(chr(10)) else chr(10) + rest}"
    lines = text.split("\n")
    first["source"] = [ln + "\n" for ln in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
    notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebook", type=Path)
    ap.add_argument("seconds", type=float)
    ap.add_argument("--data", choices=("real", "embedded"), default="real")
    a = ap.parse_args(argv)
    if not a.notebook.is_file() or a.seconds <= 0:
        ap.error(f"need an existing notebook and a positive time, got {a.notebook} {a.seconds}")
    records = json.loads(RECORD.read_text()) if RECORD.is_file() else {}
    rec = {"seconds": round(a.seconds, 1), "cores": os.cpu_count(), "load_1min_at_end": round(os.getloadavg()[0], 2),
           "data": a.data, "mode": "default", "date": time.strftime("%Y-%m-%d", time.gmtime())}
    records[a.notebook.stem] = rec
    RECORD.write_text(json.dumps(records, indent=1, sort_keys=True) + "\n")
    write_line(a.notebook, rec)
    print(f"{a.notebook.name}: {line_for(rec)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
