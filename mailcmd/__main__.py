"""Allows `python -m mailcmd`, the same as the `mailcmd` console script."""

from mailcmd.cli import main

main()
