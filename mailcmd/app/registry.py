"""The app registry: mailboxes, their commands and who may use them. Declaring only: no I/O.

An app author writes::

    app = MailApp()
    tasks = app.mailbox("tasks", help="Your to-do list")

    @tasks.command("add", template="tasks/added")
    def add(ctx: Context, title: str, due: date | None = None) -> None: ...

Decorators record the function and return it unchanged; mistakes in a signature
raise at once, naming the function; clashes between modules are found when the apps
are merged at start-up, naming both places.
"""

import functools
import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from mailcmd.app.context import Context, Envelope, ScheduledContext
from mailcmd.app.folders import (
    AppFolder,
    FolderActions,
    mapped_flag_problem,
    takes_folder_context,
)
from mailcmd.app.schedules import Cron, Every, ScheduledJob, Trigger, TriggerError
from mailcmd.errors import EXIT_BAD_SETTINGS, MailcmdError
from mailcmd.parsing import CommandParseError, CommandSignature, analyse, split_words

Handler = TypeVar("Handler", bound=Callable[..., Any])
Auth = Literal["account", "public"]

# The verb a mailbox's default command is filed under: it runs for an empty or an
# unrecognised subject.
DEFAULT_VERB = ""

# What a handler's parameters may ask for by type, beside the arguments from mail; the
# values name the types in registration errors.
INJECTED: Mapping[type, str] = {Context: "ctx", Envelope: "the envelope"}
# The address mailcmd's own notifications come from.
POSTMASTER_ADDRESS = "postmaster"


class RegistrationError(MailcmdError):
    """The app's declarations are inconsistent; the message names every place involved."""

    exit_code = EXIT_BAD_SETTINGS


@dataclass(frozen=True)
class Policy:
    """Who may run a command: any verified account (optionally with roles), or anyone."""

    auth: Auth = "account"
    roles: frozenset[str] = frozenset()

    def describe(self) -> str:
        """Return the policy in a few words, as `mailcmd commands` shows it."""
        who = "anyone" if self.auth == "public" else "accounts"
        if self.roles:
            who += " with role " + ", ".join(sorted(self.roles))
        return who


@dataclass(frozen=True)
class Command:
    """One verb of one mailbox, with its handler, parsed signature and policy."""

    mailbox: str
    verb: str
    function: Callable[..., Any]
    signature: CommandSignature
    policy: Policy
    # The parameter that takes the plus-tag of the address (`tasks+42@` gives "42").
    tag_parameter: str | None
    template: str | None
    # It changes nothing before its sender confirms by replying (see `Context.confirm`).
    confirm: bool = False
    # A subject that runs it, as help shows it: `add Buy milk --due +2w`.
    example: str = ""

    @property
    def place(self) -> str:
        """Where the handler is defined, as `file:line function`."""
        return _place(self.function)

    @property
    def is_async(self) -> bool:
        """Whether the handler is an `async def`."""
        return inspect.iscoroutinefunction(self.function)

    @property
    def summary(self) -> str:
        """The first paragraph of the handler's docstring, on one line."""
        return " ".join(self.doc.split("\n\n", 1)[0].split())

    @property
    def description(self) -> str:
        """The handler's docstring after its summary: "" when the summary says it all."""
        parts = self.doc.split("\n\n", 1)
        return parts[1].strip() if len(parts) > 1 else ""

    @property
    def doc(self) -> str:
        """The handler's whole docstring."""
        return inspect.getdoc(self.function) or ""

    def usage(self) -> str:
        """The usage line, e.g. `add TITLE [--due DATE]`."""
        if self.verb:
            return self.signature.usage(self.verb)
        if self.tag_parameter is not None:
            return f"(an answer to {self.mailbox}+{self.tag_parameter.upper()}@)"
        return self.signature.usage("(any subject)")


@dataclass
class Mailbox:
    """A local part of the app's domain (`tasks` for `tasks@app.example`) and its verbs."""

    name: str
    help: str
    policy: Policy
    # Mail to it may carry secrets (passwords): the queue keeps none of its text.
    holds_secrets: bool = False
    commands: dict[str, Command] = field(default_factory=dict)
    # The folders it shows in each account's mailbox, by IMAP name.
    folders: dict[str, AppFolder] = field(default_factory=dict)
    # Set by the app when it is frozen; declarations after that are refused.
    frozen: bool = False
    # One of mailcmd's own (see `mailcmd.app.builtin_mailboxes`): every message goes to its
    # default command, its plus-tag is passed on as written (no reply key), and help
    # pages do not list it.
    builtin: bool = False
    # The types its handlers may have injected.
    injected: Mapping[type, str] = field(default_factory=lambda: INJECTED)

    def command(
        self,
        verb: str | None = None,
        *,
        auth: Auth | None = None,
        roles: Iterable[str] | None = None,
        tag: str | None = None,
        template: str | None = None,
        confirm: bool = False,
        example: str = "",
    ) -> Callable[[Handler], Handler]:
        """Register the decorated function as the command `verb` (default: its name).

        `auth` and `roles` override the mailbox's policy; `tag` names the parameter
        that receives the address's plus-tag; `template` is the reply template the
        command uses (checked to exist at start-up). With `confirm`, nothing the
        command does is kept until its sender confirms by replying: the first mail
        runs the handler up to its `ctx.confirm(...)` (or to its end) and answers
        with that question instead; the confirming reply runs it for real, once.
        `example` is a subject that runs the command (`add Buy milk --due +2w`),
        which help shows; one that does not parse fails at start-up.
        """

        def register(function: Handler) -> Handler:
            name = (verb if verb is not None else function.__name__).replace("_", "-").lower()
            self._add(function, name, auth, roles, tag, template, confirm, example)
            return function

        return register

    def default(
        self,
        *,
        auth: Auth | None = None,
        roles: Iterable[str] | None = None,
        tag: str | None = None,
        template: str | None = None,
        confirm: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Register the decorated function for an empty or unrecognised subject.

        With `tag`, it is what a plain reply to `tasks+42@` reaches, the plus-tag
        filling that parameter; `confirm` as for `command`.
        """

        def register(function: Handler) -> Handler:
            self._add(function, DEFAULT_VERB, auth, roles, tag, template, confirm, "")
            return function

        return register

    def folder(
        self,
        name: str,
        *,
        template: str,
        flags: Mapping[str, tuple[str | None, str | None]] | None = None,
        arrival: str | None = None,
        delete: str | None = None,
    ) -> Callable[[Handler], Handler]:
        """Show the decorated function's objects as the folder `name` in each account's mailbox.

        The function takes a `FolderContext` and returns a `FolderItem` per object,
        newest first; each becomes one message rendered from `template` (checked to
        exist at start-up), replaced whenever its rendering changes. `name` may be a
        subfolder (`Tasks/Done`); it must not be one of every account's own folders
        (INBOX, Sent, ...) nor another mailbox's folder (checked at start-up).
        `flags`, `arrival` and `delete` say which of this mailbox's commands a
        person's flags, moves into the folder and deletions run (see
        `FolderActions`; the commands are checked to exist at start-up).
        """
        actions = FolderActions(flags=dict(flags or {}), arrival=arrival, delete=delete)

        def register(function: Handler) -> Handler:
            folder_name = name.strip()
            if self.frozen:
                raise RegistrationError(
                    f"{_place(function)}: the app is already serving; declare folders at import"
                )
            if not takes_folder_context(function):
                raise RegistrationError(
                    f"{_place(function)}: a folder's function takes one parameter, a FolderContext"
                )
            for flag in actions.flags:
                problem = mapped_flag_problem(flag)
                if problem is not None:
                    raise RegistrationError(f"{_place(function)}: flag {flag!r}: {problem}")
            existing = self.folders.get(folder_name)
            if existing is not None:
                raise RegistrationError(
                    f"folder {folder_name!r} declared twice:"
                    f" {existing.place} and {_place(function)}"
                )
            self.folders[folder_name] = AppFolder(
                mailbox=self.name,
                name=folder_name,
                template=template,
                function=function,
                place=_place(function),
                actions=actions,
            )
            return function

        return register

    def _add(
        self,
        function: Callable[..., Any],
        verb: str,
        auth: Auth | None,
        roles: Iterable[str] | None,
        tag: str | None,
        template: str | None,
        confirm: bool,
        example: str,
    ) -> None:
        if self.frozen:
            raise RegistrationError(
                f"{_place(function)}: the app is already serving; register commands at import"
            )
        existing = self.commands.get(verb)
        if existing is not None:
            raise RegistrationError(
                f"{self.name}: {_verb_name(verb)} registered twice: "
                f"{existing.place} and {_place(function)}"
            )
        if verb and (not verb.replace("-", "").isalnum() or verb == "help"):
            raise RegistrationError(
                f"{_place(function)}: {verb!r} cannot be a verb (letters, digits, '-'; "
                "'help' is built in)"
            )
        signature = analyse(function, injected=self.injected)
        if tag is not None and tag not in signature.parameter_names:
            raise RegistrationError(
                f"{_place(function)}: tag={tag!r} names no parameter of {function.__name__}"
            )
        if confirm and self.holds_secrets:
            raise RegistrationError(
                f"{_place(function)}: confirm=True keeps the command's words until it is"
                f" confirmed, and {self.name}@ holds secrets"
            )
        if example:
            _check_example(function, verb, signature, example)
        policy = Policy(
            auth=auth or self.policy.auth,
            roles=frozenset(roles) if roles is not None else self.policy.roles,
        )
        self.commands[verb] = Command(
            mailbox=self.name,
            verb=verb,
            function=function,
            signature=signature,
            policy=policy,
            tag_parameter=tag,
            template=template,
            confirm=confirm,
            example=example,
        )


class MailApp:
    """A set of mailboxes declared by one module; the loader merges every app it finds."""

    def __init__(self) -> None:
        """Start with no mailboxes and no scheduled jobs."""
        self.mailboxes: dict[str, Mailbox] = {}
        self.jobs: dict[str, ScheduledJob] = {}
        # Set by `builtin_app` for mailcmd's own apps alone.
        self._builtin = False
        self._injected = INJECTED

    def schedule(self, cron: str) -> Callable[[Handler], Handler]:
        """Run the decorated function at the times of a cron expression (`"0 8 * * *"`).

        Times are in the `timezone` setting. The function takes a `ScheduledContext`;
        each slot runs once, on one worker, and a slot missed while no worker ran is
        made up once.
        """
        try:
            trigger: Trigger = Cron(cron)
        except TriggerError as error:
            raise RegistrationError(str(error)) from None
        return self._job(trigger)

    def every(
        self, *, hours: float = 0, minutes: float = 0, seconds: float = 0
    ) -> Callable[[Handler], Handler]:
        """Run the decorated function at a fixed interval, as `schedule` does at cron times."""
        try:
            trigger: Trigger = Every(hours * 3600 + minutes * 60 + seconds)
        except TriggerError as error:
            raise RegistrationError(str(error)) from None
        return self._job(trigger)

    def _job(self, trigger: Trigger) -> Callable[[Handler], Handler]:
        def register(function: Handler) -> Handler:
            name = f"{getattr(function, '__module__', '?')}.{function.__qualname__}"
            parameters = list(inspect.signature(function).parameters.values())
            if len(parameters) != 1 or parameters[0].annotation not in (
                ScheduledContext,
                "ScheduledContext",
            ):
                raise RegistrationError(
                    f"{_place(function)}: a scheduled job takes one parameter, a ScheduledContext"
                )
            if name in self.jobs:
                raise RegistrationError(f"scheduled job {name} declared twice")
            self.jobs[name] = ScheduledJob(name=name, trigger=trigger, function=function)
            return function

        return register

    def mailbox(
        self,
        name: str,
        *,
        help: str = "",
        auth: Auth = "account",
        roles: Iterable[str] = (),
        holds_secrets: bool = False,
    ) -> Mailbox:
        """Declare the mailbox `name` (the local part of its address) and return it.

        With `holds_secrets`, every mail to it loses its text and Subject in the
        queue once processed, whatever became of it: run, refused, ignored as a
        duplicate or automatic mail, or failed for good.
        """
        local = name.strip().lower()
        if not local or not local.replace("-", "").replace(".", "").isalnum() or "+" in local:
            raise RegistrationError(
                f"{name!r} cannot be a mailbox name (letters, digits, '.', '-')"
            )
        if not self._builtin and local in builtin_mailbox_names():
            raise RegistrationError(f"{local!r} cannot be a mailbox name: mailcmd answers it")
        if local in self.mailboxes:
            raise RegistrationError(f"mailbox {local!r} declared twice in one app")
        mailbox = Mailbox(
            name=local,
            help=help,
            policy=Policy(auth=auth, roles=frozenset(roles)),
            holds_secrets=holds_secrets,
            builtin=self._builtin,
            injected=self._injected,
        )
        self.mailboxes[local] = mailbox
        return mailbox


def builtin_app(injected: Mapping[type, str]) -> MailApp:
    """A new app of mailcmd's own: its mailboxes are the reserved names, and its handlers
    may also have the `injected` types injected (what the runner provides them)."""
    app = MailApp()
    app._builtin = True
    app._injected = {**INJECTED, **injected}
    return app


@functools.cache
def builtin_mailbox_names() -> frozenset[str]:
    """The mailboxes mailcmd answers itself (`help@`, `confirm@`): no app may declare them."""
    # Imported on first use, not with this module: the built-in apps are declared
    # with `MailApp`, so they import this module.
    from mailcmd.app.builtin_mailboxes import BUILTIN_APPS

    return frozenset(name for app in BUILTIN_APPS for name in app.mailboxes)


@dataclass(frozen=True)
class Registry:
    """Every mailbox of the loaded apps, frozen: what the receiver and the worker consult."""

    mailboxes: dict[str, Mailbox]
    jobs: dict[str, ScheduledJob] = field(default_factory=dict)

    @classmethod
    def merge(cls, apps: Iterable[tuple[str, MailApp]]) -> "Registry":
        """Merge the apps (each with the place it came from), refusing a mailbox declared twice."""
        merged: dict[str, Mailbox] = {}
        origin: dict[str, str] = {}
        jobs: dict[str, ScheduledJob] = {}
        for place, app in apps:
            jobs.update(app.jobs)
            for name, mailbox in app.mailboxes.items():
                if name in merged:
                    raise RegistrationError(
                        f"mailbox {name!r} declared twice: in {origin[name]} and in {place}"
                    )
                merged[name] = mailbox
                origin[name] = place
        folders: dict[str, AppFolder] = {}
        for mailbox in merged.values():
            mailbox.frozen = True
            for folder in mailbox.folders.values():
                clash = next((f for f in folders if f.lower() == folder.name.lower()), None)
                if clash is not None:
                    raise RegistrationError(
                        f"folder {folder.name!r} declared twice: {folders[clash].place}"
                        f" and {folder.place}"
                    )
                folders[folder.name] = folder
        return cls(mailboxes=merged, jobs=jobs)

    @property
    def app_mailbox_names(self) -> list[str]:
        """The app's own mailboxes, sorted: without mailcmd's (`help@`, `confirm@`)."""
        return sorted(name for name, mailbox in self.mailboxes.items() if not mailbox.builtin)

    @property
    def folders(self) -> list[AppFolder]:
        """Every app folder, by name: parents before their subfolders."""
        found = [
            folder for mailbox in self.mailboxes.values() for folder in mailbox.folders.values()
        ]
        return sorted(found, key=lambda folder: folder.name)

    def find(self, local_part: str) -> Mailbox | None:
        """Return the mailbox for a local part (without its plus-tag), or None."""
        return self.mailboxes.get(local_part.lower())

    def commands(self) -> Iterator[Command]:
        """Every command, by mailbox and verb."""
        for name in sorted(self.mailboxes):
            mailbox = self.mailboxes[name]
            for verb in sorted(mailbox.commands):
                yield mailbox.commands[verb]


def _check_example(
    function: Callable[..., Any], verb: str, signature: CommandSignature, example: str
) -> None:
    """Refuse an example that would not run the command it illustrates."""
    try:
        words = split_words(example)
        if not words or words[0].lower() != verb:
            raise CommandParseError(f"it must start with the verb {verb!r}")
        # Files cannot be written in a subject: an example of a command that takes
        # them shows the words alone, and the files are attached.
        if signature.files is None:
            signature.parse(words[1:])
    except CommandParseError as error:
        raise RegistrationError(f"{_place(function)}: example={example!r}: {error}") from None


def _verb_name(verb: str) -> str:
    return f"verb {verb!r}" if verb else "the default command"


def _place(function: Callable[..., Any]) -> str:
    code = getattr(function, "__code__", None)
    where = f"{code.co_filename}:{code.co_firstlineno}" if code else repr(function)
    return f"{where} {getattr(function, '__qualname__', function)}"
