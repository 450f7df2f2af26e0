"""The mailbox server: each account's folders and messages (the mail store), and the IMAP
server a mail client reads them from.
"""
