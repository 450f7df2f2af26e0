"""The app: `tasks@` routed by Salmon, `add TITLE` from the subject, one insert, a reply.

The same job as mailcmd's bundled `tasks@` `add`: the task is one SQLAlchemy
insert committed on SQLite in WAL mode with `synchronous=FULL` (what mailcmd's
250 promises), the reply is rendered with Jinja2 and relayed by SMTP.
"""

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from salmon.mail import MailRequest, MailResponse
from salmon.routing import route, stateless
from salmon.server import Relay
from sqlalchemy import String, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

TEMPLATES = Path(__file__).resolve().parent / "templates"
TITLE_LENGTH = 200


class Base(DeclarativeBase):
    """The app's tables."""


class Task(Base):
    """One task, as mailcmd's tasks app keeps its title, owner and creation time."""

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(TITLE_LENGTH))
    owner: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime]


def open_engine(path: Path) -> Engine:
    """An engine on the SQLite file `path`, WAL and `synchronous=FULL`, the table created."""
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _durable(connection: sqlite3.Connection, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    Base.metadata.create_all(engine)
    return engine


class Tasks:
    """The `add` command: a task stored, and a reply relayed to its sender."""

    def __init__(self, engine: Engine, relay: Relay, domain: str) -> None:
        """Store tasks with `engine`, send replies through `relay` as `tasks@domain`."""
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._relay = relay
        self._address = f"tasks@{domain}"
        # HTML templates would be escaped; the plain-text reply is not, as mailcmd's.
        environment = Environment(
            loader=FileSystemLoader(TEMPLATES),
            undefined=StrictUndefined,
            autoescape=select_autoescape(["html"]),
        )
        self._template = environment.get_template("added.txt")

    def handle(self, message: MailRequest) -> None:
        """Run the command in the subject of `message`; anything but `add TITLE` is dropped."""
        verb, _, title = (message["Subject"] or "").strip().partition(" ")
        if verb.lower() != "add" or not title.strip():
            return
        task = Task(
            title=title.strip()[:TITLE_LENGTH], owner=message.From, created_at=datetime.now(UTC)
        )
        with self._sessions.begin() as session:
            session.add(task)
        reply = MailResponse(
            To=message.From,
            From=self._address,
            Subject=f"Task {task.id} added: {task.title}",
            Body=self._template.render(task=task),
        )
        answered = message["Message-ID"]
        if answered:
            reply["In-Reply-To"] = answered
            reply["References"] = answered
        reply["Auto-Submitted"] = "auto-replied"
        self._relay.deliver(reply)


def route_tasks(tasks: Tasks, domain: str) -> None:
    """Register the `tasks@domain` route with Salmon's router."""

    @route("tasks@(host)", host=domain.replace(".", r"\.") + "$")
    @stateless
    def START(message: MailRequest, host: str | None = None) -> None:
        tasks.handle(message)
