"""Loading an app from its folder of command modules, and checking it before serving."""

import importlib.util
import logging
import sys
from pathlib import Path
from types import ModuleType

from mailcmd.app.builtin_mailboxes import BUILTIN_APPS, BUILTIN_PLACE
from mailcmd.app.registry import MailApp, RegistrationError, Registry
from mailcmd.app.rendering import Renderer, TemplateError
from mailcmd.app.resources import bundled_path
from mailcmd.db.database import Database
from mailcmd.db.histories import FRAMEWORK_HISTORY, History, app_history
from mailcmd.db.migrations import prepare_schema, refuse_missing_tables
from mailcmd.db.models import TABLE_PLACES, Base, TableNameError
from mailcmd.identity.accounts import served_addresses_owned
from mailcmd.imap.mailbox_names import canonical_name, name_problem
from mailcmd.imap.mailstore import DEFAULT_FOLDERS
from mailcmd.parsing import SignatureError

log = logging.getLogger(__name__)

# Command modules are imported under this prefix, never as a top-level `commands`
# package, so that an app's module names cannot clash with installed packages.
MODULE_PREFIX = "mailcmd_app_"


def load_registry(folder: Path) -> Registry:
    """Import every `*.py` in `folder` and merge the `MailApp`s they declare with mailcmd's
    own (`help@`, `confirm@`).

    Raises `RegistrationError` naming the file for a module that fails to import,
    and naming both places for a clash.
    """
    if not folder.is_dir():
        raise RegistrationError(f"commands folder {folder} does not exist")
    apps: list[tuple[str, MailApp]] = [(BUILTIN_PLACE, app) for app in BUILTIN_APPS]
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        module = _import(path)
        apps += [
            (f"{path}:{name}", value)
            for name, value in vars(module).items()
            if isinstance(value, MailApp)
        ]
    return Registry.merge(apps)


def template_folders(app_templates: Path) -> list[Path]:
    """The folders templates are looked up in: the app's, then the bundled one."""
    bundled = bundled_path("templates")
    folders = [app_templates]
    if app_templates.resolve() != bundled.resolve():
        folders.append(bundled)
    return folders


def check_templates(registry: Registry, renderer: Renderer) -> None:
    """Refuse to start if a command names a template that does not exist."""
    for command in registry.commands():
        if command.template is not None:
            _require_template(renderer, command.template, command.place)


def check_folders(registry: Registry, renderer: Renderer) -> None:
    """Refuse to start if an app folder has a name a folder cannot have, one of every
    account's own folders (INBOX, Sent, ...), a template that does not exist, or an
    action that is not a command of its mailbox."""
    own = {name.upper() for name in DEFAULT_FOLDERS}
    for folder in registry.folders:
        problem = name_problem(folder.name)
        if problem is None and canonical_name(folder.name).split("/")[0].upper() in own:
            problem = "every account has that folder of its own"
        if problem is not None:
            raise RegistrationError(f"{folder.place}: folder {folder.name!r}: {problem}")
        _require_template(renderer, folder.template, folder.place)
        commands = registry.mailboxes[folder.mailbox].commands
        for line in folder.actions.commands():
            verb = line.split(maxsplit=1)[0].lower() if line.strip() else ""
            if verb not in commands:
                raise RegistrationError(
                    f"{folder.place}: folder {folder.name!r}: {line!r} is not a command of"
                    f" {folder.mailbox}@ (its commands: {', '.join(sorted(commands)) or 'none'})"
                )


def _require_template(renderer: Renderer, template: str, place: str) -> None:
    """Refuse to start if `template`, named at `place`, does not exist or does not load."""
    try:
        found = renderer.exists(template)
    except TemplateError as error:
        raise RegistrationError(f"{place}: {error}") from None
    if not found:
        raise RegistrationError(
            f"{place}: template {template!r} not found (looked for {template}.txt)"
        )


def check_account_addresses(registry: Registry, database: Database) -> None:
    """Refuse to start if an account owns an address the app or mailcmd answers on."""
    with database.sessions() as session:
        clashes = served_addresses_owned(session, registry.mailboxes)
    if clashes:
        raise RegistrationError(
            f"accounts own {', '.join(clashes)}, which the app or mailcmd answers itself:"
            " delete those accounts or rename the mailbox"
        )


def schema_histories(commands: Path, migrations: Path) -> list[History]:
    """Return the histories of the schema, in upgrade order: mailcmd's, then the app's in
    `commands` (its modules loaded) if it keeps tables or revisions in `migrations`."""
    load_registry(commands)
    app = app_history(commands, migrations)
    return [FRAMEWORK_HISTORY] if app is None else [FRAMEWORK_HISTORY, app]


def prepare_app_schema(commands: Path, migrations: Path, database: Database) -> None:
    """Make the loaded app's tables usable, as `open_database` does mailcmd's: upgraded on
    SQLite, checked on PostgreSQL; every table the app declares must then exist."""
    history = app_history(commands, migrations)
    if history is not None:
        prepare_schema(database.engine, [history])
        refuse_missing_tables(database.engine, history)


def _import(path: Path) -> ModuleType:
    name = MODULE_PREFIX + path.stem
    loaded = sys.modules.get(name)
    file = getattr(loaded, "__file__", None)
    if loaded is not None and file is not None and Path(file).resolve() == path.resolve():
        # Models declared at import time cannot be declared twice in one process.
        return loaded
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise RegistrationError(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    tables_before = set(Base.metadata.tables)
    try:
        spec.loader.exec_module(module)
    except (RegistrationError, SignatureError, TableNameError) as error:
        _forget(name, tables_before)
        raise RegistrationError(f"{path}: {error}") from None
    except Exception as error:
        _forget(name, tables_before)
        # The one-line error names file and exception; the traceback is for debugging.
        log.debug("importing %s failed", path, exc_info=True)
        raise RegistrationError(f"{path}: import failed: {type(error).__name__}: {error}") from None
    # Which module declared a table decides which history owns it, and names it in errors.
    for table in set(Base.metadata.tables) - tables_before:
        TABLE_PLACES[table] = str(path.resolve())
    return module


def _forget(module: str, tables_before: set[str]) -> None:
    # A module that failed half-way leaves nothing behind to clash with its next import.
    del sys.modules[module]
    for table in set(Base.metadata.tables) - tables_before:
        Base.metadata.remove(Base.metadata.tables[table])
        TABLE_PLACES.pop(table, None)
