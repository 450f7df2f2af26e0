"""The two ways a command can fail to parse: the sender's mistake, or the app author's."""


class ParseError(ValueError):
    """The sender's command cannot be understood.

    `str(error)` is one line meant for the person who sent the mail: it names the
    parameter or word at fault and what was expected, and never holds a traceback.
    """


class SignatureError(TypeError):
    """A handler's signature cannot be served from mail; raised at registration.

    The message names the function (`module.qualname`), the parameter and the problem.
    """
