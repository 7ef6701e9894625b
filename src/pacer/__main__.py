"""``python -m pacer`` runs the CLI."""

from pacer.cli import main

main()
