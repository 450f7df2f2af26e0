"""The framework's history and the bundled app's: a database made before the split keeps its
tasks, a new one carries none of the app's tables until the app's history runs."""

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, inspect, text

from mailcmd.db import migrations
from mailcmd.db.engine import open_engine
from mailcmd.db.histories import History
from tests.conftest import bundled_app_history

# The framework's head before the bundled app's tables left its history.
BEFORE_THE_SPLIT = "0c7e3b9d2a41"
TASK_TABLES = {"tasks", "task_comments", "task_attachments", "task_shares", "task_digests"}


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on this test's empty database."""
    engine = open_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def tasks_app() -> History:
    """The bundled app's history."""
    return bundled_app_history()


def tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_a_database_from_before_the_split_keeps_its_tasks(
    engine: Engine, tasks_app: History
) -> None:
    migrations.upgrade(engine, BEFORE_THE_SPLIT)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO accounts (id, login, password_hash, roles, enabled, created_at)"
                " VALUES (1, 'alice@app.localhost', 'x', '[]', true, CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO tasks (id, owner_id, title, description, tags, priority, created_at)"
                " VALUES (9000000000, 1, 'Buy milk', '', '[]', 'high', CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO task_comments (task_id, author_id, text, created_at)"
                " VALUES (9000000000, 1, 'semi-skimmed', CURRENT_TIMESTAMP)"
            )
        )

    migrations.upgrade(engine)
    migrations.upgrade(engine, history=tasks_app)

    with engine.connect() as connection:
        task = connection.execute(text("SELECT id, title, priority FROM tasks")).one()
        comment = connection.execute(text("SELECT text FROM task_comments")).scalar_one()
        assert migrations.current_revision(connection, tasks_app) == migrations.head_revision(
            tasks_app
        )
    assert tuple(task) == (9000000000, "Buy milk", "high")
    assert comment == "semi-skimmed"
    assert migrations.pending_changes(engine) == []
    assert migrations.pending_changes(engine, tasks_app) == []


def test_a_new_database_has_none_of_the_apps_tables_until_the_app_upgrades(
    engine: Engine, tasks_app: History
) -> None:
    migrations.upgrade(engine)
    framework_only = tables(engine)
    migrations.upgrade(engine, history=tasks_app)

    assert framework_only.isdisjoint(TASK_TABLES)
    assert tables(engine) >= TASK_TABLES


def test_empty_task_tables_from_before_the_split_go_and_the_app_makes_them_again(
    engine: Engine, tasks_app: History
) -> None:
    migrations.upgrade(engine, BEFORE_THE_SPLIT)
    assert tables(engine) >= TASK_TABLES

    migrations.upgrade(engine)
    after_framework = tables(engine)
    migrations.upgrade(engine, history=tasks_app)

    assert after_framework.isdisjoint(TASK_TABLES)
    assert migrations.pending_changes(engine, tasks_app) == []


def test_the_framework_goes_down_past_the_split_and_up_again(
    engine: Engine, tasks_app: History
) -> None:
    migrations.upgrade(engine)
    migrations.upgrade(engine, history=tasks_app)
    migrations.downgrade(engine, "base", tasks_app)
    migrations.downgrade(engine, "base")

    assert tables(engine) <= {"alembic_version", "alembic_version_app"}

    migrations.upgrade(engine)
    migrations.upgrade(engine, history=tasks_app)
    assert migrations.pending_changes(engine) == []
    assert migrations.pending_changes(engine, tasks_app) == []
