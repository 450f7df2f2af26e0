"""Declares notes@ again: a clash with first.py."""

from mailcmd import MailApp

app = MailApp()
notes = app.mailbox("notes")
