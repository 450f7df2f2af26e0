"""What every listening socket shares, whatever protocol it speaks: TLS, binding a group of
listeners, and a small HTTP listener.
"""
