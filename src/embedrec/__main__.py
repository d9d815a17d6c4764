"""`python -m embedrec`: the CLI, as `torchrun -m embedrec train ...` starts it on every rank
(through the command's entry point, so Ctrl-C while the CLI imports is one line too)."""

from _embedrec_command import main

main()
