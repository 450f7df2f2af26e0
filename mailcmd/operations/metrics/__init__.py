"""What an operator scrapes: the metrics (`instruments`), queue depths, health, and their listener.

Kept apart so that the pipeline's modules import only `instruments`, the one place
each metric is defined.
"""
