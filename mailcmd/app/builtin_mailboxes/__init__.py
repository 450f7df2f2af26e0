"""mailcmd's own mailboxes, `help@` and `confirm@`: ordinary apps, merged into every registry.

Their names are the reserved ones (see `mailcmd.app.registry.builtin_mailbox_names`). What
their handlers need beyond a `Context` is injected by type, like it: the `Envelope`
of the message, the `Registry` for the help page, and the `StrangerAttempts` that
`builtin_services` makes once per worker.
"""

from mailcmd.app.builtin_mailboxes.confirm import StrangerAttempts
from mailcmd.app.builtin_mailboxes.confirm import app as confirm_app
from mailcmd.app.builtin_mailboxes.help import app as help_app
from mailcmd.app.registry import MailApp, Registry
from mailcmd.settings import Settings

BUILTIN_APPS: tuple[MailApp, ...] = (help_app, confirm_app)
# Where they come from, as registration errors name it.
BUILTIN_PLACE = "mailcmd's built-in mailboxes"


def builtin_services(settings: Settings, registry: Registry) -> dict[type, object]:
    """What the built-in handlers have injected beside a `Context` and an `Envelope`, by type:
    one set for each process that runs commands."""
    return {
        Registry: registry,
        StrangerAttempts: StrangerAttempts(settings.worker.confirm_rate_limit),
    }
