"""The two ways a command can fail to parse: the sender's mistake, or the app author's."""

from mailcmd.errors import EXIT_BAD_SETTINGS, MailcmdError


class CommandParseError(MailcmdError, ValueError):
    """The sender's command cannot be understood.

    `str(error)` is one line meant for the person who sent the mail: it names the
    parameter or word at fault and what was expected, and never holds a traceback.
    """


class SignatureError(MailcmdError, TypeError):
    """A handler's signature cannot be served from mail; raised at registration.

    The message names the function (`module.qualname`), the parameter and the problem.
    """

    exit_code = EXIT_BAD_SETTINGS
