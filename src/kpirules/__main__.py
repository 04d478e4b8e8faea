"""``python -m kpirules`` runs the command-line interface."""

from kpirules.cli import main

main()
