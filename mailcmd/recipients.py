"""Which local addresses exist, for the receiver to answer RCPT honestly."""

import asyncio

from sqlalchemy import select

from mailcmd.app import RESERVED_MAILBOXES, Registry
from mailcmd.db.database import Database
from mailcmd.db.models import AccountAddress


class RecipientDirectory:
    """Answers whether a normalised local address can receive mail.

    A mailbox of the app (with or without a plus-tag, `tasks+42@`), the addresses
    mailcmd answers itself (help, confirm), and every address an account owns.
    """

    def __init__(self, database: Database, registry: Registry) -> None:
        """Look addresses up in `registry`, then in `database`."""
        self._database = database
        self._registry = registry

    async def exists(self, address: str) -> bool:
        """Tell whether `address` can receive mail (accounts are looked up off the loop)."""
        local = address.partition("@")[0].partition("+")[0]
        if local in RESERVED_MAILBOXES or self._registry.find(local) is not None:
            return True
        return await asyncio.to_thread(self._account_address_exists, address)

    def _account_address_exists(self, address: str) -> bool:
        with self._database.sessions() as session:
            found = session.scalar(
                select(AccountAddress.id).where(AccountAddress.address == address)
            )
            return found is not None
