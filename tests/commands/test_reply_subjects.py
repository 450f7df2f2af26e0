"""Subjects as a person sees them in the inbox: cut between words, the rest in the text."""

from mailcmd.testing import MailTestClient
from tests.conftest import ALICE

TASKS = "tasks@app.localhost"
REFUSED = "nothing to add: write above the quoted text, or put a command in the subject"


def test_a_long_refusal_is_cut_between_words_in_the_subject_and_whole_in_the_text(
    mail: MailTestClient,
) -> None:
    mail.send(TASKS, "add Buy milk")

    refused = mail.send(
        mail.reply_address("tasks", 1, login=ALICE), "Re: Task 1 added: Buy milk", "> quoted only"
    )

    assert refused.reply["Subject"] == (
        "Not done: nothing to add: write above the quoted text, or put a\u2026"
    )
    assert f"Nothing was done: {REFUSED}" in " ".join(refused.reply_text.split())


def test_a_short_refusal_keeps_its_subject_whole(mail: MailTestClient) -> None:
    refused = mail.send(TASKS, "show 7")

    assert refused.reply["Subject"] == "Not done: you have no task 7"


def test_a_long_title_in_another_script_reads_back_whole_in_the_subject(
    mail: MailTestClient,
) -> None:
    title = "Frühstück für das Team: Brötchen, Käse, Äpfel und Kaffee bestellen " * 2

    added = mail.send(TASKS, f"add {title.strip()}")

    assert added.reply["Subject"] == f"Task 1 added: {title.strip()}"
