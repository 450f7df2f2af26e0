"""From a message to the commands it asks for: pure decisions, no I/O.

The subject is the invocation; an empty subject (or `commands`) makes every body
line one, and so does an answer (`Re: ...`) whose first line above the quote is a
whole command. Everything is parsed and checked before anything runs, so a mistake
in the third line of a body runs nothing.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from mailcmd.app.context import Sender
from mailcmd.app.registry import DEFAULT_VERB, Command, Mailbox
from mailcmd.message import Attachment
from mailcmd.parsing import CommandParseError, split_words, strip_subject_prefixes, suggest

MULTI_COMMAND_SUBJECTS = frozenset({"", "commands"})
# A body line that ends the list of commands: what people write before signing off.
END_OF_COMMANDS = frozenset({"thanks", "thank you", "thx", "--", "cheers", "regards"})
MAX_COMMAND_LINES = 50


@dataclass(frozen=True)
class Invocation:
    """One command to run, with its arguments converted, and the line that asked for it."""

    command: Command
    arguments: dict[str, object]
    line: str
    # A command given as a body line: the body is the list of commands, not its text.
    from_body: bool = False


@dataclass(frozen=True)
class HelpRequest:
    """The sender asked for help: about everything they may use, or about one verb."""

    mailbox: Mailbox
    verb: str | None


@dataclass(frozen=True)
class CommandRefused:
    """Nothing runs; the sender is told `message`, with `usage` lines where they help."""

    message: str
    usage: tuple[str, ...] = ()
    # The command the mistake is about, when there is one.
    command: Command | None = None
    # Whether `message` may repeat what the sender wrote (a parse error does).
    quotes_input: bool = True


Plan = list[Invocation] | HelpRequest | CommandRefused


def may_use(command: Command, sender: Sender) -> bool:
    """Whether `sender` passes the command's policy."""
    if command.policy.auth == "public":
        return True
    return sender.is_account and command.policy.roles <= sender.roles


def plan_for(
    mailbox: Mailbox,
    tag: str | None,
    subject: str,
    body: str,
    sender: Sender,
    today: date,
    attachments: Sequence[Attachment] = (),
) -> Plan:
    """Decide what a message to `mailbox` asks for.

    A built-in mailbox (`help@`, `confirm@`) gives every message to its default
    command, whatever its subject and text say. `tag` is the plus-tag of the
    address, `body` the sender's new text. An answer (`Re: ...`) whose subject
    names no command runs the command lines of its body when the first of them is
    a whole command of the mailbox (see `_is_command_line`), or when the mailbox
    has no default command to take the text; otherwise the default command takes
    it (a comment, say). A command that takes files gets the message's
    `attachments`, which must fit its limits.
    """
    invocation_text = strip_subject_prefixes(subject)
    default = _usable_default(mailbox, tag)
    if default is not None and mailbox.builtin:
        return _invocation(default, tag, [], invocation_text, sender, today, attachments)
    if invocation_text.lower() in MULTI_COMMAND_SUBJECTS:
        lines = command_lines(body)
        if lines:
            return _plan_lines(mailbox, tag, lines, sender, today, attachments)
        if _usable_default(mailbox, tag) is not None:
            return _plan_line(
                mailbox, tag, "", sender, today, attachments, default_from_subject=True
            )
        return HelpRequest(mailbox=mailbox, verb=None)
    if _is_answer_without_command(mailbox, subject, invocation_text):
        # Answering a reply in a mail client keeps its subject ("Re: Task 1 added");
        # the commands are then what the person wrote above the quote.
        lines = command_lines(body)
        if lines and (
            _usable_default(mailbox, tag) is None
            or _is_command_line(mailbox, tag, lines[0], today, attachments)
        ):
            return _plan_lines(mailbox, tag, lines, sender, today, attachments)
    return _plan_line(
        mailbox, tag, invocation_text, sender, today, attachments, default_from_subject=True
    )


def plan_again(
    mailbox: Mailbox,
    tag: str | None,
    lines: Sequence[tuple[str, bool]],
    sender: Sender,
    today: date,
) -> list[Invocation] | CommandRefused:
    """Parse command lines kept for a confirmation as they were first parsed.

    Each line is `(text, from_body)`, parsed as of `today` (the day it was written, so
    that `friday` means the same day) and checked against `sender`'s policy again.
    """
    invocations: list[Invocation] = []
    for line, from_body in lines:
        # Files are not kept with a confirmation: a command that takes some cannot ask.
        planned = _plan_line(
            mailbox, tag, line, sender, today, (), default_from_subject=not from_body
        )
        if isinstance(planned, CommandRefused):
            return planned
        if isinstance(planned, HelpRequest):
            return CommandRefused(f"{line!r} is no longer a command of {mailbox.name}@")
        invocations += [replace(invocation, from_body=from_body) for invocation in planned]
    return invocations


def _is_command_line(
    mailbox: Mailbox, tag: str | None, line: str, today: date, attachments: Sequence[Attachment]
) -> bool:
    """Whether `line` is, whole, a command of `mailbox`: its verb and arguments all parse.

    `done`, `edit --due friday` or `help done` are; "Done with this one, thanks"
    is not (`done` takes no such words), and neither is "Done." (no verb "done.").
    The plus-tag fills what it fills for the command. Whether the sender may use
    the command is not asked: one they may not is answered with a refusal.
    """
    try:
        words = split_words(line)
    except CommandParseError:
        return False
    verb = words[0].lower() if words else DEFAULT_VERB
    if verb == "help":
        return len(words) == 1 or (len(words) == 2 and words[1].lower() in mailbox.commands)
    command = mailbox.commands.get(verb) if verb != DEFAULT_VERB else None
    if command is None:
        return False
    try:
        _arguments(command, tag, words[1:], today, attachments)
    except CommandParseError:
        return False
    return True


def _is_answer_without_command(mailbox: Mailbox, subject: str, invocation_text: str) -> bool:
    words = invocation_text.split(maxsplit=1)
    verb = words[0].lower() if words else ""
    return invocation_text != subject.strip() and verb != "help" and verb not in mailbox.commands


def _usable_default(mailbox: Mailbox, tag: str | None) -> Command | None:
    # A default command that takes the plus-tag answers replies to `tasks+42@`;
    # without a tag, an unknown subject is an unknown verb, with suggestions.
    default = mailbox.commands.get(DEFAULT_VERB)
    if default is None or (default.tag_parameter is not None and not tag):
        return None
    return default


def command_lines(body: str) -> list[str]:
    """Return the body's command lines, up to a sign-off line, `--`, or quoted text."""
    lines: list[str] = []
    for raw in body.splitlines():
        line = raw.strip()
        if line.lower().rstrip("!,.") in END_OF_COMMANDS or line.startswith(">"):
            break
        if line:
            lines.append(line)
    return lines


def _plan_lines(
    mailbox: Mailbox,
    tag: str | None,
    lines: Sequence[str],
    sender: Sender,
    today: date,
    attachments: Sequence[Attachment],
) -> Plan:
    if len(lines) > MAX_COMMAND_LINES:
        return CommandRefused(
            f"at most {MAX_COMMAND_LINES} commands in one message, got {len(lines)}"
        )
    invocations: list[Invocation] = []
    for line in lines:
        planned = _plan_line(
            mailbox, tag, line, sender, today, attachments, default_from_subject=False
        )
        if isinstance(planned, CommandRefused):
            return CommandRefused(
                f"line {line!r}: {planned.message}", planned.usage, planned.command
            )
        if isinstance(planned, HelpRequest):
            return planned
        invocations += [replace(invocation, from_body=True) for invocation in planned]
    return invocations


def _plan_line(
    mailbox: Mailbox,
    tag: str | None,
    text: str,
    sender: Sender,
    today: date,
    attachments: Sequence[Attachment],
    default_from_subject: bool,
) -> Plan:
    try:
        words = split_words(text)
    except CommandParseError as error:
        return CommandRefused(str(error))
    verb = words[0].lower() if words else ""
    if verb == "help":
        return HelpRequest(mailbox=mailbox, verb=words[1].lower() if len(words) > 1 else None)
    command = mailbox.commands.get(verb) if verb else None
    arguments_words = words[1:]
    if command is None:
        default = _usable_default(mailbox, tag)
        # An unrecognised subject (say, `Re: Task 42 added`) reaches the default
        # command; an unrecognised body line is a mistake.
        if default is not None and default_from_subject:
            command, arguments_words = default, []
        else:
            return _unknown_verb(mailbox, verb, sender)
    return _invocation(command, tag, arguments_words, text, sender, today, attachments)


def _invocation(
    command: Command,
    tag: str | None,
    words: Sequence[str],
    text: str,
    sender: Sender,
    today: date,
    attachments: Sequence[Attachment],
) -> list[Invocation] | CommandRefused:
    """`command` run with `words` as its arguments, as asked by the line `text`, or why not."""
    if not may_use(command, sender):
        return CommandRefused(_refusal_reason(command, sender), command=command, quotes_input=False)
    try:
        arguments = _arguments(command, tag, words, today, attachments)
    except CommandParseError as error:
        return CommandRefused(str(error), (command.usage(),), command)
    return [Invocation(command=command, arguments=arguments, line=text)]


def _arguments(
    command: Command,
    tag: str | None,
    words: Sequence[str],
    today: date,
    attachments: Sequence[Attachment],
) -> dict[str, object]:
    """The handler's arguments from `words` and `attachments`, the plus-tag filling its
    parameter; raises `CommandParseError`."""
    prefilled = {command.tag_parameter: tag} if command.tag_parameter and tag else {}
    return command.signature.parse(words, prefilled=prefilled, today=today, attachments=attachments)


def _unknown_verb(mailbox: Mailbox, verb: str, sender: Sender) -> CommandRefused:
    usable = [
        command
        for name, command in sorted(mailbox.commands.items())
        if name and may_use(command, sender)
    ]
    guess = suggest(verb, [command.verb for command in usable])
    hint = f" Did you mean {guess!r}?" if guess else ""
    message = f"{mailbox.name}@ has no command {verb!r}.{hint}" if verb else "no command given."
    return CommandRefused(message, tuple(command.usage() for command in usable))


def _refusal_reason(command: Command, sender: Sender) -> str:
    if not sender.is_account:
        reason = (
            f"{command.verb or command.mailbox} needs an account: log in to send it, "
            "or send it from an address an account owns."
        )
        return f"{reason} {sender.unverified}" if sender.unverified else reason
    missing = ", ".join(sorted(command.policy.roles - sender.roles))
    return f"{command.verb or command.mailbox} needs the role {missing}, which you do not have."
