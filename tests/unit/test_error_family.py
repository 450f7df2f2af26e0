"""Every exception mailcmd defines is in the one family, or is a signal named here."""

import importlib
import inspect
import pkgutil

import mailcmd
from mailcmd.errors import EXIT_BAD_SETTINGS, EXIT_REFUSED, MailcmdError

# Signals, not errors: the caller turns each into an answer, so no one reads its text
# and no command ends with it (each class's comment says why).
SIGNALS = {
    "mailcmd.app.context.ConfirmationNeeded",
    "mailcmd.identity.authenticity.resolvers.NotInMemory",
    "mailcmd.identity.authenticity.resolvers.TemporaryDnsError",
    "mailcmd.identity.authenticity.spf._PermError",
    "mailcmd.imap.connection.ConnectionClosed",
    "mailcmd.imap.searching.CharsetError",
    "mailcmd.imap.structure.SectionError",
    "mailcmd.outbound.relay._Broken",
    "mailcmd.outbound.relay._Refused",
    "mailcmd.runtime.handler_threads.HandlerAbandoned",
}


def mailcmd_exceptions() -> dict[str, type[BaseException]]:
    """Every exception class defined in a module of the package, by its dotted name."""
    found: dict[str, type[BaseException]] = {}
    for module_info in pkgutil.walk_packages(mailcmd.__path__, "mailcmd."):
        if module_info.name == "mailcmd.__main__":
            continue  # importing it runs the CLI
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ):
                found[f"{value.__module__}.{name}"] = value
    return found


def test_every_exception_is_in_the_family_or_a_named_signal() -> None:
    exceptions = mailcmd_exceptions()

    outside = {name for name, kind in exceptions.items() if not issubclass(kind, MailcmdError)}

    assert outside == SIGNALS


def test_every_member_carries_an_exit_code_and_says_what_it_means() -> None:
    members = {
        name: kind for name, kind in mailcmd_exceptions().items() if issubclass(kind, MailcmdError)
    }

    assert len(members) > 20
    for name, kind in members.items():
        assert kind.exit_code in (EXIT_REFUSED, EXIT_BAD_SETTINGS), name
        assert vars(kind).get("__doc__"), f"{name} has no docstring of its own"


def test_the_public_command_error_is_in_the_family() -> None:
    assert issubclass(mailcmd.CommandError, MailcmdError)
    assert issubclass(mailcmd.AccountError, MailcmdError)
    assert issubclass(mailcmd.AccountError, ValueError)
