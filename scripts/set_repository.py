"""The book's repository URL is one setting: ``repository.url`` in ``_config.yml``.

The launch buttons read it there; the Colab cell of every chapter and ``book/render-only.yml`` carry a copy
(a notebook on Colab cannot read ``_config.yml`` before it has cloned the repository).

    python scripts/set_repository.py https://github.com/<owner>/<name>   # rewrite every copy
    python scripts/set_repository.py --check                            # exit 1 if a copy differs

``tests/test_notebooks.py`` runs the check.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
URL = re.compile(r"https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+?(?=[\"'\s/]|$)")
COPIES = ["book/render-only.yml", *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "notebooks").glob("*.ipynb"))]


def configured() -> str:
    m = re.search(r"^repository:\s*\n\s+url:\s*(\S+)", (ROOT / "_config.yml").read_text(), re.M)
    if not m:
        raise SystemExit("_config.yml has no repository.url")
    return m.group(1)


def mismatches(url: str) -> list[str]:
    """``file: found-url`` for every copy that names another repository (or none where one is expected)."""
    bad = []
    for rel in COPIES:
        found = set(URL.findall((ROOT / rel).read_text()))
        if found != {url}:
            bad.append(f"{rel}: {sorted(found) or 'no repository URL'}")
    return bad


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--check"]:
        bad = mismatches(configured())
        for line in bad:
            print(f"differs from _config.yml's {configured()}: {line}", file=sys.stderr)
        return 1 if bad else 0
    if len(args) != 1 or not URL.fullmatch(args[0]):
        print("usage: python scripts/set_repository.py https://github.com/<owner>/<name> | --check", file=sys.stderr)
        return 2
    new, old = args[0], configured()
    for rel in ["_config.yml", *COPIES]:
        path = ROOT / rel
        path.write_text(path.read_text().replace(old, new))
    print(f"repository URL {old} -> {new} in _config.yml and {len(COPIES)} copies")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
