"""`python -m embedrec`: the CLI, as `torchrun -m embedrec train ...` starts it on every rank."""

from embedrec.cli import main

main()
