"""The public API: what `mailcmd` exports, that apps import only that, and app tables on it."""

import ast
import inspect
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

import mailcmd
from mailcmd.identity.accounts import delete_account
from mailcmd.testing import MailTestClient
from tests.conftest import ALICE

ROOT = Path(__file__).resolve().parents[2]
# The code an app author copies from: the bundled apps, the README's tested examples,
# the app `mailcmd new` writes and the test apps (not their migrations, which are
# Alembic's files, nor the scaffold's conftest.py, which needs nothing of mailcmd).
APP_FILES = sorted(
    path
    for path in [
        *(ROOT / "commands").glob("*.py"),
        *(ROOT / "tests" / "examples").rglob("*.py"),
        *(ROOT / "mailcmd" / "scaffold").rglob("*.py"),
        *(ROOT / "tests" / "apps").rglob("*.py"),
    ]
    if "migrations" not in path.parts and path.name != "conftest.py"
)
README_SNIPPETS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)


def mailcmd_imports(source: str) -> Iterator[tuple[str, str]]:
    """Each (module, name) the source imports from mailcmd or a module below it."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "mailcmd":
            for alias in node.names:
                yield str(node.module), alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "mailcmd":
                    yield alias.name, ""


def test_every_public_name_is_importable_and_documented() -> None:
    for name in mailcmd.__all__:
        exported = getattr(mailcmd, name)
        # Its own docstring, not one inherited from a base class.
        doc = vars(exported).get("__doc__") if inspect.isclass(exported) else exported.__doc__

        assert (doc or "").strip(), f"mailcmd.{name} has no docstring"


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Base'"):
        _ = mailcmd.Base


def test_importing_mailcmd_loads_neither_the_database_layer_nor_the_server() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, mailcmd; print(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()

    assert not {"sqlalchemy", "aiosmtpd", "mailcmd.testing"} & set(loaded)


@pytest.mark.parametrize("path", APP_FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_app_files_import_only_the_public_api(path: Path) -> None:
    imports = list(mailcmd_imports(path.read_text()))

    assert imports, f"{path} imports nothing from mailcmd"
    assert [(module, name) for module, name in imports if module != "mailcmd"] == []
    assert {name for _, name in imports} <= set(mailcmd.__all__)


def test_readme_snippets_import_only_the_public_api() -> None:
    imports = [found for snippet in README_SNIPPETS for found in mailcmd_imports(snippet)]

    assert imports
    assert [(module, name) for module, name in imports if module != "mailcmd"] == []


def test_an_app_table_belongs_to_an_account_through_a_foreign_key(mail: MailTestClient) -> None:
    # The bundled tasks app is such an app: its Task rows point at accounts.id.
    mail.send("tasks@app.localhost", "add Buy milk")
    with mail.database.writing() as session:
        owner = session.execute(
            text("SELECT accounts.login FROM tasks JOIN accounts ON accounts.id = tasks.owner_id")
        ).scalar_one()
        delete_account(session, ALICE)
        session.commit()
    with mail.database.writing() as session:
        left = session.execute(text("SELECT count(*) FROM tasks")).scalar_one()

    assert owner == ALICE
    # ON DELETE CASCADE holds on both engines (SQLite enforces it only when asked to).
    assert left == 0


def test_app_models_subclass_model(mail: MailTestClient) -> None:
    tables = {model.__tablename__ for model in mailcmd.Model.__subclasses__()}

    assert {"tasks", "task_comments", "task_attachments", "task_shares"} <= tables
