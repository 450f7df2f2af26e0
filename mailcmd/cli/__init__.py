"""The `mailcmd` command line: the operator's way in."""

from mailcmd.cli.root import app


def main() -> None:
    """Run the `mailcmd` command line with the process's arguments."""
    app(prog_name="mailcmd")
