"""Outbound mail: what a command or a job produces, made into stored or queued mail, and sent.

`mails` renders what handlers return into `OutgoingMail` (with the links and the
Reply-To that act for its recipient); `composing` turns it into bytes, pure and
fast; `queueing` delivers it to a local INBOX in the caller's transaction or queues
it in the outbox for the relay, counted for the hourly limits. Three modules of one
job each: composing is pure and tested without a database, queueing owns the
statements, and mails the rendering and signing of links between them.

Then the way out: `delivery` takes the outbox (`outbox`) to local INBOXes and to the
relay (`relay`), DKIM-signed (`signing`, `dkim`); `auto_reply_rules` says when mail may
be answered automatically at all (RFC 3834).
"""
