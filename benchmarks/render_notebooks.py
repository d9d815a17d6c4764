"""The example notebooks as a reader sees them: each executed in a real kernel, rendered to HTML
by nbconvert and photographed whole by a headless Chromium (Debian's, driven by Playwright; no
browser download). Writes NAME.ipynb (executed), NAME.html and NAME.png per notebook into the
output folder, for a person to look at: the figures, the epoch tables, the lists.

    python benchmarks/render_notebooks.py OUT_DIR [--notebooks 01_chapter_collab.ipynb ...]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from benchmarks.notebooks import NOTEBOOKS, execute  # noqa: E402

CHROMIUM = os.environ.get("EMBEDREC_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
WIDTH = 1100  # pixels: a laptop's notebook column, wide enough for the tables


def render(names: list[str], out: Path) -> list[Path]:
    """Execute, render and photograph each notebook; returns the PNGs written."""
    out.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter(template_name="lab")
    pages = []
    for name in names:
        notebook = execute(name)
        stem = out / Path(name).stem
        nbformat.write(notebook, stem.with_suffix(".ipynb"))
        markup, _ = exporter.from_notebook_node(notebook)
        stem.with_suffix(".html").write_text(markup, encoding="utf-8")
        pages.append(stem)
        print(f"executed {name}", flush=True)
    shots = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": WIDTH, "height": 800})
        for stem in pages:
            page.goto(stem.with_suffix(".html").resolve().as_uri())
            page.wait_for_load_state("load")
            shot = stem.with_suffix(".png")
            page.screenshot(path=str(shot), full_page=True)
            shots.append(shot)
            print(shot, flush=True)
        browser.close()
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the executed notebooks, HTML, PNGs")
    parser.add_argument("--notebooks", nargs="+", default=list(NOTEBOOKS))
    args = parser.parse_args()
    render(args.notebooks, args.out)


if __name__ == "__main__":
    main()
