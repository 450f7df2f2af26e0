"""FETCH over IMAP: flags, dates, sizes, ENVELOPE, BODYSTRUCTURE, body sections and \\Seen."""

import imaplib

import pytest

from tests.imap_support import MESSAGE, Connect, deliver
from tests.servers import RunningServer

REPORT = (
    b'From: "Bob Example" <bob@example.org>\r\n'
    b'To: alice@app.localhost, "Carol" <carol@example.org>\r\n'
    b"Cc: dave@example.org\r\n"
    b"Subject: =?utf-8?q?Caf=C3=A9?= report\r\n"
    b"Date: Tue, 01 Dec 2026 10:00:00 +0000\r\n"
    b"Message-ID: <report@example.org>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="outer"\r\n'
    b"\r\n"
    b"preamble\r\n"
    b"--outer\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Hello Alice.\r\n"
    b"--outer\r\n"
    b'Content-Type: text/csv; name="data.csv"\r\n'
    b'Content-Disposition: attachment; filename="data.csv"\r\n'
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"YSxiCjEsMgo=\r\n"
    b"--outer\r\n"
    b"Content-Type: message/rfc822\r\n"
    b"\r\n"
    b"From: carol@example.org\r\n"
    b"Subject: Inner\r\n"
    b"\r\n"
    b"Inner body.\r\n"
    b"--outer--\r\n"
)


def fetched(client: imaplib.IMAP4, numbers: str, items: str, uid: bool = False) -> bytes:
    """FETCH's answer as one byte string, literals inline after their `{n}`."""
    if uid:
        typ, data = client.uid("FETCH", numbers, items)
    else:
        typ, data = client.fetch(numbers, items)
    assert typ == "OK", data
    joined = b""
    for part in data:
        if isinstance(part, tuple):
            joined += part[0] + b"\r\n" + part[1]
        elif part is not None:
            joined += part + b"\n"
    return joined


@pytest.fixture
def report(imap_server: RunningServer, imap_connect: Connect) -> imaplib.IMAP4:
    """A client with INBOX selected: message 1 is MESSAGE, message 2 is REPORT."""
    deliver(imap_server, MESSAGE)
    deliver(imap_server, REPORT)
    client = imap_connect()
    client.select("INBOX")
    return client


def test_fetch_flags_uid_size_and_internal_date(report: imaplib.IMAP4) -> None:
    answer = fetched(report, "1:*", "(FLAGS UID RFC822.SIZE INTERNALDATE)")

    assert b"1 (FLAGS () UID 1 RFC822.SIZE %d INTERNALDATE " % len(MESSAGE) in answer
    assert b"2 (FLAGS () UID 2 RFC822.SIZE %d INTERNALDATE " % len(REPORT) in answer
    assert b'+0000"' in answer


def test_fetch_macros(report: imaplib.IMAP4) -> None:
    fast = fetched(report, "1", "FAST")
    full = fetched(report, "1", "FULL")

    assert b"FLAGS" in fast
    assert b"RFC822.SIZE" in fast
    assert b"ENVELOPE" not in fast
    assert b"ENVELOPE" in full
    assert b"BODY (" in full


def test_envelope_has_raw_header_values_and_split_addresses(report: imaplib.IMAP4) -> None:
    answer = fetched(report, "2", "ENVELOPE")

    assert answer.startswith(
        b'2 (ENVELOPE ("Tue, 01 Dec 2026 10:00:00 +0000" "=?utf-8?q?Caf=C3=A9?= report" '
        b'(("Bob Example" NIL "bob" "example.org")) '
        b'(("Bob Example" NIL "bob" "example.org")) '
        b'(("Bob Example" NIL "bob" "example.org")) '
        b'((NIL NIL "alice" "app.localhost")("Carol" NIL "carol" "example.org")) '
        b'((NIL NIL "dave" "example.org")) NIL NIL "<report@example.org>"))'
    )


def test_bodystructure_of_a_multipart_with_attachment_and_message(
    report: imaplib.IMAP4,
) -> None:
    answer = fetched(report, "2", "BODYSTRUCTURE")

    assert b'("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 12 1 NIL NIL NIL NIL)' in answer
    assert (
        b'("TEXT" "CSV" ("NAME" "data.csv" "CHARSET" "US-ASCII") NIL NIL "BASE64" 12 1 NIL '
        b'("ATTACHMENT" ("FILENAME" "data.csv")) NIL NIL)'
    ) in answer
    assert b'("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 54 (NIL "Inner" ' in answer
    assert answer.endswith(b' "MIXED" ("BOUNDARY" "outer") NIL NIL NIL))\n')


def test_bodystructure_of_a_single_part_message(report: imaplib.IMAP4) -> None:
    answer = fetched(report, "1", "BODYSTRUCTURE")
    body = fetched(report, "1", "BODY")

    assert answer == (
        b'1 (BODYSTRUCTURE ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 20 1 '
        b"NIL NIL NIL NIL))\n"
    )
    assert body == b'1 (BODY ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 20 1))\n'


def test_header_fields_and_header_fields_not(report: imaplib.IMAP4) -> None:
    fields = fetched(report, "2", "BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]")
    others = fetched(report, "2", "BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT FROM CONTENT-TYPE)]")

    chosen = (
        b'From: "Bob Example" <bob@example.org>\r\nSubject: =?utf-8?q?Caf=C3=A9?= report\r\n\r\n'
    )
    assert fields == b"2 (BODY[HEADER.FIELDS (SUBJECT FROM)] {%d}\r\n%s)\n" % (
        len(chosen),
        chosen,
    )
    assert b"Subject:" not in others
    assert b"Message-ID: <report@example.org>\r\n" in others
    assert b"Content-Type" not in others


def test_header_text_and_whole_message(report: imaplib.IMAP4) -> None:
    header = fetched(report, "1", "BODY.PEEK[HEADER]")
    text = fetched(report, "1", "BODY.PEEK[TEXT]")
    whole = fetched(report, "1", "BODY.PEEK[]")
    rfc822 = fetched(report, "1", "RFC822.HEADER")

    head, _, body = MESSAGE.partition(b"\r\n\r\n")
    assert header == b"1 (BODY[HEADER] {%d}\r\n" % (len(head) + 4) + head + b"\r\n\r\n)\n"
    assert text == b"1 (BODY[TEXT] {%d}\r\n" % len(body) + body + b")\n"
    assert whole == b"1 (BODY[] {%d}\r\n" % len(MESSAGE) + MESSAGE + b")\n"
    assert rfc822 == b"1 (RFC822.HEADER {%d}\r\n" % (len(head) + 4) + head + b"\r\n\r\n)\n"


def test_part_numbers_mime_headers_and_embedded_message(report: imaplib.IMAP4) -> None:
    first = fetched(report, "2", "BODY.PEEK[1]")
    mime = fetched(report, "2", "BODY.PEEK[2.MIME]")
    attachment = fetched(report, "2", "BODY.PEEK[2]")
    inner_header = fetched(report, "2", "BODY.PEEK[3.HEADER]")
    inner_text = fetched(report, "2", "BODY.PEEK[3.TEXT]")
    inner_part = fetched(report, "2", "BODY.PEEK[3.1]")
    missing = fetched(report, "2", "BODY.PEEK[9]")

    assert first == b"2 (BODY[1] {12}\r\nHello Alice.)\n"
    header = REPORT.split(b"--outer\r\n")[2].split(b"\r\n\r\n")[0] + b"\r\n\r\n"
    assert mime == b"2 (BODY[2.MIME] {%d}\r\n%s)\n" % (len(header), header)
    assert attachment == b"2 (BODY[2] {12}\r\nYSxiCjEsMgo=)\n"
    assert inner_header == (
        b"2 (BODY[3.HEADER] {43}\r\nFrom: carol@example.org\r\nSubject: Inner\r\n\r\n)\n"
    )
    assert inner_text == b"2 (BODY[3.TEXT] {11}\r\nInner body.)\n"
    assert inner_part == b"2 (BODY[3.1] {11}\r\nInner body.)\n"
    assert missing == b"2 (BODY[9] {0}\r\n)\n"


def test_partial_fetch(report: imaplib.IMAP4) -> None:
    start = fetched(report, "1", "BODY.PEEK[]<0.4>")
    middle = fetched(report, "1", "BODY.PEEK[TEXT]<5.6>")
    beyond = fetched(report, "1", "BODY.PEEK[TEXT]<5000.10>")

    assert start == b"1 (BODY[]<0> {4}\r\nFrom)\n"
    assert middle == b"1 (BODY[TEXT]<5> {6}\r\nsaying)\n"
    assert beyond == b"1 (BODY[TEXT]<5000> {0}\r\n)\n"


def test_body_without_peek_sets_seen_and_peek_does_not(report: imaplib.IMAP4) -> None:
    peek = fetched(report, "1", "BODY.PEEK[TEXT]")
    flags_after_peek = fetched(report, "1", "FLAGS")
    read = fetched(report, "1", "BODY[TEXT]")
    flags_after_read = fetched(report, "1", "FLAGS")
    rfc822 = fetched(report, "2", "RFC822")

    assert b"FLAGS" not in peek
    assert flags_after_peek == b"1 (FLAGS ())\n"
    assert b"FLAGS (\\Seen)" in read
    assert flags_after_read == b"1 (FLAGS (\\Seen))\n"
    assert b"RFC822 {%d}" % len(REPORT) in rfc822
    assert b"FLAGS (\\Seen)" in rfc822


def test_examine_fetch_does_not_set_seen(imap_server: RunningServer, imap_connect: Connect) -> None:
    deliver(imap_server)
    client = imap_connect()
    client.select("INBOX", readonly=True)

    fetched(client, "1", "BODY[TEXT]")

    assert fetched(client, "1", "FLAGS") == b"1 (FLAGS ())\n"


def test_sequence_sets_and_uid_fetch(report: imaplib.IMAP4) -> None:
    star = fetched(report, "*", "UID")
    backwards = fetched(report, "2:1", "UID")
    by_uid = fetched(report, "2:*", "FLAGS", uid=True)
    beyond = fetched(report, "5:*", "FLAGS", uid=True)
    listed = fetched(report, "1,2", "UID", uid=True)

    assert star == b"2 (UID 2)\n"
    assert backwards == b"1 (UID 1)\n2 (UID 2)\n"
    assert by_uid == b"2 (UID 2 FLAGS ())\n"
    # n:* always names the message with the highest UID.
    assert beyond == b"2 (UID 2 FLAGS ())\n"
    assert listed == b"1 (UID 1)\n2 (UID 2)\n"


def test_fetch_of_a_number_beyond_the_mailbox_is_bad(report: imaplib.IMAP4) -> None:
    with pytest.raises(imaplib.IMAP4.error, match="BAD"):
        report.fetch("7", "FLAGS")
    with pytest.raises(imaplib.IMAP4.error, match="BAD"):
        report.fetch("1", "(NONSENSE)")
    assert fetched(report, "99", "FLAGS", uid=True) == b""
