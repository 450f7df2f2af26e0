"""mailcmd's own mailboxes (help@, confirm@): apps merged into every registry, names taken."""

from pathlib import Path

import pytest

from mailcmd.app.builtin_mailboxes import BUILTIN_APPS
from mailcmd.app.loading import load_registry
from mailcmd.app.registry import RegistrationError, builtin_mailbox_names
from mailcmd.app.resources import bundled_path

APPS = Path(__file__).resolve().parents[1] / "apps"


def test_the_builtin_mailboxes_are_help_and_confirm() -> None:
    assert builtin_mailbox_names() == {"help", "confirm"}
    assert all(mailbox.builtin for app in BUILTIN_APPS for mailbox in app.mailboxes.values())


@pytest.mark.parametrize("folder", [bundled_path("commands"), APPS / "lab"])
def test_every_loaded_registry_has_the_builtin_mailboxes(folder: Path) -> None:
    registry = load_registry(folder)

    for name in ("help", "confirm"):
        mailbox = registry.find(name)
        assert mailbox is not None
        assert mailbox.builtin
        assert mailbox.policy.auth == "public"


def test_an_app_without_mailboxes_still_answers_help_and_confirm(tmp_path: Path) -> None:
    assert set(load_registry(tmp_path).mailboxes) == {"help", "confirm"}


@pytest.mark.parametrize("name", ["help", "confirm", "HELP"])
def test_an_app_declaring_a_builtin_mailbox_is_refused_naming_its_file(
    tmp_path: Path, name: str
) -> None:
    module = tmp_path / f"takes_{name.lower()}.py"
    module.write_text(f"from mailcmd import MailApp\n\napp = MailApp()\napp.mailbox({name!r})\n")

    with pytest.raises(RegistrationError) as refused:
        load_registry(tmp_path)

    assert str(refused.value) == (
        f"{module}: {name.lower()!r} cannot be a mailbox name: mailcmd answers it"
    )
