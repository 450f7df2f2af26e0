"""An asyncio SMTP load generator: N connections, each sending messages until a count or a time.

Each process runs its share of the connections on one event loop; `generate` spreads
a load over several processes so that the generator is not what limits the server.
Every network wait is bounded by the load's `timeout`, and every loop by its
deadline, so a dead or wedged server ends a run with errors, never a hang.
"""

import argparse
import asyncio
import base64
import json
import os
import resource
import ssl
import sys
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Literal

Security = Literal["plain", "starttls", "tls"]

# How many error messages a process keeps as examples.
ERROR_SAMPLES = 5
# A process stops opening connections after this many failures in a row.
MAX_FAILURES_IN_A_ROW = 50
LINE = b"The quick brown fox jumps over the lazy dog, and the load goes on and on.\r\n"


@dataclass(frozen=True)
class LoadSpec:
    """One load: where to send, how, how much, and for how long at most."""

    host: str
    port: int
    security: Security = "plain"
    # AUTH PLAIN after EHLO (and after STARTTLS) when a login is given.
    login: str | None = None
    password: str | None = None
    mail_from: str = "load@bench.example"
    rcpt_to: str = "tasks@app.localhost"
    size: int = 2048
    connections: int = 1
    # Stop after this many messages in all, or once `duration` seconds have passed.
    messages: int | None = None
    duration: float | None = None
    # Messages per connection before QUIT and a new connection; 0 keeps one connection.
    per_connection: int = 0
    processes: int = 1
    # Seconds any one reply may take, and the hard limit for the whole load.
    timeout: float = 15.0
    max_seconds: float = 120.0
    # Unique per load: goes into every Message-ID and subject.
    tag: str = "bench"


@dataclass
class LoadResult:
    """What one load (or one process's share of it) achieved."""

    # Per accepted message: seconds from the end of DATA to the 250.
    latencies: list[float] = field(default_factory=list)
    # Per accepted message: wall-clock time (time.time()) of the end of DATA, and its Message-ID.
    data_ends: list[float] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)
    # Per connection: seconds from connecting to being ready to send (greeting, TLS, AUTH).
    setups: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    # time.monotonic() of the first connection attempt and of the last reply (system-wide clock).
    started: float = 0.0
    finished: float = 0.0
    # time.time() of the first connection attempt, to compare with the server's timestamps.
    started_at: float = 0.0

    @property
    def accepted(self) -> int:
        """How many messages got a 250."""
        return len(self.latencies)

    @property
    def rate(self) -> float:
        """Accepted messages per second over the whole load."""
        elapsed = self.finished - self.started
        return self.accepted / elapsed if elapsed > 0 else 0.0

    def merge(self, other: "LoadResult") -> None:
        """Add `other`'s figures to these (the span covers both)."""
        self.latencies += other.latencies
        self.data_ends += other.data_ends
        self.message_ids += other.message_ids
        self.setups += other.setups
        self.errors += other.errors
        self.error_samples += other.error_samples[: ERROR_SAMPLES - len(self.error_samples)]
        self.started = min(self.started, other.started) if self.started else other.started
        self.started_at = (
            min(self.started_at, other.started_at) if self.started_at else other.started_at
        )
        self.finished = max(self.finished, other.finished)


class SmtpError(Exception):
    """The server answered with something other than what the step needs."""


def client_tls_context() -> ssl.SSLContext:
    """A TLS context that trusts any certificate: the load measures speed, not trust."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def message_bytes(spec: LoadSpec, number: str) -> tuple[bytes, str]:
    """Return the DATA of message `number` (dot-stuffed, ending in CRLF.CRLF) and its Message-ID."""
    message_id = f"<{spec.tag}.{number}@bench.example>"
    head = (
        f"From: {spec.mail_from}\r\nTo: {spec.rcpt_to}\r\n"
        f"Subject: add Load {spec.tag} {number}\r\nMessage-ID: {message_id}\r\n"
        "Date: Tue, 01 Dec 2026 12:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
    ).encode()
    lines = max(1, (spec.size - len(head)) // len(LINE))
    return head + LINE * lines + b".\r\n", message_id


async def _reply(reader: asyncio.StreamReader, expected: bytes) -> bytes:
    while True:
        line = await reader.readline()
        if not line:
            raise SmtpError("connection closed by the server")
        if line[3:4] != b"-":
            if not line.startswith(expected):
                raise SmtpError(line.decode(errors="replace").strip())
            return line


class _Share:
    """One process's part of a load: its connections, its messages, its figures."""

    def __init__(self, spec: LoadSpec, process: int, messages: int | None) -> None:
        self.spec = spec
        self.process = process
        self.remaining = messages
        self.sent = 0
        self.result = LoadResult()
        self.deadline = 0.0
        self.tls = client_tls_context()
        self.failures_in_a_row = 0

    def take(self) -> str | None:
        """Return the number of the next message to send, or None when the share is done."""
        if time.monotonic() >= self.deadline or self.failures_in_a_row >= MAX_FAILURES_IN_A_ROW:
            return None
        if self.remaining is not None:
            if self.remaining <= 0:
                return None
            self.remaining -= 1
        self.sent += 1
        return f"{self.process}.{self.sent}"

    def fail(self, error: BaseException) -> None:
        self.result.errors += 1
        self.failures_in_a_row += 1
        if len(self.result.error_samples) < ERROR_SAMPLES:
            self.result.error_samples.append(f"{type(error).__name__}: {error}")


async def _connection(share: _Share) -> None:
    spec = share.spec
    # Taken before connecting, so that no connection opens for nothing.
    number = share.take()
    while number is not None:
        writer: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(spec.timeout):
                began = time.perf_counter()
                reader, writer = await asyncio.open_connection(
                    spec.host,
                    spec.port,
                    ssl=share.tls if spec.security == "tls" else None,
                    server_hostname="localhost" if spec.security == "tls" else None,
                )
                await _reply(reader, b"220")
                writer.write(b"EHLO load.bench.example\r\n")
                await _reply(reader, b"250")
                if spec.security == "starttls":
                    writer.write(b"STARTTLS\r\n")
                    await _reply(reader, b"220")
                    await writer.start_tls(share.tls, server_hostname="localhost")
                    writer.write(b"EHLO load.bench.example\r\n")
                    await _reply(reader, b"250")
                if spec.login is not None:
                    blob = f"\0{spec.login}\0{spec.password or ''}".encode()
                    writer.write(b"AUTH PLAIN " + base64.b64encode(blob) + b"\r\n")
                    await _reply(reader, b"235")
                share.result.setups.append(time.perf_counter() - began)
            sent_here = 0
            while number is not None:
                data, message_id = message_bytes(spec, number)
                async with asyncio.timeout(spec.timeout):
                    writer.write(
                        f"MAIL FROM:<{spec.mail_from}>\r\n".encode()
                        + f"RCPT TO:<{spec.rcpt_to}>\r\n".encode()
                        + b"DATA\r\n"
                    )
                    await _reply(reader, b"250")
                    await _reply(reader, b"250")
                    await _reply(reader, b"354")
                    writer.write(data)
                    await writer.drain()
                    data_end, wall = time.perf_counter(), time.time()
                    await _reply(reader, b"250")
                    latency = time.perf_counter() - data_end
                result = share.result
                result.latencies.append(latency)
                result.data_ends.append(wall)
                result.message_ids.append(message_id)
                result.finished = time.monotonic()
                share.failures_in_a_row = 0
                sent_here += 1
                number = share.take()
                if spec.per_connection and sent_here >= spec.per_connection:
                    break
            async with asyncio.timeout(spec.timeout):
                writer.write(b"QUIT\r\n")
                await _reply(reader, b"221")
        except (OSError, TimeoutError, SmtpError, ssl.SSLError) as error:
            share.fail(error)
            number = share.take()
            # A refusing server is not hammered in a tight loop.
            await asyncio.sleep(0.01)
        finally:
            if writer is not None:
                writer.close()
                try:
                    async with asyncio.timeout(1.0):
                        await writer.wait_closed()
                except (OSError, TimeoutError, ssl.SSLError):
                    pass


async def _run_share(share: _Share) -> LoadResult:
    spec = share.spec
    share.result.started = time.monotonic()
    share.result.started_at = time.time()
    limit = spec.duration if spec.duration is not None else spec.max_seconds
    share.deadline = share.result.started + min(limit, spec.max_seconds)
    connections = _split(spec.connections, spec.processes)[share.process]
    tasks = [asyncio.create_task(_connection(share)) for _ in range(connections)]
    # Each connection is bounded itself; this bounds the whole, should one wedge.
    _, pending = await asyncio.wait(tasks, timeout=spec.max_seconds + 2 * spec.timeout)
    for task in pending:
        task.cancel()
        share.fail(TimeoutError("connection still busy at the hard limit"))
    if not share.result.finished:
        share.result.finished = time.monotonic()
    return share.result


def run_share(spec: LoadSpec, process: int) -> LoadResult:
    """Run process number `process`'s share of `spec` on a new event loop; return its figures."""
    raise_file_limit()
    messages = None
    if spec.messages is not None:
        messages = _split(spec.messages, spec.processes)[process]
    return asyncio.run(_run_share(_Share(spec, process, messages)))


def generate(spec: LoadSpec, pool: Executor | None = None) -> LoadResult:
    """Run `spec` in `spec.processes` processes (from `pool`, or new ones); merge the figures."""
    if spec.processes == 1 and pool is None:
        return run_share(spec, 0)
    owned = pool is None
    executor = pool or ProcessPoolExecutor(spec.processes)
    try:
        futures = [executor.submit(run_share, spec, index) for index in range(spec.processes)]
        merged = LoadResult()
        for future in futures:
            merged.merge(future.result(timeout=spec.max_seconds + 4 * spec.timeout))
        return merged
    finally:
        if owned:
            executor.shutdown()


def raise_file_limit() -> int:
    """Raise this process's open-file limit to its hard limit; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if index < total % parts else 0) for index in range(parts)]


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.load`: send one load and print its figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--security", choices=["plain", "starttls", "tls"], default="plain")
    parser.add_argument("--login")
    parser.add_argument("--password", default=os.environ.get("BENCH_PASSWORD"))
    parser.add_argument("--mail-from", default="load@bench.example")
    parser.add_argument("--rcpt-to", default="tasks@app.localhost")
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--messages", type=int)
    parser.add_argument("--duration", type=float)
    parser.add_argument("--per-connection", type=int, default=0)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=15.0)
    arguments = parser.parse_args(argv)
    if arguments.messages is None and arguments.duration is None:
        arguments.duration = 5.0
    spec = LoadSpec(
        host=arguments.host,
        port=arguments.port,
        security=arguments.security,
        login=arguments.login,
        password=arguments.password,
        mail_from=arguments.mail_from,
        rcpt_to=arguments.rcpt_to,
        size=arguments.size,
        connections=arguments.connections,
        messages=arguments.messages,
        duration=arguments.duration,
        per_connection=arguments.per_connection,
        processes=arguments.processes,
        timeout=arguments.timeout,
        tag=f"cli{os.getpid()}",
    )
    result = generate(spec)
    summary = asdict(result)
    for bulky in ("latencies", "data_ends", "message_ids", "setups"):
        summary.pop(bulky)
    summary["accepted"] = result.accepted
    summary["messages_per_second"] = round(result.rate, 1)
    json.dump(summary, sys.stdout, indent=2)
    print()
    return 0 if result.errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
