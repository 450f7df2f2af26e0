"""What a local address means: its checked form, the domains it may be at, and the route
it resolves to (mailbox, plus-tag, signed reply key, confirmation tag) for RCPT and worker alike.
"""
