"""Tests of the imap layer."""
