"""The running process: the server that starts every part, the worker that claims stored
messages and runs their commands, and the scheduler that runs the app's jobs.
"""
