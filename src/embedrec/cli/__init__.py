"""The `embedrec` command. Each module registers its commands on the shared typer app; only the
public API (`import embedrec`) is called from here."""

from typing import Annotated

import typer

import embedrec
from embedrec.cli import (  # noqa: F401  (registers the commands)
    data,
    evaluating,
    search,
    serve,
    training,
    using,
)
from embedrec.cli.common import INTERRUPTED, app, err, out


def _print_version(asked: bool) -> None:
    if asked:
        out.print(f"embedrec {embedrec.__version__}", markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", is_eager=True, callback=_print_version
        ),
    ] = False,
) -> None:
    """Collaborative filtering with learned embeddings (fastai's collab models, as a tool)."""


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # Ctrl-C outside a command (while options are parsed)
        err.print("error: interrupted (Ctrl-C)", highlight=False)
        raise SystemExit(INTERRUPTED) from None


__all__ = ["app", "main"]
