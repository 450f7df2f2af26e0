"""A small client of Marionette, the remote protocol built into Thunderbird (and Firefox).

Frames are `<length>:<json>`; a command is `[0, id, name, params]` and its answer
`[1, id, error, result]`. Scripts run in the chrome context, where Thunderbird's own
JavaScript APIs are at hand. Written here rather than taken from PyPI's
`marionette-driver`, which pulls in mozrunner, mozprofile and a dozen more packages for
the five commands these tests send.
"""

import json
import socket
from typing import Any

from tests.servers import TIMEOUT

# How long one script may run.
SCRIPT_SECONDS = 3 * TIMEOUT


class MarionetteError(Exception):
    """Marionette answered a command with an error (a script's exception, say)."""


class Marionette:
    """One Marionette session with a running browser or mail client, in its chrome context."""

    def __init__(self, port: int) -> None:
        """Connect to Marionette on 127.0.0.1:`port` and start a session in chrome context."""
        self._sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self._buffer = b""
        self._last_id = 0
        hello = self._receive()
        if not isinstance(hello, dict) or hello.get("marionetteProtocol") != 3:
            raise MarionetteError(f"not a Marionette server: {hello!r}")
        # A backstop: the scripts' own waits are bounded by `TIMEOUT` each and say what
        # they waited for.
        script_timeout = int(SCRIPT_SECONDS * 1000)
        self.command(
            "WebDriver:NewSession",
            {"capabilities": {"alwaysMatch": {"timeouts": {"script": script_timeout}}}},
        )
        self.command("Marionette:SetContext", {"value": "chrome"})

    def command(self, name: str, params: dict[str, Any] | None = None) -> Any:
        """Send the command `name` and return its result; a Marionette error raises."""
        self._last_id += 1
        payload = json.dumps([0, self._last_id, name, params or {}]).encode()
        self._sock.sendall(b"%d:%s" % (len(payload), payload))
        while True:
            answer = self._receive()
            # Answers to commands that timed out on our side may still arrive: skip them.
            if isinstance(answer, list) and answer[1] == self._last_id:
                break
        _, _, error, result = answer
        if error is not None:
            raise MarionetteError(f"{name}: {error.get('error')}: {error.get('message')}")
        return result.get("value") if isinstance(result, dict) else result

    def script(self, body: str, *args: Any) -> Any:
        """Run `body` (a function body, `arguments` holding `args`) and return what it returns.

        The body may `await`; Marionette waits for it up to `SCRIPT_SECONDS`.
        """
        script = f"return (async function () {{\n{body}\n}}).apply(this, arguments);"
        return self.command("WebDriver:ExecuteScript", {"script": script, "args": list(args)})

    def close(self) -> None:
        """Close the connection (the session ends with it)."""
        self._sock.close()

    def _receive(self) -> Any:
        while b":" not in self._buffer:
            self._read()
        length, rest = self._buffer.split(b":", 1)
        size = int(length)
        self._buffer = rest
        while len(self._buffer) < size:
            self._read()
        frame, self._buffer = self._buffer[:size], self._buffer[size:]
        return json.loads(frame)

    def _read(self) -> None:
        chunk = self._sock.recv(65536)
        if not chunk:
            raise MarionetteError("Marionette closed the connection")
        self._buffer += chunk
