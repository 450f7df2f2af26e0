"""The Salmon peer: a Salmon 3.3 app doing the job of mailcmd's `tasks@` `add`.

It runs in a virtual environment of its own (`bench.peer` makes it), never in
mailcmd's: `python -m bench.salmon_app --port P --relay-port S --database FILE`.
Nothing here imports mailcmd or the rest of `bench`.
"""
