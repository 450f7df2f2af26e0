"""`help@`: every mailbox and command the sender may use, whatever they write."""

from mailcmd.app.context import Context
from mailcmd.app.help import help_page
from mailcmd.app.registry import Registry, builtin_app

HELP_ADDRESS = "help"

app = builtin_app({Registry: "the registry"})
mailbox = app.mailbox(HELP_ADDRESS, help="What you may do here", auth="public")


@mailbox.default(template="mailcmd/help")
def show_help(ctx: Context, registry: Registry) -> None:
    """The commands you may use, by address."""
    ctx.reply(page=help_page(registry, ctx.sender, ctx.domain, None, None))
