"""The `embedrec` command. Each module registers its commands on the shared typer app; only the
public API (`import embedrec`) is called from here."""

from embedrec.cli import data, search, training, using  # noqa: F401  (registers the commands)
from embedrec.cli.common import app


def main() -> None:
    app()


__all__ = ["app", "main"]
