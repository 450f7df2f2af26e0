"""Where mail to a local address goes: one resolver for the receiver (RCPT) and the worker.

An address is a local part, maybe a plus-tag, and the domain: `tasks@` is the app's
mailbox `tasks`; `tasks+42.k7q2mxab3d@` the same mailbox with the signed tag of
object 42 (`tasks+ok-17.KEY@` confirms the commands held as confirmation 17);
`help@` and `confirm+CODE@` are mailcmd's own built-in mailboxes; anything else is an
account's address. The tag of an app's mailbox is honoured only with a valid key for
the one who sends (see `mailcmd.addressing.reply_keys`); a built-in mailbox's tag (`confirm@`'s
is a one-time code of its own) is passed on as written.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from mailcmd.addressing.addresses import mailbox_name
from mailcmd.addressing.confirmation_tags import confirmation_id
from mailcmd.addressing.reply_keys import KeyRefused, ReplyKeys, account_holder, address_holder
from mailcmd.app.context import Sender
from mailcmd.app.registry import Mailbox, Registry


@dataclass(frozen=True)
class Route:
    """What one local address leads to, for one sender."""

    # The local part without its tag: `tasks`, `help`, `confirm`, or an account's.
    name: str
    # The mailbox (an app's, or a built-in one), or None for accounts' addresses.
    mailbox: Mailbox | None
    # The plain tag: checked against its key for an app's mailbox, as written for a
    # built-in one.
    tag: str | None
    # Why the tag does not act for this sender; the mail then runs nothing.
    refused: KeyRefused | None = None
    # The confirmation a good key's tag names (`tasks+ok-17.KEY@`); `tag` is then None.
    confirmation: int | None = None


def holder_of(sender: Sender) -> str:
    """Who a reply key must have been made for to act for `sender`."""
    if sender.account_id is not None:
        return account_holder(sender.account_id)
    return address_holder(sender.address)


class RouteResolver:
    """Splits local addresses and checks their keys against the app's mailboxes."""

    def __init__(self, registry: Registry, keys: Callable[[], ReplyKeys]) -> None:
        """Route to `registry`'s mailboxes, checking tags with the keys `keys` returns now."""
        self._registry = registry
        self._keys = keys

    def keys(self) -> ReplyKeys:
        """The reply keys now (the current secret, and older ones still accepted)."""
        return self._keys()

    def mailbox_of(self, address: str) -> Mailbox | None:
        """Return the mailbox `address` is for, whatever its tag, or None."""
        return self._registry.find(mailbox_name(address))

    def is_served(self, address: str) -> bool:
        """Tell whether mailcmd or the app answers `address` itself (no account owns it)."""
        name = mailbox_name(address)
        return self._registry.find(name) is not None

    def resolve(self, address: str, holder: str, today: date) -> Route:
        """Return where `address` leads for the sender `holder` (see `holder_of`) `today`."""
        local = address.partition("@")[0]
        name, plus, written = local.partition("+")
        name = name.lower()
        mailbox = self._registry.find(name)
        if not plus:
            return Route(name=name, mailbox=mailbox, tag=None)
        if mailbox is None:
            return Route(name=name, mailbox=None, tag=None)
        if mailbox.builtin:
            return Route(name=name, mailbox=mailbox, tag=written)
        checked = self._keys().check(mailbox.name, written, holder, today)
        if isinstance(checked, KeyRefused):
            return Route(name=name, mailbox=mailbox, tag=None, refused=checked)
        confirmation = confirmation_id(checked)
        if confirmation is not None:
            return Route(name=name, mailbox=mailbox, tag=None, confirmation=confirmation)
        return Route(name=name, mailbox=mailbox, tag=checked)


def key_refusal(route: Route, domain: str) -> str:
    """What the sender of a refused reply address is told: the same whatever the tag names."""
    write_to = f"{route.name}@{domain}"
    if route.refused is not None and route.refused.expired:
        return f"this reply address has expired; write to {write_to} again."
    return (
        "this reply address does not act for you (it belongs to a mail sent to someone else,"
        f" or it was changed). Answer a mail you received from {route.name}@, or write to"
        f" {write_to}."
    )
