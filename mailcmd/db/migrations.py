"""Schema migrations with Alembic, configured in code: upgrade, inspect, check, new revisions."""

import io
import shutil
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine
from sqlalchemy.types import TypeDecorator

from mailcmd.db.engine import database_url, is_sqlite
from mailcmd.db.models import Base
from mailcmd.resources import bundled_path


class SchemaBehindError(Exception):
    """The database's schema is older than this mailcmd's; `mailcmd db upgrade` fixes it."""


def alembic_config(engine: Engine, migrations_dir: Path | None = None) -> Config:
    """Return an Alembic configuration for `engine` over the migrations folder."""
    # Alembic narrates to stdout; mailcmd's commands say what happened themselves.
    config = Config(stdout=io.StringIO())
    config.set_main_option("script_location", str(migrations_dir or bundled_path("migrations")))
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
        for hook, options in (("ruff_format", "format"), ("ruff_fix", "check --fix --quiet")):
            config.set_section_option("post_write_hooks", f"{hook}.type", "exec")
            config.set_section_option("post_write_hooks", f"{hook}.executable", ruff)
            config.set_section_option(
                "post_write_hooks", f"{hook}.options", f"{options} REVISION_SCRIPT_FILENAME"
            )
    return config


def configure_context(context: Any) -> None:
    """Run the migration the Alembic `context` asks for; called by `migrations/env.py`."""
    engine: Engine = context.config.attributes["engine"]
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=is_sqlite(engine.url),
            compare_type=True,
            compare_server_default=True,
            render_item=_render_item,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


def _render_item(kind: str, item: Any, autogen_context: Any) -> str | Literal[False]:
    # Migrations spell out the stored type, so they never import mailcmd's own types
    # and keep working when those change.
    if kind == "type" and isinstance(item, TypeDecorator):
        return f"sa.{item.impl_instance!r}"
    return False


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema of `engine`'s database up to `revision`."""
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema of `engine`'s database back to `revision` (`base`: no tables)."""
    command.downgrade(alembic_config(engine), revision)


def head_revision() -> str:
    """Return the newest revision the migrations folder holds."""
    script = ScriptDirectory(str(bundled_path("migrations")))
    head = script.get_current_head()
    if head is None:
        raise RuntimeError("the migrations folder holds no revision")
    return head


def current_revision(connection: Connection) -> str | None:
    """Return the revision the database is at, or None when it has never been migrated."""
    return MigrationContext.configure(connection).get_current_revision()


def ensure_current(engine: Engine) -> None:
    """Refuse a database whose schema is not at head, naming the command that fixes it."""
    with engine.connect() as connection:
        current = current_revision(connection)
    head = head_revision()
    if current != head:
        raise SchemaBehindError(
            f"the database schema is at {current or 'nothing (empty database)'}, "
            f"this mailcmd needs {head}: run `mailcmd db upgrade`"
        )


def pending_changes(engine: Engine) -> list[Any]:
    """Return the differences autogenerate would write between the models and the database."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": True, "compare_server_default": True},
        )
        return list(compare_metadata(context, Base.metadata))


def new_revision(engine: Engine, message: str, autogenerate: bool) -> Path:
    """Write a new revision file, filled from the models when `autogenerate`, and return it."""
    script = command.revision(alembic_config(engine), message=message, autogenerate=autogenerate)
    scripts = script if isinstance(script, list) else [script]
    if not scripts or scripts[0] is None:
        raise RuntimeError("Alembic wrote no revision")
    return Path(scripts[0].path)


def prepare_schema(engine: Engine) -> None:
    """Make the schema usable for serving: SQLite is upgraded in place, PostgreSQL is checked.

    An embedded SQLite database belongs to this process, so upgrading it is safe; a
    shared PostgreSQL database is upgraded only on the operator's word.
    """
    if is_sqlite(engine.url):
        upgrade(engine)
    else:
        ensure_current(engine)
