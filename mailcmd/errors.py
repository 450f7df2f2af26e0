"""The one family of mailcmd's errors, and the exit codes its members carry.

Every room raises them, so the family lives here, beside `settings.py`, and imports
nothing of mailcmd's. As Click's exceptions do, each class says how a command that
ends with it exits, and `str(error)` is the one line its reader sees: the operator,
or for the errors answered by mail and IMAP, the sender or the client. The CLI
catches `MailcmdError` once and exits with the code, so no list is kept anywhere.

Exceptions that are signals rather than errors stay outside the family, each with a
comment saying why: their caller turns them into an answer, so no one reads their
text and no command ends with them.
"""

from typing import ClassVar

# A request that cannot be done: an unknown account, a taken port, a schema behind.
EXIT_REFUSED = 1
# Settings, usage or an app's declarations are wrong: fixing a file or an argument fixes it.
EXIT_BAD_SETTINGS = 2


class MailcmdError(Exception):
    """Something mailcmd cannot do; `str(error)` is one line saying what and why.

    A CLI command that ends with one prints that line and exits with `exit_code`,
    never a traceback.
    """

    exit_code: ClassVar[int] = EXIT_REFUSED
