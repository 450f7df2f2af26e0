"""Declares notes@ again: a clash with first.py."""

from mailcmd.app import MailApp

app = MailApp()
notes = app.mailbox("notes")
