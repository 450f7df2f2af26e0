"""The loads of a run, and how each system under measurement is sent each load."""

from dataclasses import dataclass, replace
from typing import Literal

from bench.installations import LOGIN, PASSWORD, Installation
from bench.load import LoadSpec

KB = 1024
# End-to-end cells send fewer messages above this size.
LARGE = 16 * KB


@dataclass(frozen=True)
class Load:
    """One cell of the matrix: the connections' security, the message size, the concurrency.

    `plain` connections stay open and send message after message without TLS or
    AUTH; `tls` connections each do STARTTLS (and AUTH on mailcmd), send one message
    and QUIT, the way a client that logs in for every message does.
    """

    security: Literal["plain", "tls"]
    size: int
    concurrency: int

    @property
    def label(self) -> str:
        """A short name: `2KB c=100 plain`."""
        return f"{self.size // KB}KB c={self.concurrency} {self.security}"


@dataclass(frozen=True)
class Budget:
    """How much each cell sends: receive-only cells for a time, end-to-end cells a count."""

    seconds: float
    end_to_end_messages: dict[int, int]


def loads(concurrencies: list[int], sizes: list[int]) -> list[Load]:
    """Every combination, plain before TLS, small before large, few before many."""
    return [
        Load(security, size, concurrency)
        for security in ("plain", "tls")
        for size in sizes
        for concurrency in concurrencies
    ]


def spec_for(
    installation: Installation,
    load: Load,
    budget: Budget,
    tag: str,
    end_to_end: bool | None = None,
) -> LoadSpec:
    """The load generator's instructions for sending `load` to `installation`.

    The floor takes plain mail and STARTTLS on one port and knows no AUTH. mailcmd
    takes unauthenticated plain mail on its MX port only; its commands run for
    logged-in senders, so end-to-end `plain` cells log in once per connection
    (STARTTLS+AUTH, then message after message on the same connection).
    `end_to_end` overrides the installation's kind: a front end without a worker
    of its own takes end-to-end loads for separate worker processes. An
    installation with a `plain_sender` (the Salmon peer, mailcmd replying through
    the relay) takes its end-to-end loads unauthenticated on `plain_port`.
    """
    kind = installation.kind
    if end_to_end is not None:
        kind = "end-to-end" if end_to_end else "receive"
    base = LoadSpec(
        host="127.0.0.1",
        port=installation.plain_port,
        size=load.size,
        connections=load.concurrency,
        processes=1 if load.concurrency < 10 else 2,
        duration=budget.seconds,
        max_seconds=max(4 * budget.seconds, 60.0),
        tag=tag,
    )
    logged_in = replace(
        base,
        port=installation.submission_port,
        security="starttls",
        login=LOGIN,
        password=PASSWORD,
        mail_from=LOGIN,
    )
    if kind == "floor":
        spec = base if load.security == "plain" else replace(base, security="starttls")
    elif kind == "receive":
        spec = base if load.security == "plain" else logged_in
    else:
        spec = logged_in
        if installation.plain_sender is not None:
            spec = replace(base, mail_from=installation.plain_sender)
        count = budget.end_to_end_messages[load.concurrency]
        if load.size > LARGE:
            # Large messages cost the worker several times more each.
            count = max(load.concurrency, count // 3)
        spec = replace(spec, duration=None, messages=count)
    if load.security == "tls":
        spec = replace(spec, per_connection=1)
    return spec


def takes(installation: Installation, load: Load) -> bool:
    """Whether `installation` is sent `load`: one with a `plain_sender` takes plain loads only."""
    return installation.plain_sender is None or load.security == "plain"
