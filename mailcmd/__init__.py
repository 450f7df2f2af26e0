"""mailcmd: email as an application's user interface."""

__version__ = "0.1.0"
