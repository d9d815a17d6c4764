"""Output in Jupyter: whether the code runs in a notebook kernel, and showing a picture or an
HTML block there, updated in place.

IPython is imported here and nowhere else, on use: it is present wherever a kernel runs (a
notebook is the only place these calls are made), and a plain script or the CLI never pays
for it. A notebook is told from the shell IPython has already started: a kernel has one with a
`kernel`, the terminal `ipython` has one without.
"""

from __future__ import annotations

import html
import sys
from collections.abc import Sequence
from typing import Any


def in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (a notebook, JupyterLab, VS Code's notebooks)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


def _display() -> Any:
    """IPython's display module (see the module docstring for why it is imported here)."""
    import IPython.display

    return IPython.display


class LiveHTML:
    """One output of a notebook cell, HTML with a plain-text twin (for frontends and files that
    show text only), replaced in place by `update`: one table that grows, not one output per
    row."""

    def __init__(self, markup: str, text: str):
        self.handle = _display().display(_bundle(markup, text), raw=True, display_id=True)

    def update(self, markup: str, text: str) -> None:
        self.handle.update(_bundle(markup, text), raw=True)


def _bundle(markup: str, text: str) -> dict[str, str]:
    return {"text/html": markup, "text/plain": text}


def show_png(png: bytes) -> None:
    """A PNG shown as the cell's output."""
    display = _display()
    display.display(display.Image(data=png, format="png"))


def html_table(
    rows: Sequence[Sequence[Any]], header: Sequence[str] | None = None, caption: str = ""
) -> str:
    """A small HTML table (escaped), as notebooks render DataFrames."""
    head = ""
    if header is not None:
        head = "<thead><tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
        head += "</tr></thead>"
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    title = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f'<table class="dataframe">{title}{head}<tbody>{body}</tbody></table>'
