"""``python -m recaug.cli`` runs the command-line interface."""

from recaug.cli import main

main()
