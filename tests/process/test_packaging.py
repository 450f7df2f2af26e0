"""A built wheel works on its own: the CLI, bundled folders and migrations, from an empty folder."""

import os
import smtplib
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import TIMEOUT, clean_environment, serve_process

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class InstalledWheel:
    """A wheel of this checkout, unpacked as pip installs it, outside the source tree."""

    wheel: Path
    site: Path

    def run(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        """Run the installed console script in `cwd`, with nothing from the checkout in reach."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("MAILCMD_")}
        env["PYTHONPATH"] = str(self.site)
        return subprocess.run(
            [str(self.site / "bin" / "mailcmd"), *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> InstalledWheel:
    """The wheel built from this checkout and installed (without dependencies) into a folder."""
    out = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(ROOT)],
        check=True,
        timeout=300,
    )
    [wheel] = out.glob("mailcmd-*.whl")
    site = out / "site"
    subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True, timeout=300
    )
    return InstalledWheel(wheel=wheel, site=site)


def test_wheel_carries_the_bundled_folders_inside_the_package(installed: InstalledWheel) -> None:
    names = zipfile.ZipFile(installed.wheel).namelist()

    assert "mailcmd/py.typed" in names
    assert "mailcmd/_bundled/migrations/env.py" in names
    assert any(name.startswith("mailcmd/_bundled/migrations/versions/") for name in names)
    assert "mailcmd/_bundled/commands/README.md" in names
    assert "mailcmd/_bundled/templates/README.md" in names
    assert "mailcmd/operations/deploy/mailcmd.service" in names
    assert "mailcmd/operations/deploy/mailcmd-worker@.service" in names
    assert not [name for name in names if name.split("/")[0] in ("commands", "migrations")]


def test_help_and_db_upgrade_work_from_an_empty_folder(
    installed: InstalledWheel, tmp_path: Path
) -> None:
    help_result = installed.run("--help", cwd=tmp_path)
    upgrade = installed.run("db", "upgrade", cwd=tmp_path)
    shown = installed.run("config", "show", cwd=tmp_path)

    assert help_result.returncode == 0, help_result.stderr
    assert "users" in help_result.stdout
    assert upgrade.returncode == 0, upgrade.stderr
    assert upgrade.stdout.endswith("(head)\n")
    assert (tmp_path / ".mailcmd" / "mailcmd.db").is_file()
    assert str(installed.site / "mailcmd" / "_bundled" / "commands") in shown.stdout


def test_new_writes_the_scaffold_from_the_wheel_without_its_bytecode(
    installed: InstalledWheel, tmp_path: Path
) -> None:
    names = zipfile.ZipFile(installed.wheel).namelist()

    result = installed.run("new", "app", cwd=tmp_path)

    assert "mailcmd/app/scaffold/commands/journal.py" in names
    assert result.returncode == 0, result.stderr
    made = sorted(path.relative_to(tmp_path / "app") for path in (tmp_path / "app").rglob("*"))
    assert [str(path) for path in made if path.suffix == ".pyc"] == []
    assert Path("commands/journal.py") in made
    [revision] = [path for path in made if path.parent == Path("migrations")]
    assert revision.name.endswith("_journal_entries.py")


def test_serve_works_from_an_empty_folder(installed: InstalledWheel, tmp_path: Path) -> None:
    env = clean_environment(PYTHONPATH=str(installed.site))
    command = [str(installed.site / "bin" / "mailcmd"), "serve"]

    with serve_process(command, cwd=tmp_path, env=env) as served:
        with smtplib.SMTP("127.0.0.1", served.port("submission"), timeout=TIMEOUT) as client:
            assert client.ehlo("client.test")[0] == 250
        assert served.stop() == 0

    assert (tmp_path / ".mailcmd" / "mailcmd.db").is_file()
    assert (tmp_path / ".mailcmd" / "tls" / "dev-cert.pem").is_file()


def test_python_dash_m_runs_the_same_cli(installed: InstalledWheel, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mailcmd", "--help"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(installed.site)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: mailcmd [OPTIONS] COMMAND")


def test_bundled_commands_are_not_a_top_level_package(
    installed: InstalledWheel, tmp_path: Path
) -> None:
    result = subprocess.run(
        # -S leaves out site-packages, where a development checkout may be linked in.
        [sys.executable, "-S", "-c", "import mailcmd.app.resources\nimport commands"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(installed.site)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert "No module named 'commands'" in result.stderr
