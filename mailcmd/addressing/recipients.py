"""Which local addresses exist, for the receiver to answer RCPT honestly."""

import asyncio
from datetime import date

from sqlalchemy import select

from mailcmd.addressing.reply_keys import KeyRefused, account_holder
from mailcmd.addressing.routes import RouteResolver
from mailcmd.db.database import Database
from mailcmd.db.models import AccountAddress


class RecipientDirectory:
    """Answers whether a normalised local address can receive mail, and from whom.

    A mailbox of the app (with or without a plus-tag, `tasks+42.KEY@`), the
    addresses mailcmd answers itself (help, confirm), and every address an account
    owns.
    """

    def __init__(self, database: Database, routes: RouteResolver) -> None:
        """Look addresses up with `routes`, then in `database`."""
        self._database = database
        self._routes = routes

    async def exists(self, address: str) -> bool:
        """Tell whether `address` can receive mail (accounts are looked up off the loop)."""
        if self._routes.is_served(address):
            return True
        return await asyncio.to_thread(self._account_address_exists, address)

    def refusal(self, address: str, account_id: int) -> KeyRefused | None:
        """Why `address` carries a reply key that does not act for the account, or None."""
        return self._routes.resolve(address, account_holder(account_id), date.today()).refused

    def _account_address_exists(self, address: str) -> bool:
        with self._database.sessions() as session:
            found = session.scalar(
                select(AccountAddress.id).where(AccountAddress.address == address)
            )
            return found is not None
