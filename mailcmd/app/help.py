"""Help for the sender: the mailboxes and verbs they may use, or one verb in full."""

import re
from collections.abc import Sequence
from dataclasses import dataclass

from mailcmd.app.context import Sender
from mailcmd.app.dispatch import may_use
from mailcmd.app.registry import DEFAULT_VERB, Command, Mailbox, Registry
from mailcmd.parsing import suggest

# Help lines stay this short, so that they read unbroken in any client.
HELP_WIDTH = 76
# Sections of a verb's page are indented this far, as in a man page.
INDENT = "    "
# Option descriptions start in one column, at most this far in; an option written
# longer has its description start on the next line.
OPTION_COLUMN = 32


@dataclass(frozen=True)
class VerbHelp:
    """One verb as help shows it: each option with what it means, accepts and defaults to."""

    verb: str
    usage: str
    summary: str
    description: str
    # (how it is written, what it means), in signature order.
    options: tuple[tuple[str, str], ...]
    example: str
    # Its example is written with files attached, which a subject cannot show.
    takes_files: bool = False

    @property
    def usage_lines(self) -> list[str]:
        """The usage line, indented and wrapped between its parameters, never inside one."""
        words = re.findall(r"\[[^\]]*\]|<[^>]*>|\S+", self.usage)
        return _fill(words, INDENT, INDENT + "    ")

    @property
    def option_lines(self) -> list[str]:
        """The options as aligned lines: each description starts in the same column."""
        return option_lines(self.options)


def option_lines(options: Sequence[tuple[str, str]]) -> list[str]:
    """Lay out (name, description) pairs as a man page does: names indented, every
    description starting in one column and wrapped under itself."""
    if not options:
        return []
    # A name too long for the column goes alone on its line and sets no width.
    fitting = [len(INDENT) + len(name) + 2 for name, _ in options]
    fitting = [width for width in fitting if width <= OPTION_COLUMN]
    column = max(fitting) if fitting else 2 * len(INDENT)
    lines = []
    for name, text in options:
        wrapped = _fill(text.split(), "", "", HELP_WIDTH - column)
        head = INDENT + name
        if len(head) + 2 <= column:
            lines.append(head.ljust(column) + wrapped.pop(0))
        else:
            lines.append(head)
        lines.extend(" " * column + line for line in wrapped)
    return lines


def _fill(words: Sequence[str], first: str, rest: str, width: int = HELP_WIDTH) -> list[str]:
    """Join `words` into lines of at most `width`, the first after `first`, the others
    after `rest`; a word longer than that stands alone on its line."""
    lines: list[str] = []
    line: list[str] = []
    prefix = first
    for word in words:
        if line and len(prefix) + len(" ".join([*line, word])) > width:
            lines.append(prefix + " ".join(line))
            prefix, line = rest, []
        line.append(word)
    lines.append(prefix + " ".join(line))
    return lines


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
        description=command.description,
        options=tuple(command.signature.options_help()),
        example=command.example,
        takes_files=command.signature.files is not None,
    )
