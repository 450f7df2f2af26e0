"""IDLE (RFC 2177): news of the selected folder pushed while the client waits."""

import asyncio
import contextlib

from mailcmd.imap.responses import BYE_TIMEOUT, ImapResponses
from mailcmd.imap.session import SENT, Done, Session, State
from mailcmd.imap.tokens import Token


async def idle(session: Session, tag: str, args: list[Token], uid: bool) -> Done:
    """IDLE until the client says DONE; changes are announced as they happen.

    A change made in this process wakes the session at once; otherwise it looks
    every `check_seconds`. After `idle_timeout` the session ends.
    """
    settings = session.context.settings
    changed = session.changed
    assert changed is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.idle_timeout
    await session.connection.write(b"+ idling\r\n")
    reading = asyncio.ensure_future(session.connection.read_line())
    try:
        while True:
            changed.clear()
            await session.catch_up()
            remaining = deadline - loop.time()
            if remaining <= 0:
                await session.connection.respond(BYE_TIMEOUT)
                session.state = State.LOGOUT
                return SENT
            waiting = asyncio.ensure_future(changed.wait())
            try:
                done, _ = await asyncio.wait(
                    {reading, waiting},
                    timeout=min(settings.check_seconds, remaining),
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                waiting.cancel()
            if reading in done:
                line = reading.result()
                return (
                    ImapResponses.IDLE_DONE
                    if line.strip().upper() == b"DONE"
                    else ImapResponses.IDLE_BAD
                )
    finally:
        if not reading.done():
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reading
