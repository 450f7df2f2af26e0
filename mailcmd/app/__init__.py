"""The app declaration: what an app author touches. Registering mailboxes and commands, their
contexts, templates, schedules and help; loading an app from its folder. Declaring only: no I/O.
"""
