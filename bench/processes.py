"""Server processes under measurement: started, watched through /proc, and stopped by pid."""

import os
import queue
import random
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

# How long a server may take to say it is ready, and to exit once told to.
START_SECONDS = 60.0
STOP_SECONDS = 20.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """Return the user and system CPU seconds process `pid` has used, all its threads together."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    # After the command name: state is field 3, utime field 14 and stime field 15.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_bytes(pid: int) -> tuple[int, int]:
    """Return process `pid`'s resident set size now and its peak (VmRSS, VmHWM), in bytes."""
    found = {"VmRSS": 0, "VmHWM": 0}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in found:
            found[name] = int(value.split()[0]) * 1024
    return found["VmRSS"], found["VmHWM"]


def reset_peak_memory(pid: int) -> bool:
    """Start counting process `pid`'s peak RSS afresh; False where the kernel does not allow it."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@dataclass
class ServerProcess:
    """One server the runner started: its command, its pid, and what it printed."""

    name: str
    command: list[str]
    env: dict[str, str]
    log_path: Path
    lines: list[str] = field(default_factory=list)
    process: subprocess.Popen[str] | None = None
    _log: IO[str] | None = None

    @property
    def pid(self) -> int:
        """The pid of the running process."""
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        """Start the process and wait (bounded) until it prints a line ending in `ready`."""
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            self.command,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        received: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_read_lines, args=(self.process, received), daemon=True).start()
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                line = received.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                self.stop()
                raise RuntimeError(f"{self.name} did not get ready: {self.lines}") from None
            if line is None:
                self.stop()
                raise RuntimeError(f"{self.name} exited early; see {self.log_path}")
            self.lines.append(line)
            if line.endswith("ready"):
                return

    def cpu_seconds(self) -> float:
        """CPU seconds the process has used so far."""
        return cpu_seconds(self.pid)

    def memory(self) -> tuple[int, int]:
        """RSS now and its peak, in bytes."""
        return memory_bytes(self.pid)

    def stop(self) -> int | None:
        """Ask the process to stop with SIGTERM, kill it if it will not; return its exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_SECONDS)
        if self.process.stdout is not None:
            self.process.stdout.close()
        if self._log is not None:
            self._log.close()
        return self.process.returncode


def _read_lines(process: subprocess.Popen[str], received: "queue.Queue[str | None]") -> None:
    # Reads on after `ready` too, so that a full pipe never blocks the server.
    assert process.stdout is not None
    for line in process.stdout:
        received.put(line.rstrip("\n"))
    received.put(None)


# The runner gives each server its ports before starting it, since its load specs
# name them; they lie below the kernel's usual ephemeral range (32768 and up),
# where the client sockets of this and other processes never land between the
# moment a port is found free and the moment a server binds it.
BENCH_PORTS = range(20000, 32768)
# Each process walks the range in an order of its own and never hands a port out
# twice, so that two servers of one run cannot be given the same port.
_port_order = random.sample(BENCH_PORTS, len(BENCH_PORTS))
_port_lock = threading.Lock()


def free_port() -> int:
    """Return a loopback TCP port that is free now, outside the ephemeral range.

    No port is returned twice by one process.
    """
    with _port_lock:
        while _port_order:
            port = _port_order.pop()
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError(f"every port in {BENCH_PORTS} was handed out or busy")
