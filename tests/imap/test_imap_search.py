"""SEARCH and UID SEARCH over IMAP: flags, sets, headers, text, dates, sizes, NOT and OR."""

import imaplib

import pytest

from tests.imap_support import Connect, deliver
from tests.servers import RunningServer


def message(sender: str, subject: str, date: str, body: str, extra: str = "") -> bytes:
    return (
        f"From: {sender}\r\nTo: alice@app.localhost\r\nSubject: {subject}\r\n"
        f"Date: {date}\r\n{extra}MIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
        f"\r\n{body}\r\n"
    ).encode()


@pytest.fixture
def mailbox(imap_server: RunningServer, imap_connect: Connect) -> imaplib.IMAP4:
    """INBOX selected with three messages; 1 is \\Seen, 2 \\Flagged and \\Deleted."""
    deliver(
        imap_server,
        message("Bob <bob@example.org>", "Milk", "Mon, 02 Nov 2026 09:00:00 +0000", "Buy milk"),
    )
    deliver(
        imap_server,
        message(
            "Carol <carol@example.org>",
            "=?utf-8?q?Caf=C3=A9?= plans",
            "Tue, 10 Nov 2026 09:00:00 +0000",
            "Let us meet at the café " + "long " * 200,
            extra="X-Priority: 1\r\n",
        ),
    )
    deliver(
        imap_server,
        message("bob@example.org", "Bread", "Fri, 20 Nov 2026 09:00:00 +0000", "Buy bread"),
    )
    client = imap_connect()
    client.select("INBOX")
    client.store("1", "+FLAGS.SILENT", "\\Seen")
    client.store("2", "+FLAGS.SILENT", "(\\Flagged \\Deleted)")
    return client


def found(client: imaplib.IMAP4, *criteria: str, uid: bool = False) -> list[int]:
    if uid:
        typ, data = client.uid("SEARCH", *criteria)
    else:
        typ, data = client.search(None, *criteria)
    assert typ == "OK", data
    assert isinstance(data[0], bytes)
    return [int(number) for number in data[0].split()]


def test_search_by_flags(mailbox: imaplib.IMAP4) -> None:
    assert found(mailbox, "ALL") == [1, 2, 3]
    assert found(mailbox, "SEEN") == [1]
    assert found(mailbox, "UNSEEN") == [2, 3]
    assert found(mailbox, "FLAGGED") == [2]
    assert found(mailbox, "DELETED") == [2]
    assert found(mailbox, "UNDELETED") == [1, 3]
    assert found(mailbox, "ANSWERED") == []
    assert found(mailbox, "UNANSWERED") == [1, 2, 3]


def test_search_by_sequence_and_uid_sets(mailbox: imaplib.IMAP4) -> None:
    assert found(mailbox, "2:*") == [2, 3]
    assert found(mailbox, "UID", "1,3") == [1, 3]
    assert found(mailbox, "UID", "2:*", uid=True) == [2, 3]
    assert found(mailbox, "1", uid=True) == [1]


def test_search_by_headers_and_text(mailbox: imaplib.IMAP4) -> None:
    assert found(mailbox, "FROM", "bob") == [1, 3]
    assert found(mailbox, "FROM", '"Carol"') == [2]
    assert found(mailbox, "TO", "alice") == [1, 2, 3]
    assert found(mailbox, "SUBJECT", "bread") == [3]
    mailbox.literal = "CAFÉ".encode()  # imaplib sends 8-bit text as a literal
    assert mailbox.search("UTF-8", "SUBJECT") == ("OK", [b"2"])  # encoded words are decoded
    assert found(mailbox, "HEADER", "X-Priority", "1") == [2]
    assert found(mailbox, "HEADER", "X-Priority", '""') == [2]
    assert found(mailbox, "BODY", "milk") == [1]
    assert found(mailbox, "TEXT", "carol") == [2]
    assert found(mailbox, "TEXT", "buy") == [1, 3]


def test_search_by_dates_and_sizes(mailbox: imaplib.IMAP4) -> None:
    assert found(mailbox, "SENTBEFORE", "10-Nov-2026") == [1]
    assert found(mailbox, "SENTON", "10-Nov-2026") == [2]
    assert found(mailbox, "SENTSINCE", "10-Nov-2026") == [2, 3]
    assert found(mailbox, "SINCE", "1-Jan-2000") == [1, 2, 3]
    assert found(mailbox, "BEFORE", "1-Jan-2000") == []
    assert found(mailbox, "LARGER", "1000") == [2]
    assert found(mailbox, "SMALLER", "1000") == [1, 3]


def test_search_not_or_and_lists(mailbox: imaplib.IMAP4) -> None:
    assert found(mailbox, "NOT", "SEEN") == [2, 3]
    assert found(mailbox, "OR", "SEEN", "FLAGGED") == [1, 2]
    assert found(mailbox, "(FROM bob UNSEEN)") == [3]
    assert found(mailbox, "OR", "(SEEN)", "(SUBJECT bread)") == [1, 3]


def test_search_with_charset_utf8(mailbox: imaplib.IMAP4) -> None:
    typ, data = mailbox.search("UTF-8", "SUBJECT", "plans")
    assert (typ, data) == ("OK", [b"2"])
    typ, data = mailbox.search("KOI8-R", "SUBJECT", "plans")
    assert typ == "NO"
    assert data[0].startswith(b"[BADCHARSET")


def test_search_with_bad_syntax_is_bad(mailbox: imaplib.IMAP4) -> None:
    with pytest.raises(imaplib.IMAP4.error, match="BAD"):
        mailbox.search(None, "FROBNICATE")
    with pytest.raises(imaplib.IMAP4.error, match="BAD"):
        mailbox.search(None, "SINCE", "yesterday")
    assert mailbox.noop()[0] == "OK"
