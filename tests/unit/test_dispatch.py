"""Dispatch without a server: what a message asks for, decided from its subject and body."""

from datetime import date

import pytest

from mailcmd import Context, MailApp, Sender
from mailcmd.app.builtin_mailboxes.help import mailbox as help_mailbox
from mailcmd.app.dispatch import (
    MAX_COMMAND_LINES,
    CommandRefused,
    HelpRequest,
    Plan,
    plan_for,
)
from mailcmd.app.registry import Registry

TODAY = date(2026, 3, 6)  # a Friday
ALICE = Sender(address="alice@app.example", account_id=1, login="alice@app.example")
ADMIN = Sender(address="root@app.example", account_id=2, roles=frozenset({"admin"}))
STRANGER = Sender(address="someone@example.net")


def build_registry() -> Registry:
    app = MailApp()
    tasks = app.mailbox("tasks", help="Your to-do list")

    @tasks.command("add")
    def add(ctx: Context, title: str, due: date | None = None, urgent: bool = False) -> None:
        """Add a task."""

    @tasks.command("done", tag="number")
    def done(ctx: Context, number: int) -> None:
        """Mark a task done."""

    @tasks.command("purge", roles=["admin"])
    def purge(ctx: Context) -> None:
        """Delete every finished task."""

    @tasks.default(tag="number")
    def comment(ctx: Context, number: int) -> None:
        """Comment on the task whose reply is answered."""

    units = app.mailbox("units", auth="public")

    @units.command("convert")
    def convert(ctx: Context, amount: float, unit: str) -> None:
        """Convert an amount."""

    echo = app.mailbox("echo", auth="public")

    @echo.default()
    def repeat(ctx: Context) -> None:
        """Say the message back."""

    return Registry.merge([("test", app)])


REGISTRY = build_registry()


def plan(
    address: str, subject: str, body: str = "", sender: Sender = ALICE, tag: str | None = None
) -> Plan:
    mailbox = REGISTRY.find(address)
    assert mailbox is not None
    return plan_for(mailbox, tag, subject, body, sender, TODAY)


def invocations(result: Plan) -> list[tuple[str, dict[str, object]]]:
    assert isinstance(result, list), result
    return [(invocation.command.verb, invocation.arguments) for invocation in result]


def refusal(result: Plan) -> CommandRefused:
    assert isinstance(result, CommandRefused), result
    return result


def test_a_subject_invokes_its_verb_with_arguments_converted_to_their_types() -> None:
    result = plan("tasks", "add Buy oat milk --due tomorrow --urgent")

    assert invocations(result) == [
        ("add", {"title": "Buy oat milk", "due": date(2026, 3, 7), "urgent": True})
    ]


def test_the_invocation_carries_the_registered_handler_and_the_line_that_asked() -> None:
    result = plan("units", "convert 3.5 km", sender=STRANGER)

    assert isinstance(result, list)
    [invocation] = result
    assert invocation.command is REGISTRY.mailboxes["units"].commands["convert"]
    assert invocation.command.function.__name__ == "convert"
    assert invocation.arguments == {"amount": 3.5, "unit": "km"}
    assert invocation.line == "convert 3.5 km"
    assert not invocation.from_body


def test_verbs_ignore_case_and_reply_prefixes_are_stripped() -> None:
    assert invocations(plan("tasks", "Re: Fwd: DONE 3")) == [("done", {"number": 3})]


def test_an_empty_subject_runs_every_body_line_up_to_the_sign_off() -> None:
    body = "add Buy milk\n\ndone 2\nThanks!\nadd Not a command\n"

    result = plan("tasks", "", body)

    assert invocations(result) == [
        ("add", {"title": "Buy milk", "due": None, "urgent": False}),
        ("done", {"number": 2}),
    ]
    assert isinstance(result, list)
    assert all(invocation.from_body for invocation in result)


def test_body_lines_stop_at_quoted_text() -> None:
    body = "done 1\n> add something quoted\n"

    assert invocations(plan("tasks", "commands", body)) == [("done", {"number": 1})]


def test_a_mistake_in_a_later_body_line_runs_nothing_and_names_the_line() -> None:
    result = refusal(plan("tasks", "", "add Buy milk\ndone soon\n"))

    assert result.message.startswith("line 'done soon': ")
    assert result.usage == ("done NUMBER",)


def test_more_body_lines_than_allowed_are_refused_before_any_is_read() -> None:
    body = "done 1\n" * (MAX_COMMAND_LINES + 1)

    result = refusal(plan("tasks", "", body))

    assert result.message == (
        f"at most {MAX_COMMAND_LINES} commands in one message, got {MAX_COMMAND_LINES + 1}"
    )


def test_an_unknown_verb_suggests_the_closest_one_and_lists_usable_commands() -> None:
    result = refusal(plan("tasks", "ad Buy milk"))

    assert result.message == "tasks@ has no command 'ad'. Did you mean 'add'?"
    # purge needs a role alice does not have, so she is not shown it.
    assert result.usage == ("add TITLE [--due DATE] [--urgent]", "done NUMBER")


def test_a_bad_argument_is_refused_with_the_commands_usage() -> None:
    result = refusal(plan("tasks", "done first"))

    assert "first" in result.message
    assert result.usage == ("done NUMBER",)
    assert result.command is REGISTRY.mailboxes["tasks"].commands["done"]


def test_an_unclosed_quote_is_refused_without_running_anything() -> None:
    assert "quote" in refusal(plan("tasks", 'add "Buy milk')).message


def test_a_stranger_is_told_the_command_needs_an_account_and_why_they_are_not_one() -> None:
    stranger = Sender(address="bob@example.net", unverified="Your mail failed DMARC.")

    result = refusal(plan("tasks", "add Buy milk", sender=stranger))

    assert result.message == (
        "add needs an account: log in to send it, or send it from an address an account "
        "owns. Your mail failed DMARC."
    )
    assert not result.quotes_input


def test_an_account_without_the_role_is_told_which_role_is_missing() -> None:
    result = refusal(plan("tasks", "purge"))

    assert result.message == "purge needs the role admin, which you do not have."


def test_an_account_with_the_role_may_run_the_command() -> None:
    assert invocations(plan("tasks", "purge", sender=ADMIN)) == [("purge", {})]


def test_a_public_mailbox_serves_strangers() -> None:
    assert invocations(plan("units", "convert 2 mi", sender=STRANGER)) == [
        ("convert", {"amount": 2.0, "unit": "mi"})
    ]


@pytest.mark.parametrize(
    ("subject", "body"),
    [("anything at all", ""), ("help add", ""), ("", "hello\nthere\n"), ("Re: Help", "add x")],
)
def test_mail_to_the_help_address_runs_its_one_command_whatever_it_says(
    subject: str, body: str
) -> None:
    result = plan_for(help_mailbox, None, subject, body, STRANGER, TODAY)

    assert invocations(result) == [("", {})]


def test_help_with_a_verb_asks_for_that_verbs_help() -> None:
    result = plan("tasks", "help ADD")

    assert result == HelpRequest(mailbox=REGISTRY.mailboxes["tasks"], verb="add")


def test_an_empty_message_to_a_mailbox_without_a_usable_default_is_a_help_request() -> None:
    assert plan("tasks", "") == HelpRequest(mailbox=REGISTRY.mailboxes["tasks"], verb=None)


def test_a_help_line_in_the_body_is_a_help_request() -> None:
    assert plan("tasks", "", "help done\n") == HelpRequest(
        mailbox=REGISTRY.mailboxes["tasks"], verb="done"
    )


def test_an_answer_to_a_plus_address_reaches_the_default_command_with_the_tag() -> None:
    result = plan("tasks", "Re: Task 42 added: Buy milk", "Oat milk, please.", tag="42")

    assert invocations(result) == [("", {"number": 42})]


ANSWER = "Re: Task 42 added: Buy milk"


@pytest.mark.parametrize("line", ["done", "Done", "  DONE  ", "done --number 42"])
def test_an_answer_whose_first_line_is_a_command_runs_it_with_the_tag(line: str) -> None:
    result = plan("tasks", ANSWER, f"{line}\n\n> Task 42: Buy milk\n", tag="42")

    assert invocations(result) == [("done", {"number": 42})]
    assert isinstance(result, list)
    assert result[0].from_body


@pytest.mark.parametrize(
    "text",
    [
        "Done with this one, thanks",
        "Done.",
        "done!",
        "done 4 5",
        "Purge it all",
        "Help me with this one",
        "Two bottles.\ndone",
        'Done "with quotes',
    ],
)
def test_an_answer_whose_first_line_is_not_a_whole_command_is_text_for_the_default(
    text: str,
) -> None:
    result = plan("tasks", ANSWER, text, tag="42")

    assert invocations(result) == [("", {"number": 42})]


def test_several_command_lines_in_an_answer_run_in_order() -> None:
    result = plan("tasks", ANSWER, "done\nadd Buy bread --urgent\nThanks!\nadd Not this", tag="42")

    assert invocations(result) == [
        ("done", {"number": 42}),
        ("add", {"title": "Buy bread", "due": None, "urgent": True}),
    ]


def test_an_answer_with_a_command_line_then_prose_runs_nothing_and_names_the_line() -> None:
    result = refusal(plan("tasks", ANSWER, "done\nBought it at the corner shop.", tag="42"))

    assert result.message.startswith("line 'Bought it at the corner shop.': tasks@ has no command")


def test_a_command_line_in_an_answer_that_the_sender_may_not_use_is_refused() -> None:
    result = refusal(plan("tasks", ANSWER, "purge", tag="42"))

    assert result.message == "line 'purge': purge needs the role admin, which you do not have."


@pytest.mark.parametrize(("line", "verb"), [("help", None), ("help done", "done")])
def test_help_as_the_first_line_of_an_answer_is_a_help_request(line: str, verb: str) -> None:
    result = plan("tasks", ANSWER, line, tag="42")

    assert isinstance(result, HelpRequest)
    assert result.verb == verb


def test_a_new_mail_to_a_plus_address_is_text_for_the_default_even_if_it_reads_as_one() -> None:
    # Not an answer: the subject is no command, so the body is the default's text.
    assert invocations(plan("tasks", "About the milk", "done", tag="42")) == [("", {"number": 42})]


def test_without_a_tag_an_unknown_subject_is_an_unknown_verb_not_the_default() -> None:
    result = refusal(plan("tasks", "Task 42 added"))

    assert result.message.startswith("tasks@ has no command 'task'.")


def test_an_answer_without_a_command_in_its_subject_runs_the_lines_of_its_body() -> None:
    # `body` is the sender's new text: the worker has removed the attribution line.
    result = plan("tasks", "Re: Your tasks", "done 4\n\n> 4. Buy milk\n")

    assert invocations(result) == [("done", {"number": 4})]


def test_a_default_command_without_a_tag_answers_any_subject() -> None:
    result = plan("echo", "whatever you like", sender=STRANGER)

    assert invocations(result) == [("", {})]


@pytest.mark.parametrize("subject", ["", "commands", "Re: "])
def test_an_empty_invocation_with_no_body_reaches_a_mailboxs_default(subject: str) -> None:
    assert invocations(plan("echo", subject, sender=STRANGER)) == [("", {})]


def test_an_unknown_body_line_is_a_mistake_even_where_a_default_exists() -> None:
    result = refusal(plan("echo", "", "shout hello\n", sender=STRANGER))

    assert result.message == "line 'shout hello': echo@ has no command 'shout'."
