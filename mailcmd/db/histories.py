"""The schema's two Alembic histories: the framework's, and the app's, each owning its tables."""

import ast
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from mailcmd.app.resources import bundled_path
from mailcmd.db.models import FRAMEWORK_TABLES, TABLE_PLACES
from mailcmd.errors import EXIT_BAD_SETTINGS, MailcmdError

# Existing databases keep the framework's revision in Alembic's default table.
FRAMEWORK_VERSION_TABLE = "alembic_version"
APP_VERSION_TABLE = "alembic_version_app"


class AppSchemaError(MailcmdError):
    """An app's tables and its migrations disagree in a way only the app's author can fix."""

    exit_code = EXIT_BAD_SETTINGS


@dataclass(frozen=True)
class History:
    """One line of revisions: the folder of its files, where the database keeps its place,
    and the tables its models declare."""

    label: str
    versions: Path
    version_table: str
    declared: frozenset[str]
    # What to tell an operator whose database is at a revision this history lacks.
    stranger_hint: str

    def made_tables(self) -> dict[str, Path]:
        """Return the tables this history's revisions create and do not drop again, with
        the file that creates each.

        Read from the files' `op.create_table`/`op.drop_table` calls, so that a table
        whose model is gone is still known to be this history's, and not another's.
        """
        balance: Counter[str] = Counter()
        makers: dict[str, Path] = {}
        for path in sorted(self.versions.glob("*.py")):
            for call, table in _table_calls(path):
                balance[table] += 1 if call == "create_table" else -1
                if call == "create_table":
                    makers[table] = path
        return {table: makers[table] for table, count in balance.items() if count > 0}

    def owned_tables(self) -> frozenset[str]:
        """Return every table this history compares: declared by its models, or made by it."""
        return self.declared | frozenset(self.made_tables())


FRAMEWORK_HISTORY = History(
    label="mailcmd",
    versions=bundled_path("migrations") / "versions",
    version_table=FRAMEWORK_VERSION_TABLE,
    declared=FRAMEWORK_TABLES,
    stranger_hint="a newer mailcmd upgraded this database; run that one",
)


def app_history(commands: Path, migrations: Path) -> History | None:
    """Return the history of the app in `commands` (its modules loaded), or None if it has none.

    An app that declares no table needs no migrations folder; one that does must
    have it, or `AppSchemaError` names the module and the folder to make.
    """
    declared = declared_tables(commands)
    if not migrations.is_dir():
        if not declared:
            return None
        table, place = sorted(declared.items())[0]
        raise AppSchemaError(
            f"{place}: declares table {table!r}, but the app has no migrations folder "
            f"{migrations}: make it, then run `mailcmd db revision -m {table} --autogenerate`"
        )
    return History(
        label=f"app ({migrations})",
        versions=migrations,
        version_table=APP_VERSION_TABLE,
        declared=frozenset(declared),
        stranger_hint="the database belongs to another app, or to a newer version of this"
        " one; give this app a database of its own",
    )


def declared_tables(commands: Path) -> dict[str, str]:
    """Return the tables the loaded modules of the folder `commands` declare, with each file."""
    folder = commands.resolve()
    return {name: place for name, place in TABLE_PLACES.items() if Path(place).parent == folder}


def _table_calls(path: Path) -> list[tuple[str, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    upgrades = [
        node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "upgrade"
    ]
    return [
        (node.func.attr, node.args[0].value)
        for upgrade in upgrades
        for node in ast.walk(upgrade)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("create_table", "drop_table")
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ]
