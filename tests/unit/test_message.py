"""The message view: headers, body text from any client, the new text of a reply, files.

Sample messages in tests/messages/ are stored with LF line ends to be readable;
`load` gives them the CR LF that SMTP delivers.
"""

import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailcmd.message import MessageView, parse_message
from mailcmd.message.defects import MAX_DEFECTS, Defects
from mailcmd.message.flowed import decode_flowed
from mailcmd.message.html_text import html_to_text
from mailcmd.message.parts import MAX_FILENAME
from mailcmd.message.quotes import new_text

MESSAGES = Path(__file__).parents[1] / "messages"


def load(name: str) -> bytes:
    return (MESSAGES / name).read_bytes().replace(b"\n", b"\r\n")


def parse(name: str) -> MessageView:
    return parse_message(load(name))


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


def html_part(name: str) -> str:
    html = parse(name).message.get_body(("html",))
    assert isinstance(html, EmailMessage)
    return str(html.get_content())


# Headers


def test_headers_of_a_reply_are_decoded() -> None:
    view = parse("thunderbird-flowed.eml")

    assert view.subject == "Re: Task 42: Buy milk"
    assert view.sender_name == "Alice Example"
    assert view.message_id == "<5c1d3e2a-8f4b-4c2e-9d1a-2b3c4d5e6f70@App.Example>"
    assert view.in_reply_to == "<reply-42@app.example>"
    assert view.references == ("<task-42@app.example>", "<reply-42@app.example>")
    assert view.date == datetime(2026, 11, 28, 9, 15, tzinfo=UTC)
    assert view.defects == ()


def test_sender_domain_is_lower_cased_and_local_part_kept() -> None:
    assert parse("thunderbird-flowed.eml").sender == "alice@app.example"
    assert parse("german-reply.eml").sender == "Juergen.Mueller@example.de"


def test_encoded_words_in_subject_and_name_are_decoded() -> None:
    view = parse("german-reply.eml")

    assert view.subject == "AW: Aufgabe 42: Milch kaufen für München"
    assert view.sender_name == "Jürgen Müller"


def test_folded_subject_is_unfolded() -> None:
    view = parse_message(b"Subject: add a task whose title\r\n  is folded\r\n\r\nx")

    assert view.subject == "add a task whose title is folded"


def test_utf8_headers_are_read_as_rfc_6532_allows() -> None:
    view = parse_message("From: Jürgen <jürgen@bücher.example>\r\nSubject: Grüße\r\n\r\n".encode())

    assert (view.subject, view.sender_name, view.sender) == (
        "Grüße",
        "Jürgen",
        "jürgen@bücher.example",
    )
    assert view.defects == ()


def test_eight_bit_headers_that_are_not_utf8_are_read_as_windows_1252() -> None:
    view = parse_message(b"Subject: Gr\xfc\xdfe\r\n\r\nbody")

    assert view.subject == "Grüße"
    assert view.defects == ("Subject: raw 8-bit characters that are not UTF-8",)


@pytest.mark.parametrize(
    "field",
    ["", "From: not an address\r\n", "From: undisclosed-recipients:;\r\n", "From: <>\r\n"],
    ids=["absent", "no-address", "empty-group", "null-address"],
)
def test_sender_without_a_usable_address_is_none(field: str) -> None:
    assert parse_message(f"{field}Subject: x\r\n\r\nbody".encode()).sender is None


def test_first_of_several_from_addresses_is_the_sender() -> None:
    view = parse_message(b"From: a@example.org, b@example.org\r\n\r\nx")

    assert view.sender == "a@example.org"
    assert "From: 2 addresses; the first is the sender" in view.defects


def test_encoded_line_breaks_cannot_inject_header_fields() -> None:
    view = parse_message(
        b"Subject: =?utf-8?q?add_x=0D=0ABcc:_victim@example.com?=\r\n"
        b"From: =?utf-8?q?Eve=0D=0ABcc:_x?= <eve@example.com>\r\n\r\nx"
    )

    assert view.subject == "add x Bcc: victim@example.com"
    assert view.sender_name == "Eve Bcc: x"
    assert view.sender == "eve@example.com"


def test_message_ids_keep_their_angle_brackets() -> None:
    view = parse_message(b"Message-ID: abc@example.org\r\nIn-Reply-To: Bob's <x@y> (c)\r\n\r\n")

    assert view.message_id == "<abc@example.org>"
    assert view.in_reply_to == "<x@y>"


def test_loop_prevention_fields_are_read_in_lower_case() -> None:
    view = parse_message(
        b"Auto-Submitted: Auto-Replied\r\nPrecedence: BULK\r\n"
        b"List-Id: Tasks <tasks.app.example>\r\n\r\n"
    )

    assert view.auto_submitted == "auto-replied"
    assert view.precedence == "bulk"
    assert view.list_id == "Tasks <tasks.app.example>"


def test_absent_fields_are_empty() -> None:
    view = parse_message(b"\r\nbody")

    assert view.subject == ""
    assert view.sender_name == ""
    assert (view.sender, view.message_id, view.in_reply_to, view.date) == (None,) * 4
    assert (view.auto_submitted, view.precedence, view.list_id) == (None,) * 3
    assert view.references == ()


def test_date_without_a_zone_is_taken_as_utc() -> None:
    view = parse_message(b"Date: Sat, 28 Nov 2026 10:00:00 -0000\r\n\r\nx")

    assert view.date == datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def test_date_keeps_its_offset() -> None:
    date = parse("gmail-reply.eml").date

    assert date is not None
    assert date.utcoffset() == timedelta(hours=1)


def test_unreadable_date_is_none_and_noted() -> None:
    view = parse_message(b"Date: Sat, 99 Foo 99999 99:99:99 +9999\r\n\r\nx")

    assert view.date is None
    assert view.defects == ("Date: unreadable",)


# format=flowed


def test_flowed_soft_breaks_are_joined() -> None:
    text = parse("thunderbird-flowed.eml").text

    assert (
        "done — and this sentence is long enough that Thunderbird wrapped it at the "
        "seventy-second column, so it arrives as lines that must be joined again.\n"
    ) in text


def test_flowed_space_stuffing_is_removed() -> None:
    assert "\nFrom now on, remind me a day earlier.\n" in parse("thunderbird-flowed.eml").text


def test_flowed_quoted_paragraphs_are_joined_under_one_quote_mark() -> None:
    assert (
        '> Task 42 is due tomorrow. Reply with "done" when it is finished, or with a new '
        "date to move it.\n"
    ) in parse("thunderbird-flowed.eml").text


def test_flowed_delsp_yes_deletes_the_space_of_soft_breaks() -> None:
    raw = crlf(
        "Content-Type: text/plain; charset=utf-8; format=flowed; DelSp=yes\n\n"
        "Donaudampfschifffahrts \ngesellschaft, \nplease.\n"
    )

    assert parse_message(raw).text == "Donaudampfschifffahrtsgesellschaft,please."


def test_flowed_lines_join_only_within_one_quote_depth() -> None:
    text = ">> deep and \n>> deeper \n> shallow \n> too\nown \ntext"

    assert decode_flowed(text) == ">> deep and deeper \n> shallow too\nown text"


def test_flowed_signature_separator_is_never_a_soft_break() -> None:
    assert decode_flowed("Regards, \n-- \nAlice") == "Regards, \n-- \nAlice"


def test_text_without_format_flowed_keeps_its_line_breaks() -> None:
    raw = crlf("Content-Type: text/plain\n\nline one \nline two\n")

    assert parse_message(raw).text == "line one\nline two"


# Choosing and decoding the body


def test_plain_text_is_preferred_in_multipart_alternative() -> None:
    text = parse("gmail-reply.eml").text

    assert text.startswith('Done. Please add "Buy bread" too.\n\nOn Sat, Nov 28, 2026')
    assert "gmail_quote" not in text


def test_html_only_mail_becomes_readable_text() -> None:
    assert parse("html-only.eml").text == (
        "Hello team & friends — please:\n"
        "\n"
        "- add Buy milk\n"
        "- add Buy bread\n"
        "\n"
        "1. first\n"
        "2. second\n"
        "\n"
        "See task 42 (https://app.example/tasks/42) or write to help@app.example.\n"
        "\n"
        "line one\n"
        "line two\n"
        "\n"
        "> quoted paragraph\n"
        ">\n"
        ">> deeper\n"
        "\n"
        "café €5 <tag>"
    )


def test_html_scripts_styles_and_head_are_dropped() -> None:
    html = "<html><head><title>t</title><style>b{}</style></head><body>hi<script>x()</script>"

    assert html_to_text(html) == "hi"


def test_html_links_keep_their_target_unless_it_is_shown() -> None:
    html = (
        '<a href="https://a.example/x">the page</a> '
        '<a href="https://a.example/y">https://a.example/y</a> '
        '<a href="javascript:alert(1)">script</a>'
    )

    assert html_to_text(html) == "the page (https://a.example/x) https://a.example/y script"


def test_html_consecutive_line_breaks_make_a_blank_line() -> None:
    html = "<div>one</div><div><br></div><div>two<br></div><p>three</p>"

    assert html_to_text(html) == "one\n\ntwo\n\nthree"


def test_html_preformatted_text_keeps_its_lines_and_spaces() -> None:
    assert html_to_text("<pre>a  b\n  c</pre>after") == "a  b\n  c\n\nafter"


def test_html_quote_nesting_is_bounded() -> None:
    text = html_to_text("<blockquote>" * 1000 + "deep")

    assert text == ">" * 16 + " deep"


def test_nested_multiparts_are_searched_for_the_plain_text() -> None:
    mail = EmailMessage()
    mail.set_content("the plain words\n")
    mail.add_alternative("<p>the html words</p>", subtype="html")
    html = mail.get_body(("html",))
    assert isinstance(html, EmailMessage)
    html.add_related(b"\x89PNG", maintype="image", subtype="png", cid="<logo@x>")
    mail.add_attachment(b"%PDF", maintype="application", subtype="pdf", filename="a.pdf")

    view = parse_message(mail.as_bytes())

    assert view.text == "the plain words"
    assert [a.content_type for a in view.attachments] == ["image/png", "application/pdf"]


def test_text_split_around_an_inline_image_is_joined() -> None:
    raw = crlf(
        "Content-Type: multipart/mixed; boundary=b\n\n"
        "--b\nContent-Type: text/plain\n\nadd Fix the door\n"
        "--b\nContent-Type: image/jpeg\nContent-Disposition: inline\n\nJPEG\n"
        "--b\nContent-Type: text/plain\n\nadd Paint it\n--b--\n"
    )
    view = parse_message(raw)

    assert view.text == "add Fix the door\nadd Paint it"
    assert [a.content_type for a in view.attachments] == ["image/jpeg"]


def test_forwarded_message_is_an_attachment_not_the_body() -> None:
    raw = crlf(
        "Content-Type: multipart/mixed; boundary=b\n\n"
        "--b\nContent-Type: text/plain\n\nsee below\n"
        "--b\nContent-Type: message/rfc822\n\nFrom: x@example.org\nSubject: old\n\nold body\n"
        "--b--\n"
    )
    view = parse_message(raw)

    assert view.text == "see below"
    assert [(a.content_type, a.data) for a in view.attachments] == [
        ("message/rfc822", b"From: x@example.org\r\nSubject: old\r\n\r\nold body")
    ]


def test_body_charset_and_transfer_encoding_are_decoded() -> None:
    assert parse("german-reply.eml").text.startswith(
        "Erledigt. Bitte verschiebe die nächste Aufgabe auf Montag.\n\nViele Grüße\nJürgen"
    )


def test_line_ends_are_normalised_and_trailing_spaces_stripped() -> None:
    raw = b"Subject: x\r\n\r\n\r\n  first \r\nsecond\t\rthird\n\r\n"

    assert parse_message(raw).text == "  first\nsecond\nthird"


def test_control_characters_are_removed_from_the_text() -> None:
    raw = b"Content-Type: text/plain\r\n\r\nhel\x00lo \x1b[31mred\ttab\r\n"

    assert parse_message(raw).text == "hello [31mred\ttab"


@pytest.mark.parametrize(
    "raw",
    [
        b"From: a@example.org\r\nSubject: no body",
        b"From: a@example.org\r\nSubject: blank body\r\n\r\n\r\n   \r\n",
        crlf(
            "Content-Type: multipart/mixed; boundary=b\n\n"
            "--b\nContent-Type: application/pdf\n\n%PDF\n--b--\n"
        ),
    ],
    ids=["headers-only", "blank", "attachment-only"],
)
def test_message_without_a_body_has_empty_text(raw: bytes) -> None:
    view = parse_message(raw)

    assert (view.text, view.new_text) == ("", "")


# The new text of a reply


def test_thunderbird_reply_keeps_the_answer_below_the_quote() -> None:
    assert parse("thunderbird-flowed.eml").new_text == (
        "done — and this sentence is long enough that Thunderbird wrapped it at the "
        "seventy-second column, so it arrives as lines that must be joined again.\n"
        "From now on, remind me a day earlier."
    )


def test_apple_mail_reply_drops_the_quote() -> None:
    assert (
        parse("apple-mail-reply.eml").new_text == "Done, thanks \u2013 move the next one to Monday."
    )


def test_gmail_reply_drops_the_wrapped_attribution_and_quote() -> None:
    assert parse("gmail-reply.eml").new_text == 'Done. Please add "Buy bread" too.'


def test_gmail_html_reply_drops_the_quote() -> None:
    assert new_text(html_to_text(html_part("gmail-reply.eml"))) == (
        'Done. Please add "Buy bread" too.'
    )


def test_outlook_reply_drops_the_old_message_and_the_trailer() -> None:
    assert parse("outlook-reply.eml").new_text == "Done, see you Monday.\n\nAlice"


def test_outlook_html_reply_drops_the_header_block() -> None:
    assert new_text(html_to_text(html_part("outlook-reply.eml"))) == (
        "Done, see you Monday.\n\nAlice"
    )


def test_german_reply_drops_the_quote() -> None:
    assert parse("german-reply.eml").new_text == (
        "Erledigt. Bitte verschiebe die nächste Aufgabe auf Montag.\n\nViele Grüße\nJürgen"
    )


@pytest.mark.parametrize(
    "quoted",
    [
        "On 28 Nov 2026, at 10:00, Bob <bob@example.org> wrote:\n\n> old",
        "On Sat, Nov 28, 2026 at 10:00 AM Bob Example <\nbob@example.org> wrote:\n\n> old",
        "On Sat, Nov 28, 2026 at 10:00 AM Bob Example <bob@example.org>\nwrote:\n\n> old",
        "Am 28.11.2026 um 10:00 schrieb Bob <bob@example.org>:\n> alt",
        "Am Sa., 28. Nov. 2026 um 10:00 Uhr schrieb Bob <bob@example.org>:\n> alt",
        "Le sam. 28 nov. 2026 à 10:00, Bob <bob@example.org> a écrit :\n> vieux",
        "El sáb, 28 nov 2026 a las 10:00, Bob (<bob@example.org>) escribió:\n> viejo",
        "Bob <bob@example.org> wrote:\n> old",
        "-----Original Message-----\nFrom: Bob\nSent: Saturday\nold",
        "-----Ursprüngliche Nachricht-----\nVon: Bob\nGesendet: Samstag\nalt",
        "________________________________\nFrom: Bob <bob@example.org>\nSent: Saturday\nold",
        "From: Bob <bob@example.org>\nSent: Saturday, 28 November 2026 10:00\nTo: t\nold",
        "*From:* Bob <bob@example.org>\n*Date:* Sat, Nov 28, 2026\nold",
        "Von: Bob <bob@example.org>\nGesendet: Samstag, 28. November 2026 10:00\nalt",
        "De : Bob <bob@example.org>\nEnvoyé : samedi 28 novembre 2026 10:00\nvieux",
        "---------- Forwarded message ---------\nFrom: Bob\nold",
        "Begin forwarded message:\n\nFrom: Bob\nold",
    ],
    ids=[
        "apple",
        "gmail-wrapped-address",
        "gmail-wrapped-wrote",
        "german-thunderbird",
        "german-gmail",
        "french",
        "spanish",
        "name-wrote",
        "outlook-original",
        "outlook-original-german",
        "outlook-rule",
        "outlook-headers",
        "gmail-text-headers",
        "outlook-headers-german",
        "outlook-headers-french",
        "gmail-forward",
        "apple-forward",
    ],
)
def test_attributions_and_separators_of_common_clients_end_the_new_text(quoted: str) -> None:
    assert new_text(f"Done, thanks.\n\n{quoted}\n> more old text") == "Done, thanks."


def test_answers_between_quotes_are_kept() -> None:
    text = (
        "On 28/11/2026 10:00, Bob wrote:\n"
        "> Shall I buy milk?\n"
        "Yes, two litres.\n"
        "\n"
        "> And bread?\n"
        "No.\n"
    )

    assert new_text(text) == "Yes, two litres.\n\nNo."


def test_attribution_over_an_unmarked_old_message_ends_the_new_text() -> None:
    text = "Done\n\nOn Saturday, November 28, 2026, 10:00 AM GMT+1, Bob <b@x> wrote:\n\nold"

    assert new_text(text) == "Done"


def test_loose_attribution_without_a_quote_is_the_senders_text() -> None:
    text = "This is what I wrote:\nadd milk"

    assert new_text(text) == text


def test_line_above_an_attribution_is_not_taken_for_part_of_it() -> None:
    assert new_text("Thanks!\nBob <bob@example.org> wrote:\n> old") == "Thanks!"
    assert new_text("On Monday we meet.\nOn Sat, Bob wrote:\n> old") == "On Monday we meet."


def test_signature_is_dropped() -> None:
    assert new_text("add milk\n\n--\nAlice\nACME Inc.") == "add milk"


@pytest.mark.parametrize(
    "trailer",
    [
        "Sent from my iPhone",
        "Sent from my Galaxy",
        "Get Outlook for iOS<https://aka.ms/o0ukef>",
        "Sent from Mail for Windows",
        "Von meinem iPhone gesendet",
        "Envoyé de mon iPad",
        "Enviado desde mi iPhone",
    ],
)
def test_mobile_trailers_at_the_end_are_dropped(trailer: str) -> None:
    assert new_text(f"add milk\n\n{trailer}\n\n> On Sat, Bob wrote:\n> old") == "add milk"


def test_text_without_quote_or_marker_loses_only_trailer_and_blank_runs() -> None:
    text = "\n\nadd milk  \n\n\n\nadd eggs\n\nSent from my iPhone\n\n"
    assert new_text(text) == "add milk\n\nadd eggs"


def test_trailer_words_within_the_text_are_kept() -> None:
    assert new_text("Sent from my iPhone\nadd milk") == "Sent from my iPhone\nadd milk"


def test_lists_thanks_and_indentation_are_the_senders_text() -> None:
    text = "add these:\n- milk\n- eggs\nThanks, that was quick\n    indented note"

    assert new_text(text) == text


def test_runs_of_blank_lines_become_one() -> None:
    assert new_text("\n\nadd milk\n\n\n\nadd eggs\n\n") == "add milk\n\nadd eggs"


# Attachments


def test_rfc2231_non_ascii_filename_is_decoded() -> None:
    pdf = parse("attachment-rfc2231.eml").attachments[0]

    assert pdf.filename == "Übersicht März 2026.pdf"
    assert pdf.content_type == "application/pdf"
    assert pdf.data == "%PDF-1.4\n%äüöß\n".encode()
    assert pdf.content_id is None


def test_encoded_word_filename_is_decoded_and_content_id_kept() -> None:
    image = parse("attachment-rfc2231.eml").attachments[1]

    assert (image.filename, image.content_type) == ("Grüße.png", "image/png")
    assert image.content_id == "<part1.Gr5sse@app.example>"


def test_attachments_do_not_touch_the_body() -> None:
    assert parse("attachment-rfc2231.eml").text == "The report is attached."


def test_filenames_lose_paths_controls_and_leading_dots() -> None:
    view = parse("attachment-traversal.eml")

    assert [a.filename for a in view.attachments] == [
        "evil",
        "evil.dll",
        "secret.txt",
        "invoicefdp.exe",
        "evil.bat",
        None,
    ]
    assert view.text == "See attached."


def test_long_filename_is_cut_keeping_its_extension() -> None:
    mail = EmailMessage()
    mail.set_content("x")
    mail.add_attachment(b"x", maintype="application", subtype="pdf", filename="a" * 400 + ".pdf")

    name = parse_message(mail.as_bytes()).attachments[0].filename

    assert name == "a" * (MAX_FILENAME - 4) + ".pdf"


def test_text_file_with_a_name_is_an_attachment_not_the_body() -> None:
    mail = EmailMessage()
    mail.set_content("the body\n")
    mail.add_attachment("a,b\n1,2\n", subtype="csv", filename="data.csv", disposition="inline")
    mail.add_attachment("notes\n", filename="notes.txt", disposition="inline")

    view = parse_message(mail.as_bytes())

    assert view.text == "the body"
    assert [(a.filename, a.data) for a in view.attachments] == [
        ("data.csv", b"a,b\n1,2\n"),
        ("notes.txt", b"notes\n"),
    ]


def test_non_text_part_without_a_name_is_an_attachment() -> None:
    raw = crlf(
        "Content-Type: multipart/mixed; boundary=b\n\n"
        "--b\nContent-Type: text/plain\n\nhi\n"
        "--b\nContent-Type: text/calendar; method=REQUEST\n\nBEGIN:VCALENDAR\n"
        "--b\nContent-Type: application/octet-stream\n\nbytes\n--b--\n"
    )

    attachments = parse_message(raw).attachments

    assert [(a.filename, a.content_type) for a in attachments] == [
        (None, "text/calendar"),
        (None, "application/octet-stream"),
    ]


def test_undecodable_base64_attachment_yields_its_best_bytes() -> None:
    raw = crlf(
        "Content-Type: multipart/mixed; boundary=b\n\n"
        "--b\nContent-Type: text/plain\n\nhi\n"
        "--b\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n"
        "Content-Disposition: attachment; filename=a.pdf\n\nJVBE*Ri0xLjQKJ\n--b--\n"
    )

    view = parse_message(raw)

    assert view.attachments[0].data == b"%PDF-1.4\n"
    assert "part 2: InvalidBase64LengthDefect" in view.defects


# Malformed mail


@pytest.mark.parametrize(
    "raw",
    [
        b"Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n\r\nnever closed",
        b"Content-Type: multipart/mixed\r\n\r\n--zz\r\n\r\nno boundary parameter\r\n--zz--",
        b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n!!not base64!!",
        b"Content-Type: text/plain; charset=x-no-such-charset\r\n\r\nhello",
        b"Content-Type: text/plain; charset=base64\r\n\r\nhello",
        b"From: \xff\xfe broken <\xff@\xfe>\r\nSubject: \xe9t\xe9\r\n\r\nbody",
        b"Subject: =?utf-8?q?bad=ZZ?= =?x-unknown?q?a=E9?= =?utf-8?b?!!!?=\r\n\r\n",
        b"From: " + b"(" * 5000 + b"a@example.org\r\n\r\nx",
        b"Content-Type: ;;;;\r\nContent-Disposition: attachment; filename*=x''%ZZ\r\n\r\nhi",
        b"Content-Type: text/plain\r\nContent-Transfer-Encoding: x-weird\r\n\r\nhi",
        b"Content-Type: text/html\r\n\r\n<p>open <a href='x'>link <![if !mso]> &#xD800; <script",
        b"Content-Type: text/plain; charset=utf-16\r\n\r\n\x00\xd8\x00",
        b"",
        bytes(range(256)) * 4,
    ],
    ids=[
        "no-closing-boundary",
        "no-boundary-parameter",
        "bad-base64",
        "unknown-charset",
        "charset-not-a-text-codec",
        "8bit-headers",
        "bad-encoded-words",
        "nested-comments",
        "garbage-content-type",
        "unknown-transfer-encoding",
        "broken-html",
        "lone-surrogate",
        "empty",
        "binary",
    ],
)
def test_malformed_mail_parses_without_raising(raw: bytes) -> None:
    view = parse_message(raw)

    for text in (view.subject, view.sender_name, view.text, view.new_text):
        text.encode("utf-8")  # no lone surrogates reach the database


def test_text_after_a_missing_closing_boundary_is_kept() -> None:
    view = parse_message(
        b"Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n"
        b"Content-Type: text/plain\r\n\r\nnever closed"
    )

    assert view.text == "never closed"
    assert view.defects == ("message: CloseBoundaryNotFoundDefect",)


def test_text_that_is_not_base64_is_read_as_it_came() -> None:
    raw = b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\nadd milk!\r\n"
    view = parse_message(raw)

    assert view.text == "add milk!"
    assert "message: declared base64 but is not; read as it came" in view.defects


def test_unknown_charset_is_read_as_utf8_and_noted() -> None:
    view = parse_message(b"Content-Type: text/plain; charset=x-klingon\r\n\r\ncaf\xc3\xa9 \xff")

    assert view.text == "café \ufffd"
    assert view.defects == ("message: unknown charset 'x-klingon', read as UTF-8",)


def test_multipart_without_a_boundary_is_read_as_text() -> None:
    view = parse_message(b"Content-Type: multipart/mixed\r\n\r\nadd milk\r\n")

    assert view.text == "add milk"
    assert view.attachments == ()
    assert "message: NoBoundaryInMultipartDefect" in view.defects


def test_mime_nested_past_the_parsers_limit_is_read_as_header_only() -> None:
    parts = "".join(
        f"--b{i}\r\nContent-Type: multipart/mixed; boundary=b{i + 1}\r\n\r\n" for i in range(2000)
    )
    raw = f"Subject: deep\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n{parts}".encode()

    view = parse_message(raw)

    assert (view.subject, view.text) == ("deep", "")
    assert view.defects == ("message: MIME parts nested too deeply; only the header is read",)


@pytest.mark.parametrize(
    "field",
    [
        b"Content-Type: text/plain; " + b";" * 65536,
        b'Content-Type: text/plain; name="' + b'"' * 65536,
        b"From: " + b'"' * 65536,
        b"Subject: " + b"=?utf-8?q?abc?= " * 20000,
    ],
    ids=["content-type-semicolons", "content-type-quotes", "from-quotes", "subject"],
)
def test_enormous_header_fields_are_cut_and_parse_quickly(field: bytes) -> None:
    # Unbounded, each of these keeps the stdlib's header parser busy for a minute or more.
    started = time.monotonic()

    view = parse_message(field + b"\r\n\r\nbody")

    assert time.monotonic() - started < 10
    assert view.text == "body"


def test_defect_notes_are_bounded() -> None:
    defects = Defects()
    for index in range(MAX_DEFECTS + 5):
        defects.add("part", str(index))

    notes = defects.notes()

    assert len(notes) == MAX_DEFECTS + 1
    assert notes[-1] == "and 5 more"


def test_view_holds_the_parsed_message_outside_comparison() -> None:
    first, second = parse("gmail-reply.eml"), parse("gmail-reply.eml")

    assert isinstance(first.message, EmailMessage)
    assert first.message is not second.message
    assert first == second
