"""The receiver parses MAIL and RCPT addresses exactly as aiosmtpd does, only faster."""

import asyncio

import pytest
from aiosmtpd.smtp import SMTP

from mailcmd.smtp.protocol import ConnectionCounter, ReceiverProtocol

ARGUMENTS = [
    "<alice@app.localhost>",
    "alice@app.localhost",
    "<alice@app.localhost> SIZE=2048 BODY=8BITMIME",
    "<>",
    "",
    "<alice@app.localhost",
    '<"two words"@app.localhost>',
    "<@relay.example:alice@app.localhost>",
    "not an address",
    "<" + "x" * 70 + "@app.localhost>",
]


class NoHooks:
    """A handler without hooks: only the protocol's own parsing is exercised."""


@pytest.mark.parametrize("argument", ARGUMENTS)
async def test_address_parsing_matches_aiosmtpd(argument: str) -> None:
    loop = asyncio.get_running_loop()
    ours = ReceiverProtocol(NoHooks(), ConnectionCounter(1), hostname="h", loop=loop)
    engines = SMTP(NoHooks(), hostname="h", loop=loop)
    for protocol in (ours, engines):
        protocol.local_part_limit = 64

    assert ours._getaddr(argument) == engines._getaddr(argument)
