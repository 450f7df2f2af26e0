"""The Salmon peer as a system under measurement: its virtual environment and its installation.

Salmon runs in a virtual environment of its own, made from the package index the
first time and kept in `bench/.salmon-venv` (git-ignored) for later runs, with
the same SQLAlchemy and Jinja2 versions as mailcmd's, so that the libraries both
use cost the same. Where it cannot be made, the run says why and goes on without
Salmon's rows.
"""

import os
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from bench.installations import EXTERNAL_SENDER, Installation, counting_sink
from bench.processes import ServerProcess, free_port
from bench.report import PEER

SALMON_VERSION = "3.3.0"
NAME = PEER
BENCH = Path(__file__).resolve().parent
VENV = BENCH / ".salmon-venv"
# Written once the environment is complete; it lists what was installed.
READY = VENV / "installed.txt"
INSTALL_SECONDS = 600.0


def requirements() -> list[str]:
    """What the peer's environment holds: Salmon, and mailcmd's SQLAlchemy and Jinja2."""
    return [
        f"salmon-mail=={SALMON_VERSION}",
        f"sqlalchemy=={version('sqlalchemy')}",
        f"jinja2=={version('jinja2')}",
    ]


def salmon_python() -> tuple[Path | None, str | None]:
    """The Python of Salmon's environment, made if need be; or None and why it cannot be."""
    python = VENV / "bin" / "python"
    wanted = "\n".join(requirements())
    if READY.exists() and READY.read_text() == wanted and python.exists():
        return python, None
    shutil.rmtree(VENV, ignore_errors=True)
    steps = [
        ("making the environment", [sys.executable, "-m", "venv", str(VENV)]),
        (
            "installing " + " ".join(requirements()),
            [str(python), "-m", "pip", "install", "--quiet", *requirements()],
        ),
        ("importing Salmon", [str(python), "-c", "import salmon.server, sqlalchemy, jinja2"]),
    ]
    print(f"making Salmon's environment in {VENV}", flush=True)
    for doing, step in steps:
        try:
            subprocess.run(
                step, capture_output=True, text=True, check=True, timeout=INSTALL_SECONDS
            )
        except (OSError, subprocess.SubprocessError) as error:
            output = getattr(error, "stderr", None) or str(error)
            last = " ".join(output.strip().splitlines()[-2:])
            shutil.rmtree(VENV, ignore_errors=True)
            return None, f"{doing} in {VENV} failed: {last}"
    READY.write_text(wanted)
    return python, None


def salmon(folder: Path, python: Path) -> Installation:
    """The Salmon app (`bench.salmon_app`) with its own SQLite file, relaying to a counting sink."""
    state = folder / NAME
    state.mkdir(parents=True, exist_ok=True)
    sink, sink_port, sink_log = counting_sink(folder, NAME)
    port = free_port()
    command = [str(python), "-m", "bench.salmon_app", "--port", str(port)]
    command += ["--relay-port", str(sink_port), "--database", str(state / "tasks.db")]
    # The peer imports only its own package from this folder, nothing of mailcmd's.
    env = dict(os.environ, PYTHONPATH=str(BENCH.parent))
    server = ServerProcess(NAME, command, env, folder / f"{NAME}.log")
    return Installation(
        NAME,
        "end-to-end",
        "sqlite",
        server,
        port,
        port,
        extra=[sink],
        sink_log=sink_log,
        plain_sender=EXTERNAL_SENDER,
    )
