"""Which local addresses exist, for the receiver to answer RCPT honestly."""

import asyncio

from sqlalchemy import select

from mailcmd.db.database import Database
from mailcmd.db.models import AccountAddress


class RecipientDirectory:
    """Answers whether a normalised local address can receive mail."""

    def __init__(self, database: Database) -> None:
        """Look addresses up in `database`."""
        self._database = database

    async def exists(self, address: str) -> bool:
        """Tell whether `address` belongs to an account (looked up off the event loop)."""
        return await asyncio.to_thread(self._account_address_exists, address)

    def _account_address_exists(self, address: str) -> bool:
        with self._database.sessions() as session:
            found = session.scalar(
                select(AccountAddress.id).where(AccountAddress.address == address)
            )
            return found is not None
