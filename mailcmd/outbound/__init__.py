"""The one outbound path: what a command or a job produces, made into stored or queued mail.

`mails` renders what handlers return into `OutgoingMail` (with the links and the
Reply-To that act for its recipient); `composing` turns it into bytes, pure and
fast; `queueing` delivers it to a local INBOX in the caller's transaction or queues
it in the outbox for the relay, counted for the hourly limits. Three modules of one
job each: composing is pure and tested without a database, queueing owns the
statements, and mails the rendering and signing of links between them.
"""

from mailcmd.outbound.composing import (
    MAX_REFERENCES,
    ComposedMail,
    compose,
    header_text,
    reply_subject,
)
from mailcmd.outbound.mails import (
    OutgoingMail,
    Owner,
    answer_mail,
    links_for,
    notification_mail,
    render_reply,
    reply_limit_notice,
)
from mailcmd.outbound.queueing import (
    deliver_locally,
    queue_mail,
    queue_outgoing,
)

__all__ = [
    "MAX_REFERENCES",
    "ComposedMail",
    "OutgoingMail",
    "Owner",
    "answer_mail",
    "compose",
    "deliver_locally",
    "header_text",
    "links_for",
    "notification_mail",
    "queue_mail",
    "queue_outgoing",
    "render_reply",
    "reply_limit_notice",
    "reply_subject",
]
