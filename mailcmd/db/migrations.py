"""Schema migrations with Alembic, configured in code: upgrade, inspect, check, new revisions.

Every operation takes the `History` it works on: the framework's (the default) or
the app's. Each keeps its place in its own version table and compares only its
own tables, so that neither ever writes a change to the other's.
"""

import contextlib
import io
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.operations import ops
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, inspect
from sqlalchemy.types import TypeDecorator

from mailcmd.app.resources import bundled_path
from mailcmd.db.engine import IMMEDIATE_OPTION, database_url, is_sqlite
from mailcmd.db.histories import FRAMEWORK_HISTORY, AppSchemaError, History
from mailcmd.db.models import TABLE_PLACES, Base
from mailcmd.errors import MailcmdError


class SchemaBehindError(MailcmdError):
    """The database's schema is older than this mailcmd's; `mailcmd db upgrade` fixes it."""


class MigrationError(MailcmdError):
    """Alembic cannot do what was asked (an unknown revision, a database not at head)."""


def alembic_config(engine: Engine | None, history: History = FRAMEWORK_HISTORY) -> Config:
    """Return an Alembic configuration for `history`, on `engine` when one is given."""
    # Alembic narrates to stdout; mailcmd's commands say what happened themselves.
    config = Config(stdout=io.StringIO())
    config.set_main_option("script_location", str(bundled_path("migrations")))
    # The histories share one environment (env.py) and differ in where their files are.
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(history.versions))
    config.attributes["history"] = history
    if engine is not None:
        # Alembic's configuration is an INI parser, where '%' starts an interpolation.
        url = database_url(engine.url.render_as_string(hide_password=False))
        config.set_main_option(
            "sqlalchemy.url", url.render_as_string(hide_password=False).replace("%", "%%")
        )
        config.attributes["engine"] = engine
    ruff = shutil.which("ruff")
    if ruff is not None:
        # New revisions come out formatted the way the rest of the code is.
        config.set_section_option("post_write_hooks", "hooks", "ruff_format, ruff_fix")
        for hook, options in (
            ("ruff_format", "format --quiet"),
            ("ruff_fix", "check --fix --quiet"),
        ):
            config.set_section_option("post_write_hooks", f"{hook}.type", "exec")
            config.set_section_option("post_write_hooks", f"{hook}.executable", ruff)
            config.set_section_option(
                "post_write_hooks", f"{hook}.options", f"{options} REVISION_SCRIPT_FILENAME"
            )
    return config


def configure_context(context: Any) -> None:
    """Run the migration the Alembic `context` asks for; called by `migrations/env.py`."""
    engine: Engine = context.config.attributes["engine"]
    history: History = context.config.attributes["history"]
    # The version is read, then written: on SQLite the write lock is taken first, and
    # every step runs in that one transaction (Alembic would commit each on its own,
    # SQLite's DDL being taken as not transactional), so that processes started
    # together upgrade one after the other, the later ones finding nothing to do.
    writer = engine.execution_options(**{IMMEDIATE_OPTION: True})
    with writer.connect() as connection:
        connection.begin()
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            version_table=history.version_table,
            process_revision_directives=lambda context, revision, directives: (
                _refuse_dropped_tables(history, directives)
            ),
            render_as_batch=is_sqlite(engine.url),
            render_item=_render_item,
            **_comparison(history),
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


def _comparison(history: History) -> dict[str, Any]:
    # What autogenerate and `pending_changes` compare alike: `history`'s own tables,
    # with their types and server defaults.
    owned = history.owned_tables()
    return {
        "compare_type": True,
        "compare_server_default": True,
        "include_name": lambda name, kind, parents: kind != "table" or name in owned,
        "include_object": lambda item, name, kind, reflected, other: (
            _table_name(item, kind) in owned
        ),
    }


def _table_name(item: Any, kind: str) -> str | None:
    if kind == "table":
        return str(item.name)
    table = getattr(item, "table", None)
    return None if table is None else str(table.name)


def _refuse_dropped_tables(history: History, directives: list[Any]) -> None:
    # A dropped table is data lost: autogenerate never writes one, its author does.
    for directive in directives:
        upgrade_ops = getattr(directive, "upgrade_ops", None)
        for op in upgrade_ops.ops if upgrade_ops is not None else ():
            if isinstance(op, ops.DropTableOp):
                maker = history.made_tables().get(op.table_name, history.versions)
                raise AppSchemaError(
                    f"{maker}: autogenerate would drop table {op.table_name!r}, which no "
                    "model declares any more: write the drop into a revision yourself "
                    "(`mailcmd db revision -m MESSAGE` without --autogenerate)"
                )


def _render_item(kind: str, item: Any, autogen_context: Any) -> str | Literal[False]:
    # Migrations spell out the stored type, so they never import mailcmd's own types
    # and keep working when those change.
    if kind == "type" and isinstance(item, TypeDecorator):
        return f"sa.{item.impl_instance!r}"
    return False


def upgrade(engine: Engine, revision: str = "head", history: History = FRAMEWORK_HISTORY) -> None:
    """Bring `history`'s part of `engine`'s database up to `revision`."""
    _run(engine, history, command.upgrade, revision)


def downgrade(engine: Engine, revision: str, history: History = FRAMEWORK_HISTORY) -> None:
    """Take `history`'s part of the database back to `revision` (`base`: none of its tables)."""
    _run(engine, history, command.downgrade, revision)


def _run(engine: Engine, history: History, step: Any, revision: str) -> None:
    _refuse_unknown_place(engine, history)
    try:
        step(alembic_config(engine, history), revision)
    except CommandError as error:
        raise MigrationError(" ".join(str(error).split())) from None


def _refuse_unknown_place(engine: Engine, history: History) -> None:
    # Alembic would say only that it cannot locate the revision; the likely cause is an
    # app's database used for another app, and the operator should hear that.
    with engine.connect() as connection:
        current = current_revision(connection, history)
    script = ScriptDirectory.from_config(alembic_config(None, history))
    if current is not None and current not in {rev.revision for rev in script.walk_revisions()}:
        raise MigrationError(
            f"the {history.label} schema is at {current}, a revision {history.versions} "
            f"does not hold: {history.stranger_hint}"
        )


def head_revision(history: History = FRAMEWORK_HISTORY) -> str | None:
    """Return the newest revision of `history`, or None while it has none."""
    return ScriptDirectory.from_config(alembic_config(None, history)).get_current_head()


def current_revision(connection: Connection, history: History = FRAMEWORK_HISTORY) -> str | None:
    """Return the revision `history` is at in the database, or None if it never ran there."""
    context = MigrationContext.configure(connection, opts={"version_table": history.version_table})
    return context.get_current_revision()


def ensure_current(engine: Engine, history: History = FRAMEWORK_HISTORY) -> None:
    """Refuse a database where `history` is not at head, naming the command that fixes it."""
    _refuse_unknown_place(engine, history)
    with engine.connect() as connection:
        current = current_revision(connection, history)
    head = head_revision(history)
    if current != head:
        raise SchemaBehindError(
            f"the {history.label} schema is at {current or 'nothing (empty database)'}, "
            f"not at its head {head}: run `mailcmd db upgrade`"
        )


def pending_changes(engine: Engine, history: History = FRAMEWORK_HISTORY) -> list[Any]:
    """Return the differences autogenerate would write between `history`'s models and the
    database."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts=_comparison(history))
        return list(compare_metadata(context, Base.metadata))


def new_revision(
    engine: Engine, message: str, autogenerate: bool, history: History = FRAMEWORK_HISTORY
) -> Path:
    """Write a new revision file into `history`'s folder, filled from its models when
    `autogenerate`, and return its path.

    Autogenerate compares the models with the database, so the database must be at
    the history's head; `SchemaBehindError` says so otherwise.
    """
    if autogenerate:
        ensure_current(engine, history)
    else:
        _refuse_unknown_place(engine, history)
    try:
        # Alembic narrates each step on stdout; `mailcmd db revision` says what it wrote.
        with contextlib.redirect_stdout(io.StringIO()):
            script = command.revision(
                alembic_config(engine, history),
                message=message,
                autogenerate=autogenerate,
                version_path=str(history.versions),
            )
    except CommandError as error:
        raise MigrationError(" ".join(str(error).split())) from None
    scripts = script if isinstance(script, list) else [script]
    if not scripts or scripts[0] is None:
        raise RuntimeError("Alembic wrote no revision")
    return Path(scripts[0].path)


def prepare_schema(engine: Engine, histories: Iterable[History] = (FRAMEWORK_HISTORY,)) -> None:
    """Make the schema usable for serving: on SQLite each history is upgraded in place, on
    PostgreSQL each is checked.

    An embedded SQLite database belongs to this process, so upgrading it is safe; a
    shared PostgreSQL database is upgraded only on the operator's word.
    """
    for history in histories:
        if is_sqlite(engine.url):
            upgrade(engine, history=history)
        else:
            ensure_current(engine, history)


def refuse_missing_tables(engine: Engine, history: History) -> None:
    """Raise `AppSchemaError` for a table `history`'s models declare that its revisions
    did not make, naming the module and the command that fixes it."""
    present = set(inspect(engine).get_table_names())
    for name in sorted(history.declared - present):
        place = TABLE_PLACES.get(name, name)
        raise AppSchemaError(
            f"{place}: table {name!r} is made by no revision in {history.versions}: run "
            f"`mailcmd db revision -m {name} --autogenerate`, then `mailcmd db upgrade`"
        )
