"""Help for the sender: the mailboxes and verbs they may use, or one verb in full."""

from dataclasses import dataclass

from mailcmd.app import DEFAULT_VERB, Command, Mailbox, Registry
from mailcmd.context import Sender
from mailcmd.dispatch import may_use
from mailcmd.parsing import suggest


@dataclass(frozen=True)
class VerbHelp:
    """One verb as help shows it."""

    verb: str
    usage: str
    summary: str
    doc: str
    options: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class MailboxHelp:
    """One mailbox as help shows it: its address, what it is for, and its verbs."""

    address: str
    help: str
    verbs: tuple[VerbHelp, ...]


@dataclass(frozen=True)
class HelpPage:
    """What the help reply shows: every usable mailbox, or one verb, or a suggestion."""

    mailboxes: tuple[MailboxHelp, ...]
    verb: VerbHelp | None = None
    verb_mailbox: str | None = None
    unknown_verb: str | None = None
    suggestion: str | None = None


def help_page(
    registry: Registry, sender: Sender, domain: str, mailbox: Mailbox | None, verb: str | None
) -> HelpPage:
    """Build the help `sender` asked for, showing only what they may use: about `verb` of
    `mailbox`, or all `mailbox`'s verbs, or (with neither) every mailbox of the app."""
    if mailbox is not None and verb:
        command = mailbox.commands.get(verb)
        if command is not None and may_use(command, sender):
            return HelpPage(
                mailboxes=(),
                verb=_verb_help(command),
                verb_mailbox=f"{mailbox.name}@{domain}",
            )
        usable = [c.verb for c in mailbox.commands.values() if c.verb and may_use(c, sender)]
        return HelpPage(
            mailboxes=(_mailbox_help(mailbox, sender, domain),),
            unknown_verb=verb,
            suggestion=suggest(verb, usable),
        )
    if mailbox is not None:
        shown = [mailbox]
    else:
        # mailcmd's own mailboxes are answered, not used: the page is about the app.
        shown = [each for each in registry.mailboxes.values() if not each.builtin]
    pages = tuple(
        page for page in (_mailbox_help(each, sender, domain) for each in shown) if page.verbs
    )
    return HelpPage(mailboxes=pages)


def _mailbox_help(mailbox: Mailbox, sender: Sender, domain: str) -> MailboxHelp:
    verbs = tuple(
        _verb_help(command)
        for name, command in sorted(mailbox.commands.items())
        if may_use(command, sender) and (name != DEFAULT_VERB or command.summary)
    )
    return MailboxHelp(address=f"{mailbox.name}@{domain}", help=mailbox.help, verbs=verbs)


def _verb_help(command: Command) -> VerbHelp:
    return VerbHelp(
        verb=command.verb,
        usage=command.usage(),
        summary=command.summary,
        doc=command.doc,
        options=tuple(command.signature.options_help()),
    )
