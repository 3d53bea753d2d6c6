"""Open every page of the built book in headless Chromium (after its scripts ran) and fail if math was left as raw
LaTeX or an image is missing -- the check a reader's eyes would make, offline.

    python scripts/check_rendered_book.py [_build/html]      # needs chromium (apt-get install chromium)

Raw math: ``\\(``, ``\\[`` or ``$$`` in the page's visible text outside code, i.e. MathJax did not typeset it
(offline MathJax missing, a delimiter MathJax is not told to process, a table cell that split a formula).
Missing image: an ``<img>`` whose file does not exist beside the page.
Local path: ``../shared/`` or ``/work/`` anywhere in the page (a reader has the papers, not this project's copies).
Missing stylesheet: a page without the book's ``mmsr.css`` (long code lines would be clipped, wide tables cut).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

#: paths of the machine the book was built on: the papers' and data's folder beside the checkout, the checkout
LOCAL_PATHS = ("../shared/", "/work/")
SKIP = {"pre", "code", "script", "style", "textarea", "mjx-container", "mjx-assistive-mml", "title", "head"}


class _Visible(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.depth = 0  # inside a skipped element
        self.stack: list[str] = []
        self.text: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            src = dict(attrs).get("src") or ""
            self.images.append(src)
            return
        if tag in ("br", "hr", "meta", "link", "input", "source", "wbr"):
            return
        self.stack.append(tag)
        if tag in SKIP:
            self.depth += 1

    def handle_endtag(self, tag):
        if tag not in self.stack:
            return
        while self.stack:
            t = self.stack.pop()
            if t in SKIP:
                self.depth -= 1
            if t == tag:
                break

    def handle_data(self, data):
        if self.depth == 0:
            self.text.append(data)


def dom(page: Path, chromium: str) -> str:
    out = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000",
                          "--dump-dom", page.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    return out.stdout


def problems(page: Path, html: str) -> list[str]:
    v = _Visible()
    v.feed(html)
    text = " ".join(v.text)
    found = []
    for token in ("\\(", "\\[", "$$"):
        i = text.find(token)
        if i >= 0:
            found.append(f"raw math {token!r}: ...{text[max(0, i - 40): i + 40]!r}...")
    source = page.read_text(errors="replace") if page.is_file() else html   # as built: the dumped DOM also
    for token in LOCAL_PATHS:   # holds the file:// URLs of this very copy; attributes count (citation tooltips)
        i = source.find(token)
        if i >= 0:
            found.append(f"a path the reader does not have {token!r}: ...{source[max(0, i - 60): i + 40]!r}...")
    if "mmsr.css" not in html:
        found.append("the book's stylesheet mmsr.css is not linked: long code lines are clipped")
    for src in v.images:
        u = urlparse(src)
        if u.scheme in ("http", "https", "data"):
            continue
        if not (page.parent / unquote(u.path)).is_file():
            found.append(f"missing image {src}")
    return found


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    root = Path(argv[0] if argv else "_build/html")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        print("chromium not found: apt-get install chromium", file=sys.stderr)
        return 2
    pages = sorted(p for p in root.rglob("*.html") if "_static" not in p.parts and p.name not in ("search.html",
                                                                                                 "genindex.html"))
    if not pages:
        print(f"no pages under {root}: build the book first", file=sys.stderr)
        return 2
    bad = 0
    for page in pages:
        html = dom(page, chromium)
        if "mjx-container" not in html and ("\\(" in html or "$$" in html):
            print(f"{page.relative_to(root)}: MathJax did not run", file=sys.stderr)
        issues = problems(page, html)
        for msg in issues:
            print(f"{page.relative_to(root)}: {msg}")
        bad += bool(issues)
    print(f"{len(pages)} pages checked, {bad} with problems")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
