"""The receiver parses MAIL and RCPT addresses exactly as aiosmtpd does, only faster."""

import asyncio
import random

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
    " <Alice.B+tag@App.Localhost>  ",
    "<alice@app.localhost>SIZE=1",
    "<alice@app.localhost> SIZE=1 ",
    "<alice@app.localhost> (comment) SIZE=1",
    "<alice@app.localhost>\t(comment)",
    "<alice@app.localhost>(comment)",
    "<a..b@app.localhost>",
    "<.a@app.localhost>",
    "<a@app..localhost>",
    "<a@-app.localhost>",
    "<a@[127.0.0.1]>",
    "<jörg@app.localhost>",
    "< alice@app.localhost>",
    "<alice@app.localhost >",
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


async def test_address_parsing_matches_aiosmtpd_on_random_arguments() -> None:
    # The fast path must agree with the parser on everything, near misses included.
    loop = asyncio.get_running_loop()
    ours = ReceiverProtocol(NoHooks(), ConnectionCounter(1), hostname="h", loop=loop)
    engines = SMTP(NoHooks(), hostname="h", loop=loop)
    for protocol in (ours, engines):
        protocol.local_part_limit = 64
    pieces = [*'ab.@<> \t(-_+="[]:;,Z1)Ä', "SIZE=1", "a@b", "x.y", "<a@b.c>", "(c)", " ("]
    generator = random.Random(5321)  # noqa: S311 - reproducible test input, not secrets
    for _ in range(20_000):
        argument = "".join(generator.choices(pieces, k=generator.randint(1, 10)))
        argument = generator.choice(["", "<", "<a@b.c>"]) + argument

        assert _outcome(ours, argument) == _outcome(engines, argument), argument


def _outcome(protocol: SMTP, argument: str) -> object:
    # The stdlib's parser raises on some garbage; then both must raise alike.
    try:
        return protocol._getaddr(argument)
    except Exception as error:
        return type(error)
